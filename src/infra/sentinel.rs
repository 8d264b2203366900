//! Redis behind Sentinel (`[infra] redis = "sentinel"`, local infrastructure only): the stack's
//! Redis is the first primary; beside it `redis_replicas` replicas (default 1) and three
//! `redis-sentinel` processes monitoring the master named [`MASTER`], all on 127.0.0.1 with
//! their own directories under the stack's directory, removed with it.
//!
//! The replicas start as empty servers; their replication is set up once the run knows where
//! they reach the primary (the `redis-replication` role's proxy, see `run::sentinel`). The
//! sentinels run with `down-after-milliseconds 1000` (a killed primary is noticed in ~1 s) and
//! the default `failover-timeout` (180 s: a replica pointed at the proxy instead of the
//! primary's own port is not "fixed" by Sentinel within a run).
//!
//! Settings (`[infra]`): `redis_replicas` (1 to 4, default 1), `min_replicas_to_write` (default
//! 0: off; set on every node, effective on whichever is primary).

use super::process::{find_binary, free_port, ManagedProcess};
use super::{InfraConfig, InfraError, InfraKind};
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{Duration, Instant};

/// The master name the sentinels monitor.
pub const MASTER: &str = "cachecheck";

/// `[infra] redis`: the Redis topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RedisTopology {
    /// One Redis server (today's default).
    #[default]
    Standalone,
    /// A primary, replicas and three sentinels.
    Sentinel,
    /// Redis Cluster: not implemented yet (rejected when the workload is loaded).
    Cluster,
}

/// The serde default of `redis_replicas`.
pub fn one_replica() -> u32 {
    1
}

/// Checks the Redis topology settings of `[infra]`.
pub fn validate(cfg: &InfraConfig) -> Result<(), String> {
    match cfg.redis {
        RedisTopology::Cluster => {
            return Err("field `infra.redis`: \"cluster\" is not implemented yet (fix: use \"standalone\" or \"sentinel\")".into())
        }
        RedisTopology::Sentinel if cfg.kind != InfraKind::Local => {
            return Err(format!(
                "field `infra.redis`: \"sentinel\" is started on kind = \"local\" only, not \"{}\" (fix: use --infra local)",
                cfg.kind_name()
            ))
        }
        RedisTopology::Sentinel if cfg.direct => {
            return Err("field `infra.redis`: \"sentinel\" needs the fault proxies, through which clients follow the primary (fix: remove `direct = true`)".into())
        }
        RedisTopology::Sentinel if !(1..=4).contains(&cfg.redis_replicas) => {
            return Err("field `infra.redis_replicas`: 1 to 4 with redis = \"sentinel\"".into())
        }
        RedisTopology::Standalone if cfg.min_replicas_to_write > 0 => {
            return Err("field `infra.min_replicas_to_write`: needs replicas (fix: set redis = \"sentinel\")".into())
        }
        _ => {}
    }
    if cfg.min_replicas_to_write > cfg.redis_replicas {
        return Err(format!(
            "field `infra.min_replicas_to_write`: {} is more than the {} replica(s): every write would be refused (fix: at most redis_replicas)",
            cfg.min_replicas_to_write, cfg.redis_replicas
        ));
    }
    Ok(())
}

/// One Redis replica (1-based index; node 0 is the stack's own Redis, the first primary).
pub struct RedisNode {
    pub index: usize,
    pub port: u16,
    pub(super) process: ManagedProcess,
}

/// The replicas and sentinels beside the first primary.
pub struct SentinelSet {
    pub replicas: Vec<RedisNode>,
    /// The sentinels' ports.
    pub sentinel_ports: Vec<u16>,
    sentinels: Vec<ManagedProcess>,
    /// `min-replicas-to-write` of every node.
    pub min_replicas_to_write: u32,
}

