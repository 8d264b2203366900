//! Local infrastructure: a private MariaDB/MySQL server and a private Redis, started as child
//! processes in a temporary directory on free 127.0.0.1 ports, and removed at the end.

use super::fault_proxy::{ProxyBinary, ProxyChoice};
use super::process::{find_binary, free_port, ManagedProcess};
use super::{DbEndpoint, Endpoints, InfraError, Service};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The running local servers. Dropping it kills them and removes their files.
pub struct LocalInfra {
    pub endpoints: Endpoints,
    db: ManagedProcess,
    redis: ManagedProcess,
    /// The fault proxy (see [`super::fault_proxy`]).
    proxy: Option<ManagedProcess>,
    /// Which fault proxy runs, once it answered: e.g. "toxiproxy 2.12.0: /usr/bin/toxiproxy-server"
    /// or "builtin 2.12.0+cachecheck: cachecheck proxy-server".
    pub proxy_kind: Option<String>,
    /// The fault proxy's name (`toxiproxy` | `builtin`) and program, from its start.
    proxy_started: Option<(&'static str, String)>,
    /// Human-readable versions, e.g. "MariaDB 10.11.19".
    pub db_version: String,
    pub redis_version: String,
    /// Read replicas of the database (`[infra] db_replicas`), see [`super::replicas`].
    pub replicas: Vec<super::replicas::Replica>,
    /// How long starting the replicas took (to answering; replication set up later).
    pub replicas_started_in: Option<Duration>,
    /// Redis replicas and sentinels (`[infra] redis = "sentinel"`), see [`super::sentinel`].
    pub sentinel: Option<super::sentinel::SentinelSet>,
    // Declared last: removed after the processes are gone.
    dir: tempfile::TempDir,
}

/// Which flavour of MySQL-compatible server is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    MariaDb,
    Mysql,
}

impl LocalInfra {
    /// Starts both servers (no fault proxy) and waits until they answer.
    pub async fn start(root: Option<&Path>) -> Result<LocalInfra> {
        Self::start_with(root, None).await
    }

    /// Starts both servers and, if `proxy` is given, the fault proxy it chooses (resolved
    /// first: a missing `toxiproxy-server` is reported before any server starts).
    pub async fn start_with(root: Option<&Path>, proxy: Option<ProxyChoice>) -> Result<LocalInfra> {
        let proxy = proxy
            .map(super::fault_proxy::resolve_from_env)
            .transpose()?;
        let dbd =
            find_binary(&["mariadbd", "mysqld"]).ok_or_else(|| InfraError::MissingBinary {
                what: "mariadbd or mysqld".into(),
                fix: "apt-get install mariadb-server".into(),
            })?;
        let redisd = find_binary(&["redis-server"]).ok_or_else(|| InfraError::MissingBinary {
            what: "redis-server".into(),
            fix: "apt-get install redis-server".into(),
        })?;
        let flavor = if dbd.file_name().is_some_and(|n| n == "mariadbd") {
            Flavor::MariaDb
        } else {
            detect_flavor(&dbd)
        };
        let root_dir = root
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let cleaned = super::orphans::clean(&root_dir);
        for d in &cleaned.dirs {
            eprintln!(
                "cachecheck: removed the leftovers of a run that died: {}{}",
                d.display(),
                if cleaned.killed.is_empty() {
                    String::new()
                } else {
                    format!(" (killed servers {:?})", cleaned.killed)
                }
            );
        }
        super::process::retry_on_port_clash(|| {
            Self::start_once(root, flavor, &dbd, &redisd, proxy.as_ref())
        })
        .await
    }

    async fn start_once(
        root: Option<&Path>,
        flavor: Flavor,
        dbd: &Path,
        redisd: &Path,
        proxy: Option<&ProxyBinary>,
    ) -> Result<LocalInfra> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(super::orphans::DIR_PREFIX);
        let dir = match root {
            Some(r) => builder.tempdir_in(r),
            None => builder.tempdir(),
        }
        .context("cannot create a temporary directory for the servers")?;
        let datadir = dir.path().join("db");
        init_datadir(flavor, dbd, &datadir, dir.path())?;

