//! `binlog-delete` (seed 4.3, like Alibaba Canal): the writer only writes the database; a
//! consumer of the database's binlog ([`crate::cdc`]) deletes each changed key from the cache
//! and retries failed deletes through a queue. Reads are cache-aside.
//!
//! Settings (`[strategy.binlog-delete]`), with their defaults:
//!
//! ```toml
//! resume = "saved"            # after a consumer kill: "saved" (its saved position) | "end"
//!                             # (the binlog's end then: writes made while it was dead are
//!                             # never invalidated)
//! server_id = <per process>   # the replica server id the consumer registers with (default:
//!                             # drawn from the process id, so that runs sharing a database
//!                             # do not evict each other's streams)
//! retry_backoff_ms = 10       # first retry of a failed delete; doubles per attempt
//! retry_backoff_max_ms = 1000 # cap of the retry delay
//! retry_max_attempts = 0      # attempts before giving up (0: retry until it succeeds)
//! heartbeat_ms = 1000         # server heartbeat when idle; 3 missed = reconnect
//! reconnect_backoff_ms = 100  # first reconnect delay; doubles up to 2 s
//! drain_timeout_ms = 10000    # quiescence: max wait for the consumer to reach the binlog end
//! fail_delete_probability = 0.0  # test hook: share of delete attempts failed without being
//!                             # sent (makes the retry queue work without a fault proxy)
//! fail_seed = <workload seed>  # seed of those failures
//! binlog_source = "primary"   # whose binlog: "primary" | "replica" (the first read replica's,
//!                             # `[infra] db_replicas`; replicas run with log_slave_updates)
//! ```
//!
//! The consumer reads the binlog through the `binlog` role's address and deletes through
//! `cache-write`, so faults on those roles hit it. With `binlog_source = "replica"` it follows
//! the first replica's binlog instead, through the `db-replica` role's address (faults on that
//! role hit it, and a lagging replica delays every delete): a delete then comes after the
//! replica applied the write, so a miss that reads the replica after the delete reads the new
//! row (issue 14). It starts at the binlog's end when the
//! strategy starts, drains at quiescence (until it has finished every transaction up to the
//! binlog's end as of then and its retry queue is empty, at most `drain_timeout_ms`), dies on
//! `kill-workers` (its retry queue is lost) and restarts per `resume`.

use super::{cache_aside_read, typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cdc::position::Position;
use crate::cdc::queue::RetryPolicy;
use crate::cdc::{binlog_end, Consumer, ConsumerConfig, StartAt, TableFilter};
use crate::checker::Percentiles;
use crate::history::process;
use crate::infra::Role;
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

pub const REG: Registration = Registration {
    name: "binlog-delete",
    about: "write the database; a binlog consumer (like Canal) deletes the key, retrying via a queue (seed 4.3)",
    configure: typed::<Settings>,
};

/// Where a restarted consumer resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resume {
    #[default]
    Saved,
    End,
}

/// The strategy's settings (see the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub resume: Resume,
    #[serde(default)]
    pub server_id: Option<u32>,
    #[serde(default = "d_backoff")]
    pub retry_backoff_ms: u64,
    #[serde(default = "d_backoff_max")]
    pub retry_backoff_max_ms: u64,
    #[serde(default)]
    pub retry_max_attempts: u32,
    #[serde(default = "d_heartbeat")]
    pub heartbeat_ms: u64,
    #[serde(default = "d_reconnect")]
    pub reconnect_backoff_ms: u64,
    #[serde(default = "d_drain")]
    pub drain_timeout_ms: u64,
    #[serde(default)]
    pub fail_delete_probability: f64,
    #[serde(default)]
    pub fail_seed: Option<u64>,
    #[serde(default)]
    pub binlog_source: BinlogSource,
}

/// Whose binlog the consumer follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BinlogSource {
    #[default]
    Primary,
    /// The first read replica (`[infra] db_replicas`).
    Replica,
}

/// A replica server id for this process: a server evicts the older of two replicas with the
/// same id, so concurrent runs against one database must not share it. Never 0 or 1.
fn process_server_id() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let r = std::process::id().wrapping_mul(2_654_435_761) ^ nanos;
    2 + r % (u32::MAX - 2)
}
fn d_backoff() -> u64 {
    10
}
fn d_backoff_max() -> u64 {
    1000
}
fn d_heartbeat() -> u64 {
    1000
}
fn d_reconnect() -> u64 {
    100
}
fn d_drain() -> u64 {
    10_000
}