/// Starts `n` replicas and three sentinels monitoring the primary at `primary_port`, under
/// `root`, and waits until each answers.
pub async fn start(
    n: usize,
    root: &Path,
    primary_port: u16,
    min_replicas_to_write: u32,
) -> Result<SentinelSet> {
    let redisd = find_binary(&["redis-server"]).ok_or_else(|| InfraError::MissingBinary {
        what: "redis-server".into(),
        fix: "apt-get install redis-server".into(),
    })?;
    let sentineld = find_binary(&["redis-sentinel"]).ok_or_else(|| InfraError::MissingBinary {
        what: "redis-sentinel".into(),
        fix: "apt-get install redis-sentinel".into(),
    })?;
    let mut replicas = Vec::new();
    for index in 1..=n {
        let dir = root.join(format!("redis-{index}"));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let mut process = ManagedProcess::new(
            &format!("redis-{index}"),
            redisd.clone(),
            super::local::redis_args(&dir, port),
            dir.join("redis.log"),
        );
        process.spawn()?;
        replicas.push(RedisNode {
            index,
            port,
            process,
        });
    }
    // The replicas replicate directly first, so that the sentinels find them in their first
    // INFO of the primary (else only at the next, up to 10 s later); the run then points them
    // at the `redis-replication` proxy.
    let deadline = Instant::now() + Duration::from_secs(30);
    for r in &replicas {
        let port = r.port;
        super::wait_for(deadline, || async move {
            Ok(query::<()>(
                port,
                redis::cmd("REPLICAOF").arg("127.0.0.1").arg(primary_port),
            )
            .await
            .ok())
        })
        .await
        .with_context(|| format!("redis-{}: REPLICAOF did not succeed", r.index))?;
    }
    let mut sentinels = Vec::new();
    let mut sentinel_ports = Vec::new();
    for i in 1..=3 {
        let dir = root.join(format!("sentinel-{i}"));
        std::fs::create_dir_all(&dir)?;
        let port = free_port()?;
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir {}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds {MASTER} 1000\n\
                 sentinel parallel-syncs {MASTER} 1\n",
                dir.display()
            ),
        )?;
        let mut p = ManagedProcess::new(
            &format!("sentinel-{i}"),
            sentineld.clone(),
            vec![conf.display().to_string()],
            dir.join("sentinel.log"),
        );
        p.spawn()?;
        sentinels.push(p);
        sentinel_ports.push(port);
    }
    let set = SentinelSet {
        replicas,
        sentinel_ports,
        sentinels,
        min_replicas_to_write,
    };
    for port in set.sentinel_ports.clone() {
        super::wait_for(deadline, || async move {
            Ok(query::<String>(port, &redis::cmd("PING")).await.ok())
        })
        .await
        .with_context(|| format!("redis or sentinel on port {port} did not answer"))?;
    }
    for r in &set.replicas {
        set.configure(r.port).await?;
    }
    Ok(set)
}

impl SentinelSet {
    pub fn pids(&self) -> Vec<u32> {
        self.replicas
            .iter()
            .map(|r| &r.process)
            .chain(&self.sentinels)
            .filter_map(|p| p.pid())
            .collect()
    }

    /// Sets the node settings every (re)started node needs (`min-replicas-to-write`).
    pub async fn configure(&self, port: u16) -> Result<()> {
        query::<()>(
            port,
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("min-replicas-to-write")
                .arg(self.min_replicas_to_write),
        )
        .await
        .with_context(|| format!("redis on port {port}: CONFIG SET min-replicas-to-write"))
    }

