//! Infrastructure: where the database, Redis and the fault proxy run, and how to reach them.
//!
//! * [`local`]: private server processes started by the harness (the default);
//! * [`docker`]: a compose project per run ([`compose`] runs the Docker command lines,
//!   [`images`] chooses the images);
//! * [`external`]: URLs of servers the user runs (`[infra] kind = "external"`).
//! * [`redis_url`]: Redis URLs with a password, an ACL user or TLS (`rediss://`, `ca_file`),
//!   and their redaction wherever one is printed.
//!
//! The servers are reached per role (see [`Role`]): each role's connections can be routed
//! through its own fault proxy without the strategies knowing.

pub mod compose;
pub mod docker;
pub mod external;
pub mod fault_proxy;
pub mod images;
pub mod local;
pub mod orphans;
pub mod process;
pub mod redis_url;
pub mod replicas;
pub mod sentinel;

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
/// proxy = "auto"      # local only: "auto" | "toxiproxy" | "builtin" (see [`fault_proxy`])
/// db_url = "mysql://root@127.0.0.1:3306/cachecheck"   # external only (or --db-url)
/// redis_url = "redis://127.0.0.1:6379"                # external only (or --redis-url);
///                     # with AUTH and TLS: "rediss://USER:PASS@host:6380/?ca_file=ca.pem"
///                     # (see [`redis_url`]); db_url takes ?ssl-mode= and ?ssl-ca= (see
///                     # [`DbEndpoint::parse`])
/// toxiproxy_url = "http://127.0.0.1:8474"             # external only, optional (or --toxiproxy-url)
/// db_image = "mysql:8"                    # docker only; $CACHECHECK_DB_IMAGE wins over it
/// redis_image = "redis:7"                 # docker only; $CACHECHECK_REDIS_IMAGE wins
/// proxy_image = "ghcr.io/shopify/toxiproxy" # docker only; $CACHECHECK_PROXY_IMAGE wins;
///                                         # "none": no fault proxy
/// db_replicas = 0     # local and docker: read replicas of the database (GTID replication through
///                     # the `replication` role's proxy; see [`replicas`]), at most 8
/// redis = "standalone" # "standalone" | "sentinel" (local only: a primary, redis_replicas
///                     # replicas and three redis-sentinel processes; see [`sentinel`])
/// redis_replicas = 1  # sentinel only: Redis replicas (1 to 4), replicating through the
///                     # `redis-replication` role's proxy
/// min_replicas_to_write = 0 # sentinel only: the primary's min-replicas-to-write (0: off)
/// replica_urls = []   # external only: the user's own read replicas ("mysql://user:pass@host:port/db"),
///                     # read through role `db-replica`; never reconfigured (see [`external`])
/// ```
///
/// Docker images left unset: the official image if the engine has it, else the local one
/// (`cachecheck/mariadb:local`, ...) if it has that, else the official one, pulled, else the
/// local one, built by cachecheck itself (see [`docker`] and [`images`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraConfig {
    #[serde(default)]
    pub kind: InfraKind,
    #[serde(default)]
    pub direct: bool,
    #[serde(default)]
    pub proxy: fault_proxy::ProxyChoice,
    #[serde(default)]
    pub db_url: Option<String>,
    #[serde(default)]
    pub redis_url: Option<String>,
    #[serde(default)]
    pub toxiproxy_url: Option<String>,
    #[serde(default)]
    pub db_image: Option<String>,
    #[serde(default)]
    pub redis_image: Option<String>,
    #[serde(default)]
    pub proxy_image: Option<String>,
    #[serde(default)]
    pub db_replicas: u32,
    #[serde(default)]
    pub redis: sentinel::RedisTopology,
    #[serde(default = "sentinel::one_replica")]
    pub redis_replicas: u32,
    #[serde(default)]
    pub min_replicas_to_write: u32,
    #[serde(default)]
    pub replica_urls: Vec<String>,
    /// `--keep` (command line only): leave a docker stack running after the run.
    #[serde(skip)]
    pub keep: bool,
}

