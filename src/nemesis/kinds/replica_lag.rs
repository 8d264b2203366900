//! `replica-lag`: a read replica falls behind the primary for the interval, then catches up.
//!
//! ```toml
//! fault = "replica-lag"
//! mode = "stop-sql"        # stop-sql: STOP SLAVE SQL_THREAD for the interval, then START
//!                          # delay: MASTER_DELAY = delay_s for the interval, then 0
//! delay_s = 5              # delay only (seconds, at least 1)
//! replica = 0              # which replica (1-based); 0: every replica
//! ```
//!
//! Latency or a partition of the replication stream itself are the `latency` and `partition`
//! kinds on role `replication`. Whatever the fault, every replica is waited for until it caught
//! up before quiescence (see `run::replication`).

use crate::infra::replicas::Replica;
use crate::nemesis::fault::{parse, Fault, FaultCtx, FaultKind, Kind};
use anyhow::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const KIND: Kind = Kind {
    name: "replica-lag",
    parse: parse::<ReplicaLag>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    StopSql,
    Delay,
}

fn five() -> u32 {
    5
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaLag {
    pub mode: Mode,
    #[serde(default = "five")]
    pub delay_s: u32,
    #[serde(default)]
    pub replica: usize,
}

impl FaultKind for ReplicaLag {
    fn check(&self) -> Result<(), String> {
        if self.mode == Mode::Delay && self.delay_s == 0 {
            return Err("`delay_s` must be at least 1 with mode = \"delay\"".into());
        }
        Ok(())
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        Box::new(self.clone())
    }
}

impl ReplicaLag {
    /// The replicas it acts on, or an error when the run has none (or not that one).
    fn targets<'a>(&self, all: &'a [Replica]) -> Result<Vec<&'a Replica>> {
        anyhow::ensure!(
            !all.is_empty(),
            "a replica-lag fault needs read replicas (fix: set `db_replicas = 1` in [infra])"
        );
        if self.replica == 0 {
            return Ok(all.iter().collect());
        }
        let r = all.get(self.replica - 1).ok_or_else(|| {
            anyhow::anyhow!(
                "replica-lag: no replica {} (the run has {})",
                self.replica,
                all.len()
            )
        })?;
        Ok(vec![r])
    }
}

#[async_trait]
impl Fault for ReplicaLag {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let stack = cx.stack.lock().await;
        let mut names = Vec::new();
        for r in self.targets(stack.replicas())? {
            match self.mode {
                Mode::StopSql => r.exec("STOP SLAVE SQL_THREAD").await?,
                Mode::Delay => r.set_delay(self.delay_s).await?,
            }
            names.push(r.name());
        }
        Ok(match self.mode {
            Mode::StopSql => json!({"mode": "stop-sql", "replicas": names}),
            Mode::Delay => json!({"mode": "delay", "delay_s": self.delay_s, "replicas": names}),
        })
    }

    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        let stack = cx.stack.lock().await;
        for r in self.targets(stack.replicas())? {
            match self.mode {
                Mode::StopSql => r.ensure_running().await?,
                Mode::Delay => r.set_delay(0).await?,
            }
        }
        Ok(())
    }

    fn target(&self) -> String {
        match self.replica {
            0 => "replicas".into(),
            n => format!("replica-{n}"),
        }
    }
}