    /// The primary's port as the sentinels report it: the first sentinel that answers.
    pub async fn primary_port(&self) -> Result<u16> {
        let mut last = None;
        for p in &self.sentinel_ports {
            match master_addr(*p).await {
                Ok(port) => return Ok(port),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no sentinel")))
    }

    /// The primary's port when every sentinel reports the same one and knows the other two
    /// sentinels and `replicas` replicas; else None.
    pub async fn agreed(&self, replicas: usize) -> Option<u16> {
        let mut seen = None;
        for p in &self.sentinel_ports {
            let port = master_addr(*p).await.ok()?;
            if seen.is_some_and(|s| s != port) {
                return None;
            }
            seen = Some(port);
            let info: Vec<String> = query(*p, redis::cmd("SENTINEL").arg("MASTER").arg(MASTER))
                .await
                .ok()?;
            let field = |name: &str| {
                info.chunks(2)
                    .find(|kv| kv[0] == name)
                    .and_then(|kv| kv.get(1).and_then(|v| v.parse::<usize>().ok()))
            };
            if field("num-other-sentinels")? < 2 || field("num-slaves")? < replicas {
                return None;
            }
            let flags = info
                .chunks(2)
                .find(|kv| kv[0] == "flags")
                .and_then(|kv| kv.get(1).cloned())
                .unwrap_or_default();
            if flags != "master" {
                return None;
            }
        }
        seen
    }

    /// Asks a sentinel for a failover (`SENTINEL FAILOVER`), trying each in turn.
    pub async fn failover(&self) -> Result<()> {
        let mut last = None;
        for p in &self.sentinel_ports {
            match query::<()>(*p, redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER)).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no sentinel")))
    }

    /// The replica process listening on `port`.
    pub(super) fn node_mut(&mut self, port: u16) -> Option<&mut ManagedProcess> {
        self.replicas
            .iter_mut()
            .find(|r| r.port == port)
            .map(|r| &mut r.process)
    }

    /// Stops the sentinels first (no failover of a stopping primary), then the replicas.
    pub async fn stop(&mut self) {
        for s in &mut self.sentinels {
            s.kill().await;
        }
        for r in &mut self.replicas {
            r.process.kill().await;
        }
    }

    /// One line for the start-up message.
    pub fn describe(&self) -> String {
        let ports = |v: Vec<u16>| {
            v.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            ", {} redis replica(s) on 127.0.0.1:{}, 3 sentinels on 127.0.0.1:{} (master `{MASTER}`)",
            self.replicas.len(),
            ports(self.replicas.iter().map(|r| r.port).collect()),
            ports(self.sentinel_ports.clone())
        )
    }
}

/// `SENTINEL get-master-addr-by-name` on the sentinel at `port`: the primary's port.
pub async fn master_addr(port: u16) -> Result<u16> {
    let (_, p): (String, String) = query(
        port,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER),
    )
    .await?;
    p.parse().context("sentinel gave a bad port")
}

/// Runs one command on the local Redis (or sentinel) at `127.0.0.1:port` (2 s timeouts).
pub async fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> Result<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    super::redis_query(&client, cmd).await
}

/// A node's `INFO replication` fields `role`, `master_link_status` and the replication offset
/// (`master_repl_offset` on a primary, `slave_repl_offset` on a replica).
pub async fn replication(port: u16) -> Result<(String, String, u64)> {
    let info: String = query(port, redis::cmd("INFO").arg("replication")).await?;
    let f = |n: &str| super::info_field(&info, n).unwrap_or_default();
    let role = f("role");
    let offset = if role == "master" {
        f("master_repl_offset")
    } else {
        f("slave_repl_offset")
    };
    Ok((role, f("master_link_status"), offset.parse().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_topologies_are_one_line_errors() {
        let sentinel = |f: fn(&mut InfraConfig)| {
            let mut c = InfraConfig {
                redis: RedisTopology::Sentinel,
                redis_replicas: 1,
                ..Default::default()
            };
            f(&mut c);
            validate(&c)
        };
        assert!(sentinel(|_| {}).is_ok());
        for (f, needle) in [
            (
                (|c: &mut InfraConfig| c.kind = InfraKind::Docker) as fn(&mut InfraConfig),
                "kind = \"local\" only",
            ),
            (|c| c.direct = true, "direct = true"),
            (|c| c.redis_replicas = 0, "1 to 4"),
            (
                |c| c.min_replicas_to_write = 2,
                "every write would be refused",
            ),
            (|c| c.redis = RedisTopology::Cluster, "not implemented"),
            (
                |c| {
                    c.redis = RedisTopology::Standalone;
                    c.min_replicas_to_write = 1
                },
                "needs replicas",
            ),
        ] {
            let e = sentinel(f).unwrap_err();
            assert!(e.contains(needle) && !e.contains('\n'), "{e}");
        }
    }
}