/// A workload without an `[infra]` table: the same defaults as an empty one (`redis_replicas`
/// 1, so that `--redis sentinel` works on it).
impl Default for InfraConfig {
    fn default() -> Self {
        toml::from_str("").expect("an empty [infra] table is valid")
    }
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
        if self.proxy != fault_proxy::ProxyChoice::Auto && self.kind != InfraKind::Local {
            return Err(format!(
                "field `infra.proxy`: only for kind = \"local\", not \"{}\" (fix: remove it; docker: set proxy_image, external: toxiproxy_url)",
                self.kind_name()
            ));
        }
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
        if let Some(u) = &self.redis_url {
            parse_redis_url(u).map_err(|e| format!("field `infra.redis_url`: {e}"))?;
        }
        if let Some(u) = &self.toxiproxy_url {
            parse_http_url(u).map_err(|e| format!("field `infra.toxiproxy_url`: {e}"))?;
        }
        if self.db_replicas > 0 && self.kind == InfraKind::External {
            return Err(format!(
                "field `infra.db_replicas`: replicas are started on kind = \"local\" or \"docker\" only, not \"{}\" (fix: use replica_urls, or remove db_replicas)",
                self.kind_name()
            ));
        }
        sentinel::validate(self)?;
        if !self.replica_urls.is_empty() && self.kind != InfraKind::External {
            return Err(format!(
                "field `infra.replica_urls`: only for kind = \"external\", not \"{}\" (fix: use db_replicas, or --infra external)",
                self.kind_name()
            ));
        }
        for (i, u) in self.replica_urls.iter().enumerate() {
            DbEndpoint::parse(u).map_err(|e| format!("field `infra.replica_urls[{i}]`: {e}"))?;
        }
        if self.db_replicas > 8 {
            return Err("field `infra.db_replicas`: at most 8".into());
        }
        for (field, v) in [
            ("db_image", &self.db_image),
            ("redis_image", &self.redis_image),
            ("proxy_image", &self.proxy_image),
        ] {
            if v.as_ref().is_some_and(|v| v.trim().is_empty()) {
                return Err(format!("field `infra.{field}`: must not be empty"));
            }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
    /// A service's single Redis pool (strategy `service`: `CACHECHECK_REDIS_URL`).
    Cache,
    /// Reads after a miss from a read replica (`fill_from = "replica"`).
    DbReplica,
    /// The replicas' replication connection to the primary.
    Replication,
    /// The Redis replicas' replication connection to the first primary (`redis = "sentinel"`).
    RedisReplication,
    /// Cache reads from a Redis replica (`cache_read_from = "replica"`, `redis = "sentinel"`).
    CacheReadReplica,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Db,
        Role::CacheRead,
        Role::CacheFill,
        Role::CacheWrite,
        Role::Binlog,
        Role::Cache,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Db => "db",
            Role::CacheRead => "cache-read",
            Role::CacheFill => "cache-fill",
            Role::CacheWrite => "cache-write",
            Role::Binlog => "binlog",
            Role::Cache => "cache",
            Role::DbReplica => "db-replica",
            Role::Replication => "replication",
            Role::RedisReplication => "redis-replication",
            Role::CacheReadReplica => "cache-read-replica",
        }
    }

    /// Whether the role talks to the database (else Redis).
    pub fn is_db(self) -> bool {
        matches!(
            self,
            Role::Db | Role::Binlog | Role::DbReplica | Role::Replication
        )
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
    /// TLS to the database (`?ssl-mode=` / `?ssl-ca=` on the URL); None: plain TCP.
    #[serde(default)]
    pub tls: Option<DbTls>,
}

/// How the database connection is encrypted and checked, as MySQL's `--ssl-mode` says:
/// `REQUIRED` encrypts without checking the certificate, `VERIFY_CA` checks it against
/// `ca_file` (or the system's roots), `VERIFY_IDENTITY` also checks the host name (the URL's
/// host, also when connecting through a fault proxy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbTls {
    pub verify_ca: bool,
    pub verify_identity: bool,
    pub ca_file: Option<String>,
}

impl DbEndpoint {
    /// Parses `mysql://user[:password]@host[:port][/database][?ssl-mode=MODE&ssl-ca=PATH]`
    /// (MODE: DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY; ssl-ca alone means VERIFY_CA).
    pub fn parse(url: &str) -> Result<DbEndpoint, String> {
        let rest = url
            .strip_prefix("mysql://")
            .ok_or("must start with mysql://")?;
        let (rest, tls) = match rest.split_once('?') {
            Some((r, q)) => (r, db_tls(q)?),
            None => (rest, None),
        };
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
                // Not quoted: in a URL whose `@` is missing, this is the password.
                p.parse()
                    .map_err(|_| "bad port: not a number from 1 to 65535 (fix: mysql://USER:PASSWORD@HOST:PORT/DB)".to_string())?,
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
            tls,
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
            .ssl_opts(self.tls.as_ref().map(|t| t.ssl_opts(&self.host)))
            .into()
    }

