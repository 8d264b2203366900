//! Redis URLs as users write them for real endpoints: the address, and everything else a
//! connection needs — the scheme (`rediss://` is TLS), the credentials (`redis://:PASS@host`,
//! `redis://USER:PASS@host`, an ACL user), the database (`/3`) and options (`?ca_file=`,
//! `#insecure`).
//!
//! ```text
//! redis://127.0.0.1:6379                     no AUTH, no TLS
//! redis://:s3cret@127.0.0.1:6379/0           AUTH s3cret (requirepass)
//! redis://app:s3cret@127.0.0.1:6379          AUTH app s3cret (ACL user)
//! rediss://:s3cret@cache.example:6380/?ca_file=/etc/ca.pem
//!                                            TLS, the server's certificate checked against the
//!                                            CA in ca_file (default: the system's roots)
//! rediss://127.0.0.1:6380/#insecure          TLS without checking the certificate
//! ```
//!
//! Each role connects to its own address (the server or the role's fault proxy, see
//! [`crate::conn::RoleAddrs`]); [`RedisAccess`] is the rest of the URL, put back around each of
//! those addresses by [`RedisAccess::url`]. A certificate is checked against the host the client
//! connects to, so behind a local fault proxy it must name 127.0.0.1 (or use `#insecure`).
//!
//! Credentials never leave this module in text meant for people: [`RedisAccess::shown`] and
//! [`redact`] replace the password with `***`, and `Debug` prints no credentials.

use std::fmt;

/// Everything in a Redis URL but the host and port.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisAccess {
    /// `rediss://`: the connection is TLS.
    pub tls: bool,
    /// `user:password`, `:password` or `user`, as written (percent-encoded).
    userinfo: Option<String>,
    /// `/db?options#fragment`, as written ("" for none).
    tail: String,
}

impl fmt::Debug for RedisAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAccess")
            .field("tls", &self.tls)
            .field("userinfo", &self.userinfo.as_ref().map(|_| "***"))
            .field("tail", &self.tail)
            .finish()
    }
}

impl RedisAccess {
    /// The whole URL for `host:port` with this access, for the redis crate only: it carries
    /// the password, so it is never printed (see [`RedisAccess::shown`]).
    pub fn url(&self, host: &str, port: u16) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        let auth = match &self.userinfo {
            Some(u) => format!("{u}@"),
            None => String::new(),
        };
        let tail = if self.tail.is_empty() {
            "/"
        } else {
            &self.tail
        };
        format!("{scheme}://{auth}{host}:{port}{tail}")
    }

    /// The URL for people: the password replaced by `***`.
    pub fn shown(&self, host: &str, port: u16) -> String {
        redact(&self.url(host, port))
    }

    /// Whether the URL sends AUTH.
    pub fn has_credentials(&self) -> bool {
        self.userinfo.is_some()
    }

    /// The `ca_file` option: a PEM file of the CAs the server's certificate is checked against.
    pub fn ca_file(&self) -> Option<String> {
        option(&self.tail, "ca_file")
    }
}

/// Parses `redis[s]://[user][:password@]host[:port][/db][?ca_file=PATH][#insecure]` into the
/// host, the port (default 6379) and the rest. Errors name the problem, never the URL.
pub fn parse(url: &str) -> Result<(String, u16, RedisAccess), String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("redis://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("rediss://") {
        (true, r)
    } else {
        return Err("must start with redis:// or rediss://".into());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            // Not quoted: in a URL whose `@` is missing, this is the password.
            p.parse().map_err(|_| {
                "bad port: not a number from 1 to 65535 (fix: redis://[USER]:PASSWORD@HOST:PORT/DB)"
                    .to_string()
            })?,
        ),
        None => (hostport.to_string(), 6379),
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let access = RedisAccess {
        tls,
        userinfo: userinfo.filter(|u| !u.is_empty()),
        tail: tail.to_string(),
    };
    if let Some(ca) = access.ca_file() {
        if !tls {
            return Err("ca_file needs TLS (fix: use rediss://)".into());
        }
        if std::fs::metadata(&ca).is_err() {
            return Err(format!(
                "ca_file `{ca}` cannot be read (fix: give a PEM file of the server's CA)"
            ));
        }
    }
    Ok((host, port, access))
}

/// A client for a URL in any of the forms [`parse`] takes; `ca_file` is read here.
pub fn client(url: &str) -> redis::RedisResult<redis::Client> {
    let ca = parse(url).ok().and_then(|(_, _, a)| a.ca_file());
    match ca {
        Some(path) => {
            let root = std::fs::read(&path).map_err(|e| {
                redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "cannot read ca_file",
                    format!("{path}: {e}"),
                ))
            })?;
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root),
                },
            )
        }
        None => redis::Client::open(url),
    }
}

/// `url` with its password (if any) replaced by `***`; text that is not a Redis URL unchanged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{masked}@{hostport}{tail}")
        }
        None => url.to_string(),
    }
}

/// The value of `name=` in the URL tail's `?query` (up to `#`).
fn option(tail: &str, name: &str) -> Option<String> {
    let query = tail.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_credentials_and_options_around_each_address() {
        let (h, p, a) = parse("redis://app:s%40cret@cache:7000/2").unwrap();
        assert_eq!((h.as_str(), p), ("cache", 7000));
        assert_eq!(
            a.url("127.0.0.1", 41),
            "redis://app:s%40cret@127.0.0.1:41/2"
        );
        assert_eq!(a.shown("127.0.0.1", 41), "redis://app:***@127.0.0.1:41/2");
        assert!(!format!("{a:?}").contains("cret"));
        let (_, p, a) = parse("redis://:pw@h").unwrap();
        assert_eq!(p, 6379);
        assert_eq!(a.url("h", 1), "redis://:pw@h:1/");
        assert_eq!(a.shown("h", 1), "redis://:***@h:1/");
        let (_, _, a) = parse("rediss://h:6380/#insecure").unwrap();
        assert!(a.tls && !a.has_credentials());
        assert_eq!(a.url("x", 2), "rediss://x:2/#insecure");
        let (_, _, a) = parse("redis://h:1").unwrap();
        assert_eq!(a, RedisAccess::default());
    }

    #[test]
    fn rejects_bad_urls_without_echoing_them() {
        assert!(parse("http://h").is_err());
        assert!(parse("redis://:pw@").unwrap_err().contains("no host"));
        let e = parse("redis://:pw@h/?ca_file=/x").unwrap_err();
        assert!(e.contains("rediss://") && !e.contains("pw"), "{e}");
        let e = parse("rediss://:pw@h/?ca_file=/no/such/file").unwrap_err();
        assert!(e.contains("cannot be read") && !e.contains("pw"), "{e}");
        assert_eq!(redact("mysql://u:p@h:1/db"), "mysql://u:***@h:1/db");
        assert_eq!(redact("no url"), "no url");
    }
}
