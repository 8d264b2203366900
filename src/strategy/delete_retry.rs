//! `delete-retry` (seed 4.2, delete cache retry mechanism): `db-then-delete` whose failed deletes
//! are retried, first in line (`inline_retries`, `retry_backoff_ms` apart), then through an
//! asynchronous queue drained by a worker (see [`super::retry_queue`]):
//!
//! * `queue = "memory"`: an in-process queue, like an application-local retry queue. Queued
//!   deletes die with the application (`kill_workers`): the checker then shows the keys as
//!   divergent.
//! * `queue = "outbox"`: an `outbox` table in the database, written after the failed delete;
//!   a crash loses nothing that was written to it, and `restart_workers` resumes draining.
//!
//! After `max_queue_retries` failed queued attempts the key is logged as needing a person: an
//! internal event `f: "needs-human"` (always recorded) and `extra.needs_human` in summary.json;
//! an outbox row is kept with `needs_human = 1`.
//!
//! The worker has its own connections on the `cache-write` role (and `db` for the outbox), so a
//! fault on that role hits its retries too.
//!
//! Known races: everything of `db-then-delete` (stale until the delete lands; the slow-fill
//! race), for longer while a delete waits in the queue; a failure to write the outbox row
//! loses the invalidation; deletes queued in memory are lost with the process.
//!
//! ```toml
//! [strategy.delete-retry]
//! inline_retries = 3            # in-line retries of a failed delete, in the write path
//! retry_backoff_ms = 10         # wait before each in-line retry
//! queue = "memory"              # "memory" | "outbox"
//! queue_backoff_ms = 100        # wait before a queued retry; also the outbox poll interval
//! max_queue_retries = 5         # queued attempts before `needs-human`
//! delete_failure_probability = 0.0  # fault knob: share of the write path's delete attempts
//!                                   # that the application refuses (forces the queue)
//! ```

use super::chance::{check_probability, Chance};
use super::retry_queue::{QueueKind, RetryQueue};
use super::{cache_aside_read, typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::StepError;
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const NAME: &str = "delete-retry";

pub const REG: Registration = Registration {
    name: NAME,
    about: "db-then-delete with failed deletes retried in line, then via a queue (seed 4.2)",
    configure: typed::<Settings>,
};

/// Settings of `delete-retry` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub inline_retries: u32,
    pub retry_backoff_ms: u64,
    pub queue: QueueKind,
    pub queue_backoff_ms: u64,
    pub max_queue_retries: u32,
    pub delete_failure_probability: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            inline_retries: 3,
            retry_backoff_ms: 10,
            queue: QueueKind::Memory,
            queue_backoff_ms: 100,
            max_queue_retries: 5,
            delete_failure_probability: 0.0,
        }
    }
}

impl super::Settings for Settings {
    fn check(&self) -> Result<(), String> {
        check_probability(
            "delete_failure_probability",
            self.delete_failure_probability,
        )?;
        if self.max_queue_retries == 0 {
            return Err("`max_queue_retries` must be at least 1".into());
        }
        Ok(())
    }

    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        let s = self.clone();
        Ok(Arc::new(DeleteRetry {
            queue: RetryQueue::new(s.queue, s.queue_backoff_ms, s.max_queue_retries, env)?,
            chance: Chance::new(env.seed, NAME),
            s,
        }))
    }
}

pub struct DeleteRetry {
    s: Settings,
    queue: RetryQueue,
    chance: Chance,
}

impl DeleteRetry {
    /// One delete attempt of the write path (possibly refused by the fault knob).
    async fn try_delete(&self, c: &mut Session, key: i64, attempt: u32) -> bool {
        let r = if self.chance.hit(self.s.delete_failure_probability) {
            Err(StepError::Fail(
                "delete refused by the application (delete_failure_probability)".into(),
            ))
        } else {
            cache::del(&mut c.conns.cache_write, key).await
        };
        let detail = json!({ "attempt": attempt });
        c.trace_detail("cache-del", key, None, detail, &r);
        r.is_ok()
    }
}

#[async_trait]
impl Strategy for DeleteRetry {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        c.write_db(key, value).await?;
        // The write is committed whatever happens to its delete.
        for attempt in 0..=self.s.inline_retries {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(self.s.retry_backoff_ms)).await;
                c.step(
                    "retry",
                    crate::history::EventType::Info,
                    key,
                    None,
                    Some(json!({ "attempt": attempt })),
                );
            }
            if self.try_delete(c, key, attempt).await {
                return Ok(());
            }
        }
        self.queue.enqueue(c, key).await;
        Ok(())
    }

    async fn start(&self) -> anyhow::Result<()> {
        self.queue.start().await
    }

    async fn quiesce(&self) {
        self.queue.quiesce().await
    }

    async fn kill_workers(&self) -> bool {
        self.queue.kill().await;
        true
    }

    async fn restart_workers(&self) -> anyhow::Result<()> {
        self.queue.restart();
        Ok(())
    }

    fn extra(&self) -> Option<serde_json::Value> {
        Some(self.queue.extra())
    }
}