    pub fn opts(&self, with_db: bool) -> mysql_async::Opts {
        self.opts_via(&self.host, self.port, with_db)
    }
}

impl DbTls {
    fn ssl_opts(&self, host: &str) -> mysql_async::SslOpts {
        let mut o = mysql_async::SslOpts::default()
            .with_danger_accept_invalid_certs(!self.verify_ca)
            .with_danger_skip_domain_validation(!self.verify_identity)
            // Through a proxy the client connects to 127.0.0.1; the certificate names the server.
            .with_danger_tls_hostname_override(Some(host.to_string()));
        if let Some(ca) = &self.ca_file {
            o = o.with_root_certs(vec![std::path::PathBuf::from(ca).into()]);
        }
        o
    }
}

/// The TLS options of a `mysql://` URL's query (unknown options are an error).
fn db_tls(query: &str) -> Result<Option<DbTls>, String> {
    let (mut mode, mut ca) = (None, None);
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("ssl-mode" | "ssl_mode", v)) => mode = Some(v.to_ascii_uppercase()),
            Some(("ssl-ca" | "ssl_ca", v)) if !v.is_empty() => ca = Some(v.to_string()),
            _ => {
                return Err(format!(
                    "unknown option `{}` (fix: ssl-mode=REQUIRED|VERIFY_CA|VERIFY_IDENTITY, ssl-ca=PATH)",
                    kv.split('=').next().unwrap_or(kv)
                ))
            }
        }
    }
    if let Some(c) = &ca {
        if std::fs::metadata(c).is_err() {
            return Err(format!(
                "ssl-ca `{c}` cannot be read (fix: give a PEM file of the server's CA)"
            ));
        }
    }
    let mode = mode.unwrap_or_else(|| {
        if ca.is_some() {
            "VERIFY_CA"
        } else {
            "DISABLED"
        }
        .into()
    });
    let (verify_ca, verify_identity) = match mode.as_str() {
        "DISABLED" => return Ok(None),
        "REQUIRED" => (false, false),
        "VERIFY_CA" => (true, false),
        "VERIFY_IDENTITY" => (true, true),
        m => {
            return Err(format!(
                "ssl-mode `{m}` is not supported (fix: DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY)"
            ))
        }
    };
    Ok(Some(DbTls {
        verify_ca,
        verify_identity,
        ca_file: ca,
    }))
}

/// Where the servers are (direct addresses, not proxies).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoints {
    pub db: DbEndpoint,
    pub redis_host: String,
    pub redis_port: u16,
    /// Toxiproxy REST API base URL, when a fault proxy runs.
    pub toxiproxy_api: Option<String>,
    /// The Redis URL's scheme, credentials and options (never serialized: it holds the password).
    #[serde(skip)]
    pub redis_access: redis_url::RedisAccess,
}

impl Endpoints {
    /// The URL clients open (with credentials: never print it, see [`Endpoints::redis_shown`]).
    pub fn redis_url(&self) -> String {
        self.redis_access.url(&self.redis_host, self.redis_port)
    }

    /// The Redis URL for people, password masked.
    pub fn redis_shown(&self) -> String {
        self.redis_access.shown(&self.redis_host, self.redis_port)
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
    let v: Option<String> = db_query_first(ep, "SELECT VERSION()").await?;
    Ok(v.unwrap_or_default())
}

/// One row of `sql` on a fresh connection without a database selected (2 s to connect).
pub async fn db_query_first<T: mysql_async::prelude::FromRow + Send + 'static>(
    ep: &DbEndpoint,
    sql: &str,
) -> Result<Option<T>> {
    use mysql_async::prelude::Queryable;
    let mut c = tokio::time::timeout(
        Duration::from_secs(2),
        mysql_async::Conn::new(ep.opts(false)),
    )
    .await??;
    let row = c.query_first(sql).await?;
    let _ = c.disconnect().await;
    Ok(row)
}

/// PINGs Redis and returns its version.
pub async fn redis_version(url: &str) -> Result<String> {
    let info = redis_info_server(url).await?;
    Ok(info_field(&info, "redis_version").unwrap_or_else(|| "?".into()))
}

