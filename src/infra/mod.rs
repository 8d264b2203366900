//! Infrastructure: where the database, Redis and the fault proxy run, and how to reach them.
//!
//! * [`local`]: private server processes started by the harness (the default);
//! * external URLs of servers the user runs (`[infra] kind = "external"`).
//!
//! The servers are reached per role (see [`Role`]): each role's connections can be routed
//! through its own fault proxy without the strategies knowing.

pub mod local;
pub mod orphans;
pub mod process;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::{Duration, Instant};

/// The `[infra]` table of a workload.
///
/// ```toml
/// [infra]
/// kind = "local"      # "local" | "docker" | "external"
/// direct = false      # true: clients connect to the servers without fault proxies
///                     # (faster; proxy faults are then unavailable)
/// db_url = "mysql://root@127.0.0.1:3306/cachecheck"   # external only
/// redis_url = "redis://127.0.0.1:6379"                # external only
/// toxiproxy_url = "http://127.0.0.1:8474"             # external only (optional)
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraConfig {
    #[serde(default)]
    pub kind: InfraKind,
    #[serde(default)]
    pub direct: bool,
    #[serde(default)]
    pub db_url: Option<String>,
    #[serde(default)]
    pub redis_url: Option<String>,
    #[serde(default)]
    pub toxiproxy_url: Option<String>,
}

impl InfraConfig {
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            InfraKind::Local => "local",
            InfraKind::Docker => "docker",
            InfraKind::External => "external",
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.kind == InfraKind::External {
            if self.db_url.is_none() {
                return Err("field `infra.db_url`: required for kind = \"external\" (e.g. \"mysql://root@127.0.0.1:3306/cachecheck\")".into());
            }
            if self.redis_url.is_none() {
                return Err("field `infra.redis_url`: required for kind = \"external\" (e.g. \"redis://127.0.0.1:6379\")".into());
            }
        }
        if let Some(u) = &self.db_url {
            DbEndpoint::parse(u).map_err(|e| format!("field `infra.db_url`: {e}"))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum InfraKind {
    #[default]
    Local,
    Docker,
    External,
}

/// An infrastructure error a user must fix (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error("{what} not found (fix: {fix})")]
    MissingBinary { what: String, fix: String },
    #[error("{0}")]
    Unreachable(String),
}

/// A service of the stack (for faults that act on servers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Db,
    Redis,
    Proxy,
}

/// The step of a strategy a connection serves. Each role can get its own fault proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Database: writes and the reads after a miss.
    Db,
    /// Cache reads.
    CacheRead,
    /// The cache set after a miss.
    CacheFill,
    /// The set or delete of a write.
    CacheWrite,
    /// The CDC consumer's binlog stream.
    Binlog,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Db,
        Role::CacheRead,
        Role::CacheFill,
        Role::CacheWrite,
        Role::Binlog,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Db => "db",
            Role::CacheRead => "cache-read",
            Role::CacheFill => "cache-fill",
            Role::CacheWrite => "cache-write",
            Role::Binlog => "binlog",
        }
    }

    /// Whether the role talks to the database (else Redis).
    pub fn is_db(self) -> bool {
        matches!(self, Role::Db | Role::Binlog)
    }
}

/// How to reach the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbEndpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub database: String,
}

impl DbEndpoint {
    /// Parses `mysql://user[:password]@host[:port][/database]`.
    pub fn parse(url: &str) -> Result<DbEndpoint, String> {
        let rest = url
            .strip_prefix("mysql://")
            .ok_or("must start with mysql://")?;
        let (auth, hostpart) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let (hostport, db) = match hostpart.split_once('/') {
            Some((h, d)) if !d.is_empty() => (h, d.to_string()),
            Some((h, _)) => (h, "cachecheck".to_string()),
            None => (hostpart, "cachecheck".to_string()),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| format!("bad port `{p}`"))?,
            ),
            None => (hostport.to_string(), 3306),
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        let (user, password) = match auth {
            Some(a) => match a.split_once(':') {
                Some((u, p)) => (u.to_string(), Some(p.to_string())),
                None => (a.to_string(), None),
            },
            None => ("root".to_string(), None),
        };
        Ok(DbEndpoint {
            host,
            port,
            user,
            password,
            database: db,
        })
    }

    /// Connection options for this endpoint at `host:port` (which may be a proxy's address).
    pub fn opts_via(&self, host: &str, port: u16, with_db: bool) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(host.to_string())
            .tcp_port(port)
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .db_name(with_db.then(|| self.database.clone()))
            // Never switch to the unix socket: it would bypass the fault proxy.
            .prefer_socket(false)
            .stmt_cache_size(0)
            .into()
    }

    pub fn opts(&self, with_db: bool) -> mysql_async::Opts {
        self.opts_via(&self.host, self.port, with_db)
    }
}

/// Where the servers are (direct addresses, not proxies).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    pub db: DbEndpoint,
    pub redis_host: String,
    pub redis_port: u16,
    /// Toxiproxy REST API base URL, when a fault proxy runs.
    pub toxiproxy_api: Option<String>,
}

impl Endpoints {
    pub fn redis_url(&self) -> String {
        format!("redis://{}:{}/", self.redis_host, self.redis_port)
    }
}