impl super::Settings for Settings {
    fn check(&self) -> Result<(), String> {
        let s = self;
        let check = |ok: bool, field: &str, what: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!("field `{field}`: {what}"))
            }
        };
        check(
            s.server_id.is_none_or(|id| id >= 2),
            "server_id",
            "must be at least 2 (1 is the database's own)",
        )?;
        check(
            s.retry_backoff_ms >= 1,
            "retry_backoff_ms",
            "must be at least 1",
        )?;
        check(
            s.retry_backoff_max_ms >= s.retry_backoff_ms,
            "retry_backoff_max_ms",
            "must be at least retry_backoff_ms",
        )?;
        check(s.heartbeat_ms >= 10, "heartbeat_ms", "must be at least 10")?;
        check(
            s.reconnect_backoff_ms >= 1,
            "reconnect_backoff_ms",
            "must be at least 1",
        )?;
        check(
            (0.0..=1.0).contains(&s.fail_delete_probability),
            "fail_delete_probability",
            "must be between 0 and 1",
        )?;
        check(
            s.fail_delete_probability < 1.0 || s.retry_max_attempts > 0,
            "fail_delete_probability",
            "1 with retry_max_attempts = 0 would retry forever",
        )?;
        Ok(())
    }

    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(BinlogDelete::new(self.clone(), env)?))
    }
}

pub struct BinlogDelete {
    settings: Settings,
    consumer: Consumer,
    /// The binlog's server (the primary directly, not through a proxy; or the replica): its
    /// binlog's end at quiescence, after the replicas caught up.
    admin_db: mysql_async::Opts,
}

impl BinlogDelete {
    pub fn new(settings: Settings, env: &Env) -> anyhow::Result<Self> {
        // The binlog's server: the consumer's stream and the end drained to at quiescence.
        let (db, admin_db) = match settings.binlog_source {
            BinlogSource::Primary => (env.addrs.db_opts(Role::Binlog), env.addrs.db.opts(false)),
            BinlogSource::Replica => {
                let r = env.addrs.replica_opts(0).ok_or_else(|| {
                    anyhow::anyhow!("binlog-delete: `binlog_source = \"replica\"` needs read replicas (fix: set `db_replicas = 1` in [infra])")
                })?;
                (r.clone(), r)
            }
        };
        let cfg = ConsumerConfig {
            server_id: settings.server_id.unwrap_or_else(process_server_id),
            db,
            redis_url: env.addrs.redis_url(Role::CacheWrite),
            injected: env.addrs.injected.clone(),
            table: TableFilter {
                schema: env.addrs.db.database.clone(),
                table: crate::register::TABLE.to_string(),
            },
            retry: RetryPolicy {
                backoff: Duration::from_millis(settings.retry_backoff_ms),
                backoff_max: Duration::from_millis(settings.retry_backoff_max_ms),
                max_attempts: settings.retry_max_attempts,
            },
            heartbeat: Duration::from_millis(settings.heartbeat_ms),
            op_timeout: env.op_timeout,
            reconnect_backoff: Duration::from_millis(settings.reconnect_backoff_ms),
            fail_delete_probability: settings.fail_delete_probability,
            fail_seed: settings.fail_seed.unwrap_or(env.seed ^ 0xb1_4106),
            process: process::WORKER_BASE,
            trace: env.trace,
        };
        Ok(BinlogDelete {
            consumer: Consumer::new(cfg, env.rec.clone(), env.shutdown.clone()),
            admin_db,
            settings,
        })
    }

    /// The consumer (for tests and tools).
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    async fn end_now(&self) -> Option<Position> {
        let t = Duration::from_secs(5);
        let mut c = tokio::time::timeout(t, mysql_async::Conn::new(self.admin_db.clone()))
            .await
            .ok()?
            .ok()?;
        let p = tokio::time::timeout(t, binlog_end(&mut c)).await.ok()?.ok();
        let _ = c.disconnect().await;
        p
    }
}

#[async_trait]
impl Strategy for BinlogDelete {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        self.consumer.acked(key, value);
        Ok(())
    }

    async fn start(&self) -> anyhow::Result<()> {
        let from = self.consumer.start(StartAt::End).await?;
        anyhow::ensure!(
            from.is_some(),
            "binlog-delete: cannot read the binlog position through the `binlog` role's address"
        );
        Ok(())
    }

    async fn quiesce(&self) {
        match self.end_now().await {
            Some(end) => {
                let limit = Duration::from_millis(self.settings.drain_timeout_ms);
                if !self.consumer.drain(&end, limit).await {
                    tracing::warn!(
                        "binlog-delete: the consumer did not catch up with {end} in {} ms",
                        limit.as_millis()
                    );
                }
            }
            None => tracing::warn!("binlog-delete: cannot read the binlog's end at quiescence"),
        }
        self.consumer.stop().await;
    }

    async fn kill_workers(&self) -> bool {
        self.consumer.kill()
    }

    async fn restart_workers(&self) -> anyhow::Result<()> {
        let at = match self.settings.resume {
            Resume::Saved => StartAt::Saved,
            Resume::End => StartAt::End,
        };
        self.consumer.start(at).await.map(|_| ())
    }

    fn extra(&self) -> Option<serde_json::Value> {
        let lag = self.consumer.lag();
        Some(serde_json::json!({
            "consumer": self.consumer.stats(),
            "resume": self.settings.resume,
            "saved_position": self.consumer.saved_position().map(|p| p.to_string()),
            "invalidated_before_ack": lag.before_ack,
            "acked_writes_not_invalidated": lag.not_invalidated,
        }))
    }

    fn lag_ms(&self) -> Option<Percentiles> {
        Some(self.consumer.lag().ms)
    }
}