/// Redis's `INFO server` text (2 s timeouts).
pub async fn redis_info_server(url: &str) -> Result<String> {
    redis_query(&redis_url::client(url)?, redis::cmd("INFO").arg("server")).await
}

/// Runs one command of the harness's own (start-up checks, topology) on a new connection with
/// 2 s connection and response timeouts.
pub async fn redis_query<T: redis::FromRedisValue>(
    client: &redis::Client,
    cmd: &redis::Cmd,
) -> Result<T> {
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let mut c = client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await?;
    Ok(cmd.query_async(&mut c).await?)
}

/// The value of `name:` in Redis INFO text.
pub fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

/// Asks a Toxiproxy REST API (`http://host:port`) for `GET /version` and returns the version.
pub async fn proxy_version(api: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, port) = parse_http_url(api).map_err(anyhow::Error::msg)?;
    let talk = async {
        let mut s = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        s.write_all(format!("GET /version HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        anyhow::Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    let text = tokio::time::timeout(Duration::from_secs(2), talk)
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))??;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("");
    anyhow::ensure!(
        status.split_whitespace().nth(1) == Some("200"),
        "GET /version answered `{status}`"
    );
    let body = body.trim();
    // Toxiproxy 2.6+ answers JSON ({"version": "2.9.0", ...}), older ones plain text.
    Ok(serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string()))
}

/// Parses `http://host[:port][/...]` into host and port (default 80).
pub fn parse_http_url(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("must start with http://")?;
    let hostport = rest.split('/').next().unwrap_or("");
    match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Ok((
            h.to_string(),
            p.parse().map_err(|_| format!("bad port `{p}`"))?,
        )),
        None if !hostport.is_empty() => Ok((hostport.to_string(), 80)),
        _ => Err("no host".into()),
    }
}

/// The running stack, whatever its kind.
pub enum Stack {
    Local(Box<local::LocalInfra>),
    Docker(Box<docker::DockerInfra>),
    External(Box<external::ExternalInfra>),
}

