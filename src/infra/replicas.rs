//! Read replicas of the local primary (`[infra] db_replicas = N`): private MariaDB servers, each
//! with its own data directory, socket and loopback port, `read_only`, `log_slave_updates` (so a
//! binlog consumer can follow a replica), replicating from the primary with GTIDs
//! (`MASTER_USE_GTID = slave_pos`).
//!
//! A replica is started as a process with the primary ([`start`]); its replication connection is
//! set up later ([`Replica::replicate_from`]), once the run knows the address the replica
//! reaches the primary at: the `replication` role's fault proxy, so latency and partitions can
//! be put on it, or the primary itself when the workload connects directly.
//!
//! Catching up is judged with GTIDs: the primary's `@@gtid_binlog_pos` is waited for on the
//! replica with `MASTER_GTID_WAIT`.
//!
//! Docker infra's replicas are compose services (`db-replica-N`, see
//! [`super::compose::replicas_yml`]) made into [`Replica`]s by [`in_container`]: the same SQL,
//! and kill/pause act on the container (`docker kill`/`start`, `docker pause`/`unpause`).

use super::process::{find_binary, free_port, ManagedProcess};
use super::DbEndpoint;
use anyhow::{Context, Result};
use mysql_async::prelude::Queryable;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One running replica.
pub struct Replica {
    /// 1-based, as faults name it (`replica-1`).
    pub index: usize,
    pub endpoint: DbEndpoint,
    server: Server,
    pub dir: PathBuf,
}

/// What runs a replica: a local process, or a container of the run's compose project.
enum Server {
    Process(Box<ManagedProcess>),
    Container { id: String, running: bool },
}

/// A replica running in container `id` (docker infra), answering at `endpoint` from the host.
pub fn in_container(index: usize, id: String, endpoint: DbEndpoint, dir: PathBuf) -> Replica {
    Replica {
        index,
        endpoint,
        server: Server::Container { id, running: true },
        dir,
    }
}

/// `docker <args>`, blocking (pause and resume are synchronous).
fn docker_blocking(args: &[&str]) -> Result<()> {
    let o = std::process::Command::new("docker")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run docker")?;
    anyhow::ensure!(
        o.status.success(),
        "`docker {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr).trim()
    );
    Ok(())
}

/// Starts `n` replica processes under `root` (the primary's temporary directory) and waits until
/// each answers. Replication is not configured yet (see [`Replica::replicate_from`]).
pub async fn start(n: usize, root: &Path, primary: &DbEndpoint) -> Result<Vec<Replica>> {
    let dbd = find_binary(&["mariadbd"]).ok_or_else(|| super::InfraError::MissingBinary {
        what: "mariadbd (replicas need MariaDB)".into(),
        fix: "apt-get install mariadb-server".into(),
    })?;
    let mut out = Vec::with_capacity(n);
    for index in 1..=n {
        let dir = root.join(format!("replica-{index}"));
        std::fs::create_dir_all(&dir)?;
        let datadir = dir.join("db");
        super::local::init_datadir(super::local::Flavor::MariaDb, &dbd, &datadir, &dir)?;
        let port = free_port()?;
        let mut args = super::local::db_args(super::local::Flavor::MariaDb, &dir, &datadir, port);
        // Later options win over the primary's.
        args.extend([
            format!("--server-id={}", 100 + index),
            "--read-only=ON".into(),
            "--log-slave-updates=ON".into(),
            "--skip-slave-start".into(),
            format!("--relay-log={}", datadir.join("relay").display()),
            "--slave-net-timeout=5".into(),
            // A replica's durability is not under test: without an fsync per applied
            // transaction its single SQL thread keeps up with the primary's group commits.
            "--innodb-flush-log-at-trx-commit=2".into(),
            "--sync-binlog=0".into(),
        ]);
        let mut process = ManagedProcess::new(
            &format!("replica-{index}"),
            dbd.clone(),
            args,
            dir.join("db.log"),
        );
        process.spawn()?;
        out.push(Replica {
            index,
            endpoint: DbEndpoint {
                port,
                ..primary.clone()
            },
            server: Server::Process(Box::new(process)),
            dir,
        });
    }
    for r in &mut out {
        r.wait_answering(Duration::from_secs(60)).await?;
    }
    Ok(out)
}

