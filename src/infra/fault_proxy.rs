//! Which fault proxy server a local stack starts, and starting it: the real Toxiproxy
//! (`toxiproxy-server`) or cachecheck's built-in one (`cachecheck proxy-server`).
//!
//! * `[infra] proxy = "auto"` (the default): the real one when found, else the built-in one;
//! * `proxy = "toxiproxy"`: the real one, or a one-line error naming the fix;
//! * `proxy = "builtin"`: the built-in one, even when a real one is installed.
//!
//! The real one is `$CACHECHECK_TOXIPROXY` when set (a path to `toxiproxy-server`; a path that
//! is not an executable file is an error, never a silent fallback), else `toxiproxy-server` on
//! PATH.

use super::process::{find_binary, free_port, ManagedProcess};
use super::InfraError;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The environment variable naming the `toxiproxy-server` binary.
pub const TOXIPROXY_ENV: &str = "CACHECHECK_TOXIPROXY";

/// `[infra] proxy`: which fault proxy server a local stack starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyChoice {
    /// The real Toxiproxy when found, else the built-in server.
    #[default]
    Auto,
    /// cachecheck's own server (`cachecheck proxy-server`).
    Builtin,
    /// The real Toxiproxy; an error when it cannot be found.
    Toxiproxy,
}

/// The server a choice resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyBinary {
    /// A `toxiproxy-server` at this path.
    Toxiproxy(PathBuf),
    /// This binary's `proxy-server` subcommand.
    Builtin,
}

fn missing_toxiproxy() -> InfraError {
    InfraError::MissingBinary {
        what: "toxiproxy-server".into(),
        fix: format!(
            "install Toxiproxy 2.x (a release binary from github.com/Shopify/toxiproxy) on PATH, \
             set {TOXIPROXY_ENV}=/path/to/toxiproxy-server, or set [infra] proxy = \"builtin\""
        ),
    }
}

fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolves `choice` against `$CACHECHECK_TOXIPROXY` (`env`) and PATH.
pub fn resolve(choice: ProxyChoice, env: Option<&std::ffi::OsStr>) -> Result<ProxyBinary> {
    if choice == ProxyChoice::Builtin {
        return Ok(ProxyBinary::Builtin);
    }
    let found = match env.filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            if !is_executable_file(&path) {
                return Err(InfraError::MissingBinary {
                    what: format!("{TOXIPROXY_ENV}={}: toxiproxy-server", path.display()),
                    fix: format!(
                        "point {TOXIPROXY_ENV} at an executable toxiproxy-server, or unset it"
                    ),
                }
                .into());
            }
            Some(path)
        }
        None => find_binary(&["toxiproxy-server"]),
    };
    match (found, choice) {
        (Some(path), _) => Ok(ProxyBinary::Toxiproxy(path)),
        (None, ProxyChoice::Toxiproxy) => Err(missing_toxiproxy().into()),
        (None, _) => Ok(ProxyBinary::Builtin),
    }
}

/// A started fault proxy server: the process, its name (`toxiproxy` | `builtin`) and program
/// (for the start-up line) and, when known before it answers, the API's `host:port` (the
/// built-in one picks its port and logs it).
pub struct StartedProxy {
    pub process: ManagedProcess,
    pub name: &'static str,
    pub program: String,
    pub api: Option<String>,
}

/// Resolves `choice` against this process's `$CACHECHECK_TOXIPROXY` and PATH.
pub fn resolve_from_env(choice: ProxyChoice) -> Result<ProxyBinary> {
    resolve(choice, std::env::var_os(TOXIPROXY_ENV).as_deref())
}

/// Starts `binary` on 127.0.0.1 (a free port; the built-in one picks its own), its log in
/// `dir/proxy.log`.
pub fn start(binary: &ProxyBinary, dir: &Path) -> Result<StartedProxy> {
    let (program, args, name, api) = match binary {
        ProxyBinary::Toxiproxy(path) => {
            let port = free_port()?;
            let args = ["-host", "127.0.0.1", "-port", &port.to_string()].map(String::from);
            let api = Some(format!("127.0.0.1:{port}"));
            (path.clone(), args.to_vec(), "toxiproxy", api)
        }
        ProxyBinary::Builtin => (
            std::env::current_exe().context("cannot find the cachecheck binary")?,
            ["proxy-server", "--listen", "127.0.0.1:0"]
                .map(String::from)
                .to_vec(),
            "builtin",
            None,
        ),
    };
    let shown = match binary {
        ProxyBinary::Toxiproxy(_) => program.display().to_string(),
        ProxyBinary::Builtin => "cachecheck proxy-server".into(),
    };
    let mut process = ManagedProcess::new("fault proxy", program, args, dir.join("proxy.log"));
    process.spawn()?;
    Ok(StartedProxy {
        process,
        name,
        program: shown,
        api,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn builtin_wins_and_a_bad_env_path_is_an_error() {
        assert_eq!(
            resolve(ProxyChoice::Builtin, Some(OsStr::new("/bin/sh"))).unwrap(),
            ProxyBinary::Builtin
        );
        assert_eq!(
            resolve(ProxyChoice::Toxiproxy, Some(OsStr::new("/bin/sh"))).unwrap(),
            ProxyBinary::Toxiproxy("/bin/sh".into())
        );
        for choice in [ProxyChoice::Auto, ProxyChoice::Toxiproxy] {
            let e = resolve(choice, Some(OsStr::new("/nonexistent/toxiproxy-server")))
                .unwrap_err()
                .to_string();
            assert!(e.contains("CACHECHECK_TOXIPROXY=/nonexistent"), "{e}");
            assert!(e.contains("fix:"), "{e}");
        }
    }

    #[test]
    fn choice_names_in_toml() {
        #[derive(Deserialize)]
        struct T {
            proxy: ProxyChoice,
        }
        let t: T = toml::from_str("proxy = \"toxiproxy\"").unwrap();
        assert_eq!(t.proxy, ProxyChoice::Toxiproxy);
        assert!(toml::from_str::<T>("proxy = \"real\"").is_err());
    }
}