        let db_port = free_port()?;
        let redis_port = free_port()?;
        let mut db = ManagedProcess::new(
            "database",
            dbd.to_path_buf(),
            db_args(flavor, dir.path(), &datadir, db_port),
            dir.path().join("db.log"),
        );
        let mut redis = ManagedProcess::new(
            "redis",
            redisd.to_path_buf(),
            redis_args(dir.path(), redis_port),
            dir.path().join("redis.log"),
        );
        db.spawn()?;
        redis.spawn()?;
        let mut endpoints = Endpoints {
            db: DbEndpoint {
                host: "127.0.0.1".into(),
                port: db_port,
                user: "root".into(),
                password: None,
                database: "cachecheck".into(),
                tls: None,
            },
            redis_host: "127.0.0.1".into(),
            redis_port,
            toxiproxy_api: None,
            redis_access: Default::default(),
        };
        let (proxy, proxy_started) = match proxy {
            Some(binary) => {
                let started = super::fault_proxy::start(binary, dir.path())?;
                endpoints.toxiproxy_api = started.api;
                (Some(started.process), Some((started.name, started.program)))
            }
            None => (None, None),
        };
        let mut infra = LocalInfra {
            endpoints,
            db,
            redis,
            proxy,
            proxy_kind: None,
            proxy_started,
            db_version: String::new(),
            redis_version: String::new(),
            replicas: Vec::new(),
            replicas_started_in: None,
            sentinel: None,
            dir,
        };
        infra.record_owner();
        infra.wait_ready(Duration::from_secs(60)).await?;
        Ok(infra)
    }

    /// Starts `n` read replicas of the database (processes answering; replication is set up
    /// once the `replication` proxy exists, see [`super::replicas::Replica::replicate_from`]).
    pub async fn start_replicas(&mut self, n: usize) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let t0 = Instant::now();
        let root = self.dir.path().to_path_buf();
        self.replicas = super::replicas::start(n, &root, &self.endpoints.db).await?;
        self.replicas_started_in = Some(t0.elapsed());
        self.record_owner();
        Ok(())
    }

    /// With `redis = "sentinel"`: starts the Redis replicas and the sentinels beside the stack's
    /// Redis (the first primary).
    pub async fn start_sentinel(&mut self, cfg: &super::InfraConfig) -> Result<()> {
        if cfg.redis != super::sentinel::RedisTopology::Sentinel {
            return Ok(());
        }
        let root = self.dir.path().to_path_buf();
        let set = super::sentinel::start(
            cfg.redis_replicas as usize,
            &root,
            self.endpoints.redis_port,
            cfg.min_replicas_to_write,
        )
        .await?;
        set.configure(self.endpoints.redis_port).await?;
        self.sentinel = Some(set);
        self.record_owner();
        Ok(())
    }

    /// The Redis node (the stack's own or a sentinel replica) listening on `port`.
    fn redis_node(&mut self, port: u16) -> Option<&mut ManagedProcess> {
        if port == self.endpoints.redis_port {
            return Some(&mut self.redis);
        }
        self.sentinel.as_mut()?.node_mut(port)
    }

    /// Fault `failover`: SIGKILL the Redis node on `port`.
    pub async fn kill_redis_node(&mut self, port: u16) -> Result<()> {
        let p = self
            .redis_node(port)
            .context("no local redis on that port")?;
        p.kill().await;
        Ok(())
    }

    /// Starts the Redis node on `port` again (empty: no persistence) and waits until it answers.
    pub async fn restart_redis_node(&mut self, port: u16) -> Result<()> {
        let p = self
            .redis_node(port)
            .context("no local redis on that port")?;
        p.kill().await;
        p.spawn()?;
        self.record_owner();
        let deadline = Instant::now() + Duration::from_secs(30);
        super::wait_for(deadline, || async move {
            Ok(super::sentinel::query::<String>(port, &redis::cmd("PING"))
                .await
                .ok())
        })
        .await
        .with_context(|| format!("redis on port {port} did not answer after its restart"))?;
        if let Some(s) = &self.sentinel {
            s.configure(port).await?;
        }
        Ok(())
    }

    /// Writes the pids of the harness and the servers, for the cleanup after a crash.
    pub(super) fn record_owner(&self) {
        if let Err(e) = super::orphans::write_owner(self.dir.path(), &self.pids()) {
            tracing::warn!("cannot write {}: {e}", super::orphans::OWNER_FILE);
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until both servers answer (after a start or a restart).
    pub async fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let db_version = loop {
            if let Some(st) = self.db.exited() {
                // The server's own reasons go to its error log (`--log-error`); its stderr has
                // only what it printed before opening that (warnings). A bind failure there
                // ("Address already in use") is a port clash, retried by the caller.
                let error_log = self.dir.path().join("db-error.log");
                let reason = error_lines(&error_log).unwrap_or_else(|| self.db.log_tail(3));
                anyhow::bail!(
                    "the database exited ({st}) during start-up: {reason} (log: {})",
                    error_log.display()
                );
            }
            match db_identity(&self.endpoints.db).await {
                Ok((v, datadir)) => {
                    let ours = self.dir.path().join("db");
                    if !same_dir(Path::new(&datadir), &ours) {
                        return Err(super::process::PortClash(format!(
                            "port {} answers with another database server (datadir {datadir})",
                            self.endpoints.db.port
                        ))
                        .into());
                    }
                    break v;
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context("the database did not answer in time"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let redis_version = loop {
            if let Some(st) = self.redis.exited() {
                anyhow::bail!(
                    "redis exited ({st}) during start-up: {}",
                    self.redis.log_tail(3)
                );
            }
            match redis_identity(&self.endpoints.redis_url()).await {
                Ok((v, pid)) => {
                    if self.redis.pid().is_some_and(|p| p != pid) {
                        return Err(super::process::PortClash(format!(
                            "port {} answers with another redis (pid {pid})",
                            self.endpoints.redis_port
                        ))
                        .into());
                    }
                    break v;
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context("redis did not answer in time"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        if let Some(p) = self.proxy.as_mut() {
            // The built-in server picks its own port and logs it; a toxiproxy-server was given
            // one.
            let api = loop {
                if let Some(api) = self.endpoints.toxiproxy_api.clone() {
                    break api;
                }
                if let Some(addr) = p.log_text().lines().find_map(|l| {
                    l.strip_prefix(super::super::proxy_server::LISTENING_ON)
                        .map(|a| a.trim().to_string())
                }) {
                    self.endpoints.toxiproxy_api = Some(addr);
                    continue;
                }
                if let Some(st) = p.exited() {
                    anyhow::bail!(
                        "the fault proxy exited ({st}) during start-up: {}",
                        p.log_tail(3)
                    );
                }
                if Instant::now() >= deadline {
                    anyhow::bail!("the fault proxy did not say where it listens in time");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            loop {
                if let Some(st) = p.exited() {
                    anyhow::bail!(
                        "the fault proxy exited ({st}) during start-up: {}",
                        p.log_tail(3)
                    );
                }
                if proxy_answers(&api).await {
                    break;
                }
                if Instant::now() >= deadline {
                    anyhow::bail!("the fault proxy did not answer at {api} in time");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if let (Some(api), Some((name, program))) =
            (&self.endpoints.toxiproxy_api, &self.proxy_started)
        {
            let version = super::proxy_version(&format!("http://{api}"))
                .await
                .unwrap_or_else(|e| format!("(version unknown: {e:#})"));
            self.proxy_kind = Some(format!("{name} {version}: {program}"));
        }
        self.db_version = db_version;
        self.redis_version = redis_version;
        Ok(())
    }

    fn proc(&mut self, s: Service) -> Option<&mut ManagedProcess> {
        match s {
            Service::Db => Some(&mut self.db),
            Service::Redis => Some(&mut self.redis),
            Service::Proxy => self.proxy.as_mut(),
        }
    }

    /// Kills a service (SIGKILL): for Redis the cache is lost; the database recovers on restart.
    pub async fn kill(&mut self, s: Service) -> Result<()> {
        let p = self.proc(s).context("not a local service")?;
        p.kill().await;
        Ok(())
    }

    /// Starts a killed service again with the same data directory and port.
    pub async fn restart(&mut self, s: Service) -> Result<()> {
        let p = self.proc(s).context("not a local service")?;
        p.kill().await;
        p.spawn()?;
        self.record_owner();
        self.wait_ready(Duration::from_secs(60)).await
    }

    pub fn pause(&mut self, s: Service) -> Result<()> {
        let p = self.proc(s).context("not a local service")?;
        anyhow::ensure!(p.pause(), "cannot pause {}", p.name);
        Ok(())
    }

    pub fn resume(&mut self, s: Service) -> Result<()> {
        let p = self.proc(s).context("not a local service")?;
        anyhow::ensure!(p.resume(), "cannot resume {}", p.name);
        Ok(())
    }

    pub fn pids(&self) -> Vec<u32> {
        [
            self.db.pid(),
            self.redis.pid(),
            self.proxy.as_ref().and_then(|p| p.pid()),
        ]
        .into_iter()
        .chain(self.replicas.iter().map(|r| r.pid()))
        .flatten()
        .chain(self.sentinel.iter().flat_map(|s| s.pids()))
        .collect()
    }

    /// Stops both servers and removes their files.
    pub async fn stop(mut self) {
        if let Some(s) = self.sentinel.as_mut() {
            s.stop().await;
        }
        for r in &mut self.replicas {
            r.stop().await;
        }
        if let Some(p) = self.proxy.as_mut() {
            p.kill().await;
        }
        self.redis.kill().await;
        self.db.stop(Duration::from_secs(5)).await;
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

/// The database's version and data directory (which tells our server from a stranger).
async fn db_identity(ep: &DbEndpoint) -> Result<(String, String)> {
    super::db_query_first(ep, "SELECT VERSION(), @@datadir")
        .await?
        .context("the database returned no version")
}

/// Redis's version and process id (which tells our server from a stranger).
async fn redis_identity(url: &str) -> Result<(String, u32)> {
    let info = super::redis_info_server(url).await?;
    let version = super::info_field(&info, "redis_version").unwrap_or_else(|| "?".into());
    let pid = super::info_field(&info, "process_id")
        .and_then(|p| p.parse().ok())
        .context("redis INFO has no process_id")?;
    Ok((version, pid))
}

/// Whether a Toxiproxy API answers `GET /version` at `api` (`host:port`).
async fn proxy_answers(api: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(Ok(mut s)) =
        tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(api)).await
    else {
        return false;
    };
    let req = format!("GET /version HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut buf)).await;
    buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200")
}

fn detect_flavor(bin: &Path) -> Flavor {
    let out = std::process::Command::new(bin).arg("--version").output();
    match out {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("MariaDB") => Flavor::MariaDb,
        _ => Flavor::Mysql,
    }
}

pub(super) fn init_datadir(flavor: Flavor, dbd: &Path, datadir: &Path, dir: &Path) -> Result<()> {
    let log = dir.join("db-init.log");
    let logf = std::fs::File::create(&log)?;
    // A private tmpdir: bootstraps running side by side in the shared /tmp collide on their
    // temporary tables ("Unknown table 'mysql.tmp_user_sys'").
    let tmpdir = dir.join("db-tmp");
    std::fs::create_dir_all(&tmpdir)?;
    let status = match flavor {
        Flavor::MariaDb => {
            let install =
                find_binary(&["mariadb-install-db", "mysql_install_db"]).ok_or_else(|| {
                    InfraError::MissingBinary {
                        what: "mariadb-install-db".into(),
                        fix: "apt-get install mariadb-server".into(),
                    }
                })?;
            std::process::Command::new(install)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", datadir.display()))
                .arg(format!("--tmpdir={}", tmpdir.display()))
                .arg(format!("--user={}", current_user()))
                .arg("--auth-root-authentication-method=normal")
                .arg("--skip-test-db")
                .stdout(logf.try_clone()?)
                .stderr(logf)
                .status()
        }
        Flavor::Mysql => std::process::Command::new(dbd)
            .arg("--no-defaults")
            .arg("--initialize-insecure")
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!("--tmpdir={}", tmpdir.display()))
            .arg(format!("--user={}", current_user()))
            .stdout(logf.try_clone()?)
            .stderr(logf)
            .status(),
    }
    .context("cannot run the database's initialisation")?;
    if !status.success() {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        let last = tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        anyhow::bail!("initialising the database's data directory failed ({status}): {last}");
    }
    Ok(())
}

fn current_user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() {
            return "root".into();
        }
        std::ffi::CStr::from_ptr((*pw).pw_name)
            .to_string_lossy()
            .into_owned()
    }
}

pub(super) fn db_args(flavor: Flavor, dir: &Path, datadir: &Path, port: u16) -> Vec<String> {
    let p = |x: &PathBuf| x.display().to_string();
    let mut a = vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", datadir.display()),
        format!("--socket={}", p(&dir.join("db.sock"))),
        format!("--pid-file={}", p(&dir.join("db.pid"))),
        format!("--tmpdir={}", p(&dir.join("db-tmp"))),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".into(),
        format!("--user={}", current_user()),
        format!("--log-bin={}", p(&datadir.join("binlog"))),
        "--binlog-format=ROW".into(),
        "--server-id=1".into(),
        "--skip-name-resolve".into(),
        "--max-connections=8192".into(),
        "--innodb-buffer-pool-size=128M".into(),
        format!("--log-error={}", p(&dir.join("db-error.log"))),
    ];
    if flavor == Flavor::Mysql {
        a.push("--gtid-mode=ON".into());
        a.push("--enforce-gtid-consistency=ON".into());
        a.push("--mysqlx=OFF".into());
    }
    a
}

pub(super) fn redis_args(dir: &Path, port: u16) -> Vec<String> {
    vec![
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--maxclients".into(),
        "20000".into(),
        "--protected-mode".into(),
        "no".into(),
    ]
}

/// The last `[ERROR]` lines of a MariaDB/MySQL error log (at most 3, joined by " | "), or its
/// last 3 lines when none says `[ERROR]`; `None` when the log is missing or empty.
pub(super) fn error_lines(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let errors: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("[ERROR]"))
        .collect();
    let pick = if errors.is_empty() { lines } else { errors };
    (!pick.is_empty()).then(|| pick[pick.len().saturating_sub(3)..].join(" | "))
}

#[cfg(test)]
mod tests {
    use super::error_lines;

    #[test]
    fn a_dead_databases_reason_is_its_error_logs_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db-error.log");
        assert_eq!(error_lines(&p), None);
        std::fs::write(
            &p,
            "0 [Note] starting\n0 [ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use\n0 [ERROR] Do you already have another server running on port: 4?\n0 [ERROR] Aborting\n",
        )
        .unwrap();
        let r = error_lines(&p).unwrap();
        assert!(
            r.contains("Address already in use") && r.ends_with("Aborting"),
            "{r}"
        );
        assert!(!r.contains("[Note]"), "{r}");
        std::fs::write(&p, "a\nb\nc\nd\n").unwrap();
        assert_eq!(error_lines(&p).unwrap(), "b | c | d");
    }
}