impl Replica {
    pub fn name(&self) -> String {
        format!("replica-{}", self.index)
    }

    pub fn pid(&self) -> Option<u32> {
        match &self.server {
            Server::Process(p) => p.pid(),
            Server::Container { .. } => None,
        }
    }

    /// Waits until the replica answers (after a start or restart), and checks it is ours.
    pub async fn wait_answering(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        let name = self.name();
        loop {
            if let Server::Process(process) = &mut self.server {
                if let Some(st) = process.exited() {
                    let error_log = self.dir.join("db-error.log");
                    let reason = super::local::error_lines(&error_log)
                        .unwrap_or_else(|| process.log_tail(3));
                    anyhow::bail!(
                        "{name} exited ({st}) during start-up: {reason} (log: {})",
                        error_log.display()
                    );
                }
            }
            match super::db_query_first::<(String, String)>(
                &self.endpoint,
                "SELECT VERSION(), @@datadir",
            )
            .await
            {
                Ok(Some(_)) if matches!(self.server, Server::Container { .. }) => return Ok(()),
                Ok(Some((_, datadir))) => {
                    let ours = self.dir.join("db");
                    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or(p.to_path_buf());
                    if canon(Path::new(&datadir)) != canon(&ours) {
                        return Err(super::process::PortClash(format!(
                            "port {} answers with another database server (datadir {datadir})",
                            self.endpoint.port
                        ))
                        .into());
                    }
                    return Ok(());
                }
                Ok(None) => {}
                Err(e) if Instant::now() >= deadline => {
                    return Err(e.context(format!("{} did not answer in time", self.name())))
                }
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Points the replica at the primary, reached at `host:port`, with GTIDs, and starts both
    /// replication threads.
    pub async fn replicate_from(&self, host: &str, port: u16, primary: &DbEndpoint) -> Result<()> {
        let mut c = self.admin().await?;
        let pass = primary
            .password
            .clone()
            .unwrap_or_default()
            .replace('\'', "''");
        c.query_drop("STOP SLAVE").await?;
        c.query_drop(format!(
            "CHANGE MASTER TO MASTER_HOST='{host}', MASTER_PORT={port}, MASTER_USER='{}', \
             MASTER_PASSWORD='{pass}', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, \
             MASTER_DELAY=0",
            primary.user.replace('\'', "''")
        ))
        .await
        .with_context(|| format!("{}: CHANGE MASTER failed", self.name()))?;
        c.query_drop("START SLAVE").await?;
        let _ = c.disconnect().await;
        Ok(())
    }

    /// A connection to the replica for the harness (never through a proxy).
    pub async fn admin(&self) -> Result<mysql_async::Conn> {
        tokio::time::timeout(
            Duration::from_secs(5),
            mysql_async::Conn::new(self.endpoint.opts(false)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("{}: connect timed out", self.name()))?
        .with_context(|| format!("cannot connect to {}", self.name()))
    }

    /// `SHOW SLAVE STATUS`: whether both threads run, and the last errors.
    pub async fn status(&self) -> Result<ReplicaStatus> {
        let mut c = self.admin().await?;
        let row: Option<mysql_async::Row> = c.query_first("SHOW SLAVE STATUS").await?;
        let _ = c.disconnect().await;
        let row = row.context("not configured as a replica")?;
        let get = |name: &str| -> String {
            row.columns_ref()
                .iter()
                .position(|col| col.name_str() == name)
                .and_then(|i| row.get_opt::<Option<String>, _>(i))
                .and_then(|r| r.ok())
                .flatten()
                .unwrap_or_default()
        };
        Ok(ReplicaStatus {
            io_running: get("Slave_IO_Running") == "Yes",
            sql_running: get("Slave_SQL_Running") == "Yes",
            last_error: [get("Last_IO_Error"), get("Last_SQL_Error")]
                .into_iter()
                .filter(|e| !e.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
            gtid_slave_pos: get("Gtid_Slave_Pos"),
        })
    }

    /// Waits until the replica has applied everything the primary had committed when the call
    /// started, up to `limit`. Errors name what was missing (threads stopped, the last error).
    pub async fn wait_caught_up(&self, primary: &DbEndpoint, limit: Duration) -> Result<()> {
        let Some(target) = wait_gtid(&self.endpoint, primary, limit).await? else {
            return Ok(());
        };
        let st = self.status().await.ok();
        anyhow::bail!(
            "{} did not catch up with the primary's {target} within {:.0} s{}",
            self.name(),
            limit.as_secs_f64(),
            match st {
                Some(s) => format!(
                    " (io {}, sql {}, at {}{})",
                    yes(s.io_running),
                    yes(s.sql_running),
                    s.gtid_slave_pos,
                    if s.last_error.is_empty() {
                        String::new()
                    } else {
                        format!(", error: {}", s.last_error)
                    }
                ),
                None => String::new(),
            }
        );
    }

    /// Starts both replication threads if either is stopped (idempotent: what a fault's heal
    /// and the end of a run rely on).
    pub async fn ensure_running(&self) -> Result<()> {
        let st = self.status().await?;
        if !st.sql_running || !st.io_running {
            let mut c = self.admin().await?;
            c.query_drop("START SLAVE").await?;
            let _ = c.disconnect().await;
        }
        Ok(())
    }

    /// Sets `MASTER_DELAY` (seconds; 0 heals), restarting the replication threads around it.
    pub async fn set_delay(&self, seconds: u32) -> Result<()> {
        let mut c = self.admin().await?;
        c.query_drop("STOP SLAVE").await?;
        c.query_drop(format!("CHANGE MASTER TO MASTER_DELAY={seconds}"))
            .await?;
        c.query_drop("START SLAVE").await?;
        let _ = c.disconnect().await;
        Ok(())
    }

    /// Runs one statement on the replica (fault actions: `STOP SLAVE SQL_THREAD`, ...).
    pub async fn exec(&self, sql: &str) -> Result<()> {
        let mut c = self.admin().await?;
        c.query_drop(sql)
            .await
            .with_context(|| format!("{}: {sql}", self.name()))?;
        let _ = c.disconnect().await;
        Ok(())
    }

    /// The GTID position the replica has applied (`@@gtid_slave_pos`).
    pub async fn applied(&self) -> Result<String> {
        let v: Option<String> =
            super::db_query_first(&self.endpoint, "SELECT @@gtid_slave_pos").await?;
        Ok(v.unwrap_or_default())
    }

    /// Fault `kill` with `service = "replica"`: SIGKILL of the replica's `mariadbd` (docker:
    /// `docker kill` of its container).
    pub async fn kill(&mut self) {
        match &mut self.server {
            Server::Process(p) => p.kill().await,
            Server::Container { id, running } => {
                let timeout = super::compose::DOCKER_TIMEOUT;
                if let Err(e) = super::compose::docker(&["kill", id], timeout).await {
                    tracing::warn!("docker kill of a replica failed: {e:#}");
                }
                *running = false;
            }
        }
    }

    /// Whether the replica's process runs (false after [`Replica::kill`]).
    pub fn is_running(&self) -> bool {
        match &self.server {
            Server::Process(p) => p.pid().is_some(),
            Server::Container { running, .. } => *running,
        }
    }

    /// Starts a killed replica again on its data directory and port, waits until it answers
    /// and starts replication (the replica starts with `--skip-slave-start`; its `CHANGE
    /// MASTER` settings and applied GTID position survive the crash).
    pub async fn restart(&mut self) -> Result<()> {
        match &mut self.server {
            Server::Process(p) => {
                p.kill().await;
                p.spawn()?;
            }
            Server::Container { id, running } => {
                let timeout = super::compose::DOCKER_TIMEOUT;
                let _ = super::compose::docker(&["kill", id], timeout).await;
                super::compose::docker(&["start", id], timeout).await?;
                *running = true;
            }
        }
        self.wait_answering(Duration::from_secs(60)).await?;
        self.exec("START SLAVE").await
    }

    /// Fault `pause` with `service = "replica"`: SIGSTOP; [`Replica::resume`] heals.
    /// (docker: `docker pause` of its container).
    pub fn pause(&mut self) -> Result<()> {
        let name = self.name();
        match &mut self.server {
            Server::Process(p) => anyhow::ensure!(p.pause(), "cannot pause {name}"),
            Server::Container { id, .. } => docker_blocking(&["pause", id])?,
        }
        Ok(())
    }

    pub fn resume(&mut self) -> Result<()> {
        let name = self.name();
        match &mut self.server {
            Server::Process(p) => anyhow::ensure!(p.resume(), "cannot resume {name}"),
            Server::Container { id, .. } => docker_blocking(&["unpause", id])?,
        }
        Ok(())
    }

    /// Stops a local replica's process (a container is removed with its compose project).
    pub async fn stop(&mut self) {
        if let Server::Process(p) = &mut self.server {
            p.stop(Duration::from_secs(5)).await;
        }
    }
}

/// Waits, read-only, until the replica at `replica` has applied the primary's current
/// `@@gtid_binlog_pos` (`MASTER_GTID_WAIT`), up to `limit`: None when it has, else the position
/// it did not reach in time (also what external infra's replicas are waited with).
pub async fn wait_gtid(
    replica: &DbEndpoint,
    primary: &DbEndpoint,
    limit: Duration,
) -> Result<Option<String>> {
    let target: Option<String> = super::db_query_first(primary, "SELECT @@gtid_binlog_pos").await?;
    let target = target.unwrap_or_default();
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(Duration::from_secs(1)).as_secs_f64().max(0.05);
        let r = async {
            let mut c = tokio::time::timeout(
                Duration::from_secs(5),
                mysql_async::Conn::new(replica.opts(false)),
            )
            .await??;
            let got: Option<i64> = c
                .query_first(format!(
                    "SELECT MASTER_GTID_WAIT('{}', {wait:.3})",
                    target.replace('\'', "")
                ))
                .await?;
            let _ = c.disconnect().await;
            anyhow::Ok(got == Some(0))
        }
        .await;
        if matches!(r, Ok(true)) {
            return Ok(None);
        }
        if Instant::now() >= deadline {
            return Ok(Some(target));
        }
        if r.is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `, 2 replicas on 127.0.0.1:41234, 41240 (started in 3.10 s)` for the start-up line.
pub fn describe(replicas: &[Replica], took: Option<Duration>) -> String {
    if replicas.is_empty() {
        return String::new();
    }
    let ports: Vec<String> = replicas
        .iter()
        .map(|r| r.endpoint.port.to_string())
        .collect();
    format!(
        ", {} replica{} on 127.0.0.1:{}{}",
        replicas.len(),
        if replicas.len() == 1 { "" } else { "s" },
        ports.join(", "),
        took.map(|t| format!(" (started in {:.2} s)", t.as_secs_f64()))
            .unwrap_or_default()
    )
}

fn yes(b: bool) -> &'static str {
    if b {
        "running"
    } else {
        "stopped"
    }
}

/// What `SHOW SLAVE STATUS` says.
#[derive(Debug, Clone)]
pub struct ReplicaStatus {
    pub io_running: bool,
    pub sql_running: bool,
    pub last_error: String,
    pub gtid_slave_pos: String,
}

/// The highest sequence number in a GTID position (`0-1-42,1-2-7` → 42 for domain 0).
pub fn seq_no(pos: &str) -> u64 {
    pos.split(',')
        .filter_map(|g| {
            let mut it = g.trim().split('-');
            let domain = it.next()?;
            let _server = it.next()?;
            let seq = it.next()?;
            (domain == "0").then(|| seq.parse().ok()).flatten()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn seq_no_reads_domain_zero() {
        assert_eq!(super::seq_no("0-1-42"), 42);
        assert_eq!(super::seq_no("1-5-9,0-1-7"), 7);
        assert_eq!(super::seq_no(""), 0);
    }
}
