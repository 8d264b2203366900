//! `failover`: the Redis primary changes (`[infra] redis = "sentinel"`). The fault returns only
//! once the sentinels report a new primary and the Redis roles' proxies forward to it, so the
//! failover is over before quiescence.
//!
//! ```toml
//! fault = "failover"
//! mode = "kill"            # kill: SIGKILL the current primary; Sentinel notices (1 s) and
//!                          #   promotes a replica; healed by restarting the old primary, made a
//!                          #   replica of the new one
//!                          # manual: SENTINEL FAILOVER (the old primary is demoted by Sentinel)
//! ```
//!
//! The interval's `applied` records `{"mode", "old_primary", "promoted", "promoted_ms",
//! "served_ms"}`: the ports, and the ms from the kill (or the request) until the sentinels
//! reported the new primary and until a PING through the `cache-write` proxy reached it.

use crate::infra::sentinel::{self, SentinelSet};
use crate::infra::{Role, Stack};
use crate::nemesis::fault::{blocking, parse, Fault, FaultCtx, FaultKind, Kind};
use crate::nemesis::proxy::FaultProxy;
use anyhow::{Context, Result};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KIND: Kind = Kind {
    name: "failover",
    parse: parse::<Failover>,
};

/// How long a failover may take before the fault reports an error.
const LIMIT: Duration = Duration::from_secs(30);

/// The Redis roles whose proxies follow the primary.
pub const FOLLOWING_ROLES: [Role; 4] = [
    Role::CacheRead,
    Role::CacheFill,
    Role::CacheWrite,
    Role::Cache,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Kill,
    Manual,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    pub mode: Mode,
}

impl FaultKind for Failover {
    fn needs_proxy(&self) -> bool {
        true
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        Box::new(FailoverFault {
            mode: self.mode,
            killed: Mutex::new(None),
        })
    }
}

struct FailoverFault {
    mode: Mode,
    /// The killed primary's port, restarted when healed.
    killed: Mutex<Option<u16>>,
}

fn set_of(stack: &Stack) -> Result<&SentinelSet> {
    stack.sentinel().context(
        "a failover fault needs Redis Sentinel (fix: set `redis = \"sentinel\"` in [infra])",
    )
}

/// Points every Redis role's proxy at the primary on `port` (idempotent: a proxy already
/// there is left alone, its connections kept).
pub async fn repoint(proxy: &Arc<FaultProxy>, port: u16) -> Result<()> {
    let p = proxy.clone();
    blocking(move || {
        let upstream = format!("127.0.0.1:{port}");
        for r in FOLLOWING_ROLES {
            if !p.listen.contains_key(&r) {
                continue;
            }
            if p.upstream(r)? != upstream {
                p.set_upstream(r, &upstream)?;
            }
        }
        Ok(())
    })
    .await
}

/// Waits until a PING through the `cache-write` proxy reaches a primary.
async fn served(proxy: &FaultProxy, deadline: Instant) -> Result<()> {
    let (host, port) = proxy
        .listen
        .get(&Role::CacheWrite)
        .cloned()
        .context("no cache-write proxy")?;
    loop {
        let probe = async {
            let client = redis::Client::open(format!("redis://{host}:{port}"))?;
            let cfg = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_millis(500)))
                .set_response_timeout(Some(Duration::from_millis(500)));
            let mut c = client
                .get_multiplexed_async_connection_with_config(&cfg)
                .await?;
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut c)
                .await?;
            anyhow::Ok(crate::infra::info_field(&info, "role").as_deref() == Some("master"))
        };
        if probe.await.unwrap_or(false) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no primary served through the proxies"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[async_trait]
impl Fault for FailoverFault {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let proxy = cx.proxy()?;
        let mut stack = cx.stack.lock().await;
        let old = set_of(&stack)?.primary_port().await?;
        let t0 = Instant::now();
        match self.mode {
            Mode::Kill => {
                let Stack::Local(l) = &mut *stack else {
                    anyhow::bail!("failover: local infrastructure only");
                };
                l.kill_redis_node(old).await?;
                *self.killed.lock().unwrap_or_else(|p| p.into_inner()) = Some(old);
            }
            Mode::Manual => set_of(&stack)?.failover().await?,
        }
        let set = set_of(&stack)?;
        let deadline = t0 + LIMIT;
        let promoted = loop {
            if let Ok(p) = set.primary_port().await {
                if p != old {
                    break p;
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "failover: the sentinels reported no new primary within {} s",
                LIMIT.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let promoted_ms = t0.elapsed().as_millis() as u64;
        repoint(&proxy, promoted).await?;
        served(&proxy, deadline).await?;
        Ok(json!({
            "mode": self.mode,
            "old_primary": format!("127.0.0.1:{old}"),
            "promoted": format!("127.0.0.1:{promoted}"),
            "promoted_ms": promoted_ms,
            "served_ms": t0.elapsed().as_millis() as u64,
        }))
    }

    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        let killed = self.killed.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(old) = killed else {
            return Ok(());
        };
        let mut stack = cx.stack.lock().await;
        let Stack::Local(l) = &mut *stack else {
            return Ok(());
        };
        l.restart_redis_node(old).await?;
        // Sentinel would make it a replica only after ~8 s of it claiming to be a primary;
        // do what it would do at once.
        let primary = set_of(&stack)?.primary_port().await?;
        sentinel::query::<()>(old, redis::cmd("REPLICAOF").arg("127.0.0.1").arg(primary))
            .await
            .context("failover heal: REPLICAOF on the old primary")
    }

    fn target(&self) -> String {
        "redis-primary".into()
    }
}
