//! Redis behind Sentinel in a run (`[infra] redis = "sentinel"`): the `redis-replication`
//! proxy (every replica's link to the first primary), the topology put back before each
//! strategy (the first primary primary again, the replicas replicating through the proxy, in
//! sync, the sentinels agreeing), the harness's own Redis connections to the current primary,
//! and the [`Follower`]: a task that polls the sentinels every 100 ms and points the Redis
//! roles' proxies at the primary they report, so every strategy follows a failover unchanged.
//!
//! The `cache-read-replica` proxy (the cache reads of a strategy with `cache_read_from =
//! "replica"`) forwards to the first replica; after a failover the follower points it at a
//! node that reports itself a replica (until one does, it stays where it was: on the promoted
//! node, or on the killed one, whose reads then fail).

use crate::infra::sentinel::{self, SentinelSet};
use crate::infra::{Endpoints, Role, Stack};
use crate::nemesis::kinds::failover::repoint;
use crate::nemesis::proxy::FaultProxy;
use anyhow::{Context, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How long putting the topology back may take.
const LIMIT: Duration = Duration::from_secs(60);

/// The proxies Sentinel adds (none without it).
pub fn proxy_roles(stack: &Stack) -> Vec<Role> {
    match stack.sentinel() {
        Some(_) => vec![Role::RedisReplication, Role::CacheReadReplica],
        None => Vec::new(),
    }
}

/// The upstream of `redis-replication`: the first primary; of `cache-read-replica`: the
/// first replica.
pub fn upstream(stack: &Stack, r: Role) -> Option<String> {
    let set = stack.sentinel()?;
    match r {
        Role::RedisReplication => Some(format!("127.0.0.1:{}", stack.endpoints().redis_port)),
        Role::CacheReadReplica => set
            .replicas
            .first()
            .map(|x| format!("127.0.0.1:{}", x.port)),
        _ => None,
    }
}

/// Points the `cache-read-replica` proxy at the Redis on `port` (nothing without that proxy).
async fn repoint_replica_reads(proxy: &Arc<FaultProxy>, port: u16) -> Result<()> {
    let p = proxy.clone();
    tokio::task::spawn_blocking(move || {
        let upstream = format!("127.0.0.1:{port}");
        if p.listen.contains_key(&Role::CacheReadReplica)
            && p.upstream(Role::CacheReadReplica)? != upstream
        {
            p.set_upstream(Role::CacheReadReplica, &upstream)?;
        }
        Ok(())
    })
    .await?
}

/// A node among `ports`, other than `primary`, that reports itself a replica.
async fn a_replica(ports: &[u16], primary: u16) -> Option<u16> {
    for p in ports.iter().filter(|p| **p != primary) {
        if matches!(sentinel::replication(*p).await, Ok((role, _, _)) if role == "slave") {
            return Some(*p);
        }
    }
    None
}

/// The URL of the current primary for the harness's own connections (flush, final state).
pub async fn admin_url(stack: &Stack, ep: &Endpoints) -> Result<String> {
    match stack.sentinel() {
        Some(s) => Ok(format!("redis://127.0.0.1:{}", s.primary_port().await?)),
        None => Ok(ep.redis_url()),
    }
}

/// Puts the topology back: the first primary is the primary (a `SENTINEL FAILOVER` to it if a
/// failover moved it, the other replicas given `replica-priority 0` meanwhile), the Redis
/// proxies point at it, every replica replicates through `redis-replication`, and the
/// sentinels agree. Nothing without Sentinel.
pub async fn reset(stack: &Stack, proxy: Option<&Arc<FaultProxy>>) -> Result<()> {
    let Some(set) = stack.sentinel() else {
        return Ok(());
    };
    let proxy = proxy.context("redis = \"sentinel\" needs the fault proxies")?;
    let first = stack.endpoints().redis_port;
    let deadline = Instant::now() + LIMIT;
    if set.primary_port().await? != first {
        fail_back(set, first, deadline).await?;
    }
    repoint(proxy, first).await?;
    if let Some(r) = set.replicas.first() {
        repoint_replica_reads(proxy, r.port).await?;
    }
    let (_, via) = proxy
        .listen
        .get(&Role::RedisReplication)
        .cloned()
        .context("no redis-replication proxy")?;
    for r in &set.replicas {
        sentinel::query::<()>(r.port, redis::cmd("REPLICAOF").arg("127.0.0.1").arg(via))
            .await
            .with_context(|| format!("redis-{}: REPLICAOF", r.index))?;
    }
    wait_in_sync(set, first, deadline).await?;
    crate::infra::wait_for(deadline, move || async move {
        Ok(set.agreed(set.replicas.len()).await.filter(|p| *p == first))
    })
    .await
    .context("the sentinels did not agree on the primary in time")?;
    Ok(())
}

/// A failover back to the first primary (a replica of the current one by now).
async fn fail_back(set: &SentinelSet, first: u16, deadline: Instant) -> Result<()> {
    let priority = |port: u16, p: u32| async move {
        sentinel::query::<()>(
            port,
            redis::cmd("CONFIG")
                .arg("SET")
                .arg("replica-priority")
                .arg(p),
        )
        .await
    };
    for r in &set.replicas {
        let _ = priority(r.port, 0).await;
    }
    let _ = priority(first, 100).await;
    let moved = async {
        // The first primary must be a replica in sync that the sentinels know before they
        // can promote it; NOGOODSLAVE until then.
        loop {
            if set.failover().await.is_ok() {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "SENTINEL FAILOVER kept failing");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        crate::infra::wait_for(deadline, move || async move {
            Ok((set.primary_port().await.ok() == Some(first)).then_some(()))
        })
        .await
    };
    let r = moved.await;
    for r in &set.replicas {
        let _ = priority(r.port, 100).await;
    }
    r.context("cannot make the first Redis primary the primary again")
}

/// Waits until every replica's link is up and it has the primary's replication offset.
pub async fn wait_in_sync(set: &SentinelSet, primary: u16, deadline: Instant) -> Result<()> {
    crate::infra::wait_for(deadline, move || async move {
        let Ok((_, _, offset)) = sentinel::replication(primary).await else {
            return Ok(None);
        };
        for r in &set.replicas {
            match sentinel::replication(r.port).await {
                Ok((role, link, o)) if role == "slave" && link == "up" && o >= offset => {}
                _ => return Ok(None),
            }
        }
        Ok(Some(()))
    })
    .await
    .context("the Redis replicas did not get in sync in time")
}

/// Polls the sentinels and points the Redis roles' proxies at the primary they report.
pub struct Follower {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    /// Starts following (None without Sentinel or without proxies).
    pub fn start(stack: &Stack, proxy: Option<&Arc<FaultProxy>>) -> Option<Follower> {
        let set = stack.sentinel()?;
        let ports = set.sentinel_ports.clone();
        // Every Redis node, replicas first: where replica reads may go.
        let nodes: Vec<u16> = set
            .replicas
            .iter()
            .map(|r| r.port)
            .chain([stack.endpoints().redis_port])
            .collect();
        let proxy = proxy?.clone();
        let stop = CancellationToken::new();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut last = None;
            // After the primary moved: the replica reads still to be re-pointed.
            let mut replica_wanted = false;
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                let mut now = None;
                for p in &ports {
                    if let Ok(port) = sentinel::master_addr(*p).await {
                        now = Some(port);
                        break;
                    }
                }
                if now.is_some() && now != last {
                    match repoint(&proxy, now.unwrap_or_default()).await {
                        Ok(()) => {
                            replica_wanted = last.is_some();
                            last = now;
                        }
                        Err(e) => tracing::warn!("following the Redis primary: {e:#}"),
                    }
                }
                if let (true, Some(primary)) = (replica_wanted, last) {
                    if let Some(r) = a_replica(&nodes, primary).await {
                        match repoint_replica_reads(&proxy, r).await {
                            Ok(()) => replica_wanted = false,
                            Err(e) => tracing::warn!("following a Redis replica: {e:#}"),
                        }
                    }
                }
            }
        });
        Some(Follower { stop, task })
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}
