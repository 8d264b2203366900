//! Faults on read replicas' servers: `kill` and `pause` with `service = "replica"` (every
//! replica) or `"replica-N"` (the N-th, 1-based). Kill: SIGKILL of the replica's `mariadbd`;
//! healed by starting it again on its data directory, restarting replication and waiting until
//! it has caught up with the primary (at most [`CATCH_UP_LIMIT`]). Pause: SIGSTOP; healed by
//! SIGCONT and the same wait. On Docker the same with `docker kill`/`start` and `docker
//! pause`/`unpause` of the replica's container (the record still names the signal). Refused on
//! external infra: the user's replicas (`replica_urls`) are never touched.

use super::fault::{Fault, FaultCtx};
use crate::infra::replicas::Replica;
use anyhow::Result;
use async_trait::async_trait;
use serde_json::json;
use std::time::Duration;

/// How long a healed replica may take to catch up before the heal fails.
pub const CATCH_UP_LIMIT: Duration = Duration::from_secs(60);

/// The replica server fault: killed, or paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Kill,
    Pause,
}

/// A replica (or every replica: `index` 0) killed or paused for the interval.
pub struct ReplicaFault {
    pub index: usize,
    pub action: Action,
}

impl ReplicaFault {
    /// The replicas it acts on, or an error when the run has none (or not that one).
    fn targets<'a>(&self, all: &'a mut [Replica]) -> Result<Vec<&'a mut Replica>> {
        anyhow::ensure!(
            !all.is_empty(),
            "`service = \"{}\"` needs read replicas (fix: set `db_replicas = 1` in [infra])",
            self.target()
        );
        let n = all.len();
        if self.index == 0 {
            return Ok(all.iter_mut().collect());
        }
        match all.get_mut(self.index - 1) {
            Some(r) => Ok(vec![r]),
            None => anyhow::bail!("no replica {} (the run has {n})", self.index),
        }
    }
}

#[async_trait]
impl Fault for ReplicaFault {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let mut stack = cx.stack.lock().await;
        let mut names = Vec::new();
        for r in self.targets(stack.replicas_mut())? {
            match self.action {
                Action::Kill => r.kill().await,
                Action::Pause => r.pause()?,
            }
            names.push(r.name());
        }
        Ok(match self.action {
            Action::Kill => json!({"action": "kill", "signal": "SIGKILL", "replicas": names}),
            Action::Pause => json!({"action": "pause", "signal": "SIGSTOP", "replicas": names}),
        })
    }

    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        let mut stack = cx.stack.lock().await;
        let primary = stack.endpoints().db.clone();
        let mut restarted = false;
        for r in self.targets(stack.replicas_mut())? {
            match self.action {
                Action::Kill if !r.is_running() => {
                    r.restart().await?;
                    restarted = true;
                }
                Action::Kill => {}
                Action::Pause => r.resume()?,
            }
            r.ensure_running().await?;
            r.wait_caught_up(&primary, CATCH_UP_LIMIT).await?;
        }
        if restarted {
            stack.record_pids();
        }
        Ok(())
    }

    fn target(&self) -> String {
        match self.index {
            0 => "replica".into(),
            n => format!("replica-{n}"),
        }
    }
}