impl Stack {
    /// Starts (or, for external, checks) the servers. Docker writes its compose file into
    /// `run_dir`. Dropping the future or the stack before [`Stack::stop`] still removes what
    /// was started.
    pub async fn start(cfg: &InfraConfig, run_dir: &std::path::Path) -> Result<Stack> {
        match cfg.kind {
            InfraKind::Local => {
                let mut l =
                    local::LocalInfra::start_with(None, (!cfg.direct).then_some(cfg.proxy)).await?;
                l.start_replicas(cfg.db_replicas as usize).await?;
                l.start_sentinel(cfg).await?;
                Ok(Stack::Local(Box::new(l)))
            }
            InfraKind::Docker => Ok(Stack::Docker(Box::new(
                docker::DockerInfra::start(cfg, run_dir).await?,
            ))),
            InfraKind::External => Ok(Stack::External(Box::new(
                external::ExternalInfra::start(cfg).await?,
            ))),
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        match self {
            Stack::Local(l) => &l.endpoints,
            Stack::Docker(d) => &d.endpoints,
            Stack::External(e) => &e.endpoints,
        }
    }

    /// The read replicas (none unless `[infra] db_replicas`).
    pub fn replicas(&self) -> &[replicas::Replica] {
        match self {
            Stack::Local(l) => &l.replicas,
            Stack::Docker(d) => &d.replicas,
            _ => &[],
        }
    }

    /// Where every read replica answers: local replicas, or the user's `replica_urls`.
    pub fn replica_endpoints(&self) -> Vec<DbEndpoint> {
        match self {
            Stack::Local(l) => l.replicas.iter().map(|r| r.endpoint.clone()).collect(),
            Stack::External(e) => e.replicas.clone(),
            Stack::Docker(d) => d.replicas.iter().map(|r| r.endpoint.clone()).collect(),
        }
    }

    /// The read replicas, for faults on them (`kill`/`pause` with `service = "replica"`);
    /// after a replica restarted, [`Stack::record_pids`].
    pub fn replicas_mut(&mut self) -> &mut [replicas::Replica] {
        match self {
            Stack::Local(l) => &mut l.replicas,
            Stack::Docker(d) => &mut d.replicas,
            _ => &mut [],
        }
    }

    /// Records the servers' process ids again (local infra: for the cleanup after a crash).
    pub fn record_pids(&self) {
        if let Stack::Local(l) = self {
            l.record_owner();
        }
    }

    /// Redis replicas and sentinels (`redis = "sentinel"`, local only).
    pub fn sentinel(&self) -> Option<&sentinel::SentinelSet> {
        match self {
            Stack::Local(l) => l.sentinel.as_ref(),
            _ => None,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self {
            Stack::Local(_) => "local",
            Stack::Docker(_) => "docker",
            Stack::External(_) => "external",
        }
    }

    /// One line: what runs where.
    pub fn describe(&self) -> String {
        match self {
            Stack::Local(l) => {
                format!(
                    "{} on 127.0.0.1:{}, redis {} on 127.0.0.1:{}{}",
                    l.db_version,
                    l.endpoints.db.port,
                    l.redis_version,
                    l.endpoints.redis_port,
                    match (&l.proxy_kind, &l.endpoints.toxiproxy_api) {
                        (Some(k), Some(a)) => format!(", fault proxy ({k}) on {a}"),
                        _ => String::new(),
                    }
                ) + &replicas::describe(&l.replicas, l.replicas_started_in)
                    + &l.sentinel
                        .as_ref()
                        .map(|s| s.describe())
                        .unwrap_or_default()
            }
            Stack::Docker(d) => d.describe(),
            Stack::External(e) => format!(
                "external database {} at {}:{} and redis {} at {}",
                e.db_version,
                e.endpoints.db.host,
                e.endpoints.db.port,
                e.redis_version,
                e.endpoints.redis_shown()
            ),
        }
    }

    /// Proxy slot `i` (one per role, `i < 6`) for a proxy created through the Toxiproxy REST
    /// API: `(listen, host_addr)`, where `listen` is the `listen` field to POST (the address
    /// inside the proxy's network namespace) and `host_addr` is where clients connect.
    ///
    /// * docker: `("0.0.0.0:2100i", 127.0.0.1:<published port>)` (fixed for the run);
    /// * local, and external with the proxy on a loopback URL: `("127.0.0.1:0", 127.0.0.1:0)`:
    ///   the proxy server picks the port and reports it in its answer;
    /// * otherwise (no proxy, or a remote one): None.
    pub fn proxy_listen(&self, i: usize) -> Option<(String, std::net::SocketAddr)> {
        // Port 0: the proxy server binds a free port itself and reports it back, so no other
        // process can take the port between choosing and binding it.
        let loopback = || {
            Some((
                "127.0.0.1:0".to_string(),
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ))
        };
        match self {
            Stack::Docker(d) => d.proxy_listen(i),
            Stack::Local(_) => loopback(),
            Stack::External(e) => {
                let api = e.endpoints.toxiproxy_api.as_deref()?;
                let (host, _) = parse_http_url(api).ok()?;
                matches!(host.as_str(), "127.0.0.1" | "localhost")
                    .then(loopback)
                    .flatten()
            }
        }
    }

    /// The upstream (`host:port`) of a proxy in front of `s`, as the proxy server reaches it:
    /// service names inside the compose network for docker, the servers' addresses otherwise.
    pub fn proxy_upstream(&self, s: Service) -> Option<String> {
        match self {
            Stack::Docker(d) => d.proxy_upstream(s),
            _ => {
                let ep = self.endpoints();
                match s {
                    Service::Db => Some(format!("{}:{}", ep.db.host, ep.db.port)),
                    Service::Redis => Some(format!("{}:{}", ep.redis_host, ep.redis_port)),
                    Service::Proxy => None,
                }
            }
        }
    }

    /// Fault: SIGKILL (or `docker kill`) a service. Redis loses its data; the database
    /// recovers from its logs on restart.
    pub async fn kill(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.kill(s).await,
            Stack::Docker(d) => d.kill(s).await,
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    /// Starts a killed service again and waits until it answers.
    pub async fn restart(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.restart(s).await,
            Stack::Docker(d) => d.restart(s).await,
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    /// Fault: SIGSTOP (or `docker pause`) a service.
    pub async fn pause(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.pause(s),
            Stack::Docker(d) => d.pause(s).await,
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    /// SIGCONT (or `docker unpause`).
    pub async fn resume(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Local(l) => l.resume(s),
            Stack::Docker(d) => d.resume(s).await,
            Stack::External(_) => Err(no_server_faults()),
        }
    }

    /// Fault: cut a service off the network (docker: `docker network disconnect`). Local and
    /// external stacks cannot; use a proxy partition there.
    pub async fn partition(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Docker(d) => d.partition(s).await,
            _ => Err(no_partition(self.kind_name())),
        }
    }

    /// Ends a [`Stack::partition`] (docker: `docker network connect`).
    pub async fn heal(&mut self, s: Service) -> Result<()> {
        match self {
            Stack::Docker(d) => d.heal(s).await,
            _ => Err(no_partition(self.kind_name())),
        }
    }

    /// With `--keep`, a message saying how to reach and remove the stack that
    /// [`Stack::stop`] will leave running.
    pub fn kept(&self) -> Option<String> {
        match self {
            Stack::Docker(d) => d.kept(),
            _ => None,
        }
    }

    /// Stops what was started: local processes and docker projects are removed (unless
    /// kept); for external servers, the register's schema if this run created it.
    pub async fn stop(self) {
        match self {
            Stack::Local(l) => (*l).stop().await,
            Stack::Docker(d) => (*d).stop().await,
            Stack::External(e) => (*e).stop().await,
        }
    }
}

fn no_server_faults() -> anyhow::Error {
    InfraError::Unreachable(
        "server faults (kill, restart, pause) need local or docker infrastructure, not external (fix: remove them from [[nemesis]] or use --infra local)".into(),
    )
    .into()
}

fn no_partition(kind: &str) -> anyhow::Error {
    InfraError::Unreachable(format!(
        "a network partition of a server is not supported on {kind} infrastructure (fix: use a proxy partition, or --infra docker)"
    ))
    .into()
}

/// Parses `redis[s]://[user:password@]host[:port][/db]` into host and port (the rest: see
/// [`redis_url::parse`]).
pub fn parse_redis_url(url: &str) -> Result<(String, u16), String> {
    redis_url::parse(url).map(|(h, p, _)| (h, p))
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
        let e = DbEndpoint::parse("mysql://u:p@h/x?ssl-mode=required").unwrap();
        assert_eq!((e.database.as_str(), e.port), ("x", 3306));
        let t = e.tls.expect("tls");
        assert!(!t.verify_ca && !t.verify_identity && t.ca_file.is_none());
        let e = DbEndpoint::parse("mysql://h:1?ssl-mode=VERIFY_IDENTITY").unwrap();
        assert_eq!((e.host.as_str(), e.database.as_str()), ("h", "cachecheck"));
        assert!(e.tls.unwrap().verify_identity);
        let e = DbEndpoint::parse("mysql://h/x?ssl-mode=DISABLED").unwrap();
        assert!(e.tls.is_none());
        for (url, needle) in [
            ("mysql://h/x?ssl-mode=PREFERRED", "ssl-mode `PREFERRED`"),
            ("mysql://h/x?ssl-ca=/no/such.pem", "cannot be read"),
            ("mysql://u:secret@h/x?sslmode=1", "unknown option `sslmode`"),
        ] {
            let err = DbEndpoint::parse(url).unwrap_err();
            assert!(err.contains(needle) && !err.contains("secret"), "{err}");
        }
        assert!(DbEndpoint::parse("mysql://h:notaport").is_err());
    }

    #[test]
    fn parses_http_and_redis_urls() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:8474"),
            Ok(("127.0.0.1".to_string(), 8474))
        );
        assert_eq!(
            parse_http_url("http://proxy/x"),
            Ok(("proxy".to_string(), 80))
        );
        assert!(parse_http_url("https://h").is_err());
        assert!(parse_http_url("http://:1").is_err());
        assert_eq!(parse_redis_url("redis://h:7/3"), Ok(("h".to_string(), 7)));
        assert_eq!(
            parse_redis_url("rediss://u:p@h:8/?ca_file="),
            Ok(("h".to_string(), 8))
        );
    }

    #[test]
    fn infra_images_must_not_be_empty() {
        let cfg = InfraConfig {
            kind: InfraKind::Docker,
            db_image: Some(" ".into()),
            ..Default::default()
        };
        assert!(cfg.validate().unwrap_err().contains("infra.db_image"));
        let cfg = InfraConfig {
            kind: InfraKind::External,
            db_url: Some("mysql://root@127.0.0.1/x".into()),
            redis_url: Some("redis://127.0.0.1".into()),
            toxiproxy_url: Some("tcp://x".into()),
            ..Default::default()
        };
        assert!(cfg.validate().unwrap_err().contains("infra.toxiproxy_url"));
    }
}