/// Retries `probe` until it yields a value or `deadline` passes.
pub async fn wait_for<T, F, Fut>(deadline: Instant, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    loop {
        if let Some(v) = probe().await? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Connects without a database selected and returns the server's version string.
pub async fn db_version(ep: &DbEndpoint) -> Result<String> {
    use mysql_async::prelude::Queryable;
    let mut c = tokio::time::timeout(
        Duration::from_secs(2),
        mysql_async::Conn::new(ep.opts(false)),
    )
    .await??;
    let v: Option<String> = c.query_first("SELECT VERSION()").await?;
    let _ = c.disconnect().await;
    Ok(v.unwrap_or_default())
}

/// PINGs Redis and returns its version.
pub async fn redis_version(url: &str) -> Result<String> {
    let client = redis::Client::open(url)?;
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let mut c = client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?;
    let info: String = redis::cmd("INFO").arg("server").query_async(&mut c).await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("?")
        .trim()
        .to_string())
}

/// The running stack, whatever its kind.
pub enum Stack {
    Local(Box<local::LocalInfra>),
    External(Endpoints),
}

impl Stack {
    /// Starts (or, for external, checks) the servers.
    pub async fn start(cfg: &InfraConfig, _run_dir: &std::path::Path) -> Result<Stack> {
        match cfg.kind {
            InfraKind::Local => Ok(Stack::Local(Box::new(
                local::LocalInfra::start_with(None, !cfg.direct).await?,
            ))),
            InfraKind::External => {
                let db = DbEndpoint::parse(cfg.db_url.as_deref().unwrap_or_default())
                    .map_err(|e| InfraError::Unreachable(format!("infra.db_url: {e}")))?;
                let url = cfg.redis_url.clone().unwrap_or_default();
                let (host, port) = parse_redis_url(&url)
                    .map_err(|e| InfraError::Unreachable(format!("infra.redis_url: {e}")))?;
                let ep = Endpoints {
                    db,
                    redis_host: host,
                    redis_port: port,
                    toxiproxy_api: if cfg.direct {
                        None
                    } else {
                        cfg.toxiproxy_url.clone()
                    },
                };
                db_version(&ep.db).await.map_err(|e| {
                    InfraError::Unreachable(format!(
                        "cannot reach the database at {}:{}: {e} (fix: check infra.db_url)",
                        ep.db.host, ep.db.port
                    ))
                })?;
                redis_version(&ep.redis_url()).await.map_err(|e| {
                    InfraError::Unreachable(format!(
                        "cannot reach redis at {}: {e} (fix: check infra.redis_url)",
                        ep.redis_url()
                    ))
                })?;
                Ok(Stack::External(ep))
            }
            InfraKind::Docker => Err(InfraError::Unreachable(
                "--infra docker is not available in this build (fix: use --infra local)".into(),
            )
            .into()),
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        match self {
            Stack::Local(l) => &l.endpoints,
            Stack::External(e) => e,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Stack::Local(_) => "local",
            Stack::External(_) => "external",
        }
    }

    /// One line: what runs where.
    pub fn describe(&self) -> String {
        match self {
            Stack::Local(l) => format!(
                "{} on 127.0.0.1:{}, redis {} on 127.0.0.1:{}{}",
                l.db_version,
                l.endpoints.db.port,
                l.redis_version,
                l.endpoints.redis_port,
                match (&l.proxy_kind, &l.endpoints.toxiproxy_api) {
                    (Some(k), Some(a)) => format!(", fault proxy ({k}) on {a}"),
                    _ => String::new(),
                }
            ),
            Stack::External(e) => format!(
                "external database {}:{} and redis {}",
                e.db.host,
                e.db.port,
                e.redis_url()
            ),
        }
    }

    /// Fault: SIGKILL (or `docker kill`) a service. Redis loses its data; the database
    /// recovers from its logs on restart.
    pub async fn kill(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.kill(s).await,
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    /// Starts a killed service again and waits until it answers.
    pub async fn restart(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.restart(s).await,
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    /// Fault: SIGSTOP (or `docker pause`) a service.
    pub async fn pause(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.pause(s),
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    /// SIGCONT (or `docker unpause`).
    pub async fn resume(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.resume(s),
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    pub async fn stop(self) {
        if let Stack::Local(l) = self {
            (*l).stop().await;
        }
    }
}

fn no_server_faults() -> anyhow::Error {
    InfraError::Unreachable(
        "server faults (kill, restart, pause) need local or docker infrastructure, not external (fix: remove them from [[nemesis]] or use --infra local)".into(),
    )
    .into()
}

/// Parses `redis://host[:port][/db]` into host and port.
pub fn parse_redis_url(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("redis://")
        .ok_or("must start with redis://")?;
    let hostport = rest.split('/').next().unwrap_or("");
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    match hostport.rsplit_once(':') {
        Some((h, p)) => Ok((
            h.to_string(),
            p.parse().map_err(|_| format!("bad port `{p}`"))?,
        )),
        None if !hostport.is_empty() => Ok((hostport.to_string(), 6379)),
        None => Err("no host".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_db_urls() {
        let e = DbEndpoint::parse("mysql://u:p@h:33/x").unwrap();
        assert_eq!(
            (
                e.user.as_str(),
                e.password.as_deref(),
                e.host.as_str(),
                e.port,
                e.database.as_str()
            ),
            ("u", Some("p"), "h", 33, "x")
        );
        let e = DbEndpoint::parse("mysql://127.0.0.1").unwrap();
        assert_eq!(
            (e.port, e.database.as_str(), e.user.as_str()),
            (3306, "cachecheck", "root")
        );
        assert!(DbEndpoint::parse("postgres://x").is_err());
        assert!(DbEndpoint::parse("mysql://h:notaport").is_err());
    }
}
