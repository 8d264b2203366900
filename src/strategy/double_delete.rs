//! `double-delete` (seed 4.1, delayed double delete): delete the cache entry, write the
//! database, wait `delay_ms`, delete again. The second delete removes an old value that a
//! reader re-cached between the first delete and the commit (the race of `delete-then-db`,
//! seed 3.3).
//!
//! By default the second delete is scheduled asynchronously (a spawned task with its own
//! connection on the `cache-write` role): the write completes after the first delete and the
//! database write. With `inline = true` the write path sleeps and deletes itself (the write's
//! latency grows by `delay_ms`; keep `delay_ms` below the workload's `op_timeout_ms`).
//!
//! Every delete is traced as `cache-del` with `detail.delete` 1 or 2 and `detail.write_value`;
//! the asynchronous second delete is recorded by a worker process (with `detail.writer`).
//! `quiesce` waits for every scheduled second delete. `kill_workers` drops the scheduled ones
//! (as a crash of the application would); writes after it schedule theirs normally, so
//! `restart_workers` has nothing to do.
//!
//! Known races: a reader whose fill lands more than `delay_ms` after the first delete
//! re-caches the old value for good (until the TTL): the delay must exceed the read path's
//! duration, which is the seed's "how to determine the sleep time"; readers see the old value
//! until the second delete; a failed first delete refuses the write; a failed second delete
//! leaves a re-cached old value until the TTL; scheduled second deletes die with the
//! application (`kill_workers`).
//!
//! ```toml
//! [strategy.double-delete]
//! delay_ms = 500     # wait between the database write and the second delete
//! inline = false     # true: sleep in the write path instead of scheduling the second delete
//! ```

use super::pool::Pool;
use super::workers::{Tasks, WorkerLog};
use super::{cache_aside_read, typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::{CacheConn, StepError};
use crate::history::EventType;
use crate::infra::Role;
use crate::session::Session;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const REG: Registration = Registration {
    name: "double-delete",
    about: "delete, write the database, wait, delete again (delayed double delete, seed 4.1)",
    configure: typed::<Settings>,
};

/// Settings of `double-delete` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub delay_ms: u64,
    pub inline: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            delay_ms: 500,
            inline: false,
        }
    }
}

impl super::Settings for Settings {
    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(DoubleDelete::new(self.clone(), env)?))
    }
}

pub struct DoubleDelete {
    s: Settings,
    tasks: Tasks,
    pool: Arc<Pool<CacheConn>>,
    log: WorkerLog,
    op_timeout: Duration,
    second: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    failed: AtomicU64,
    killed: AtomicU64,
}

impl DoubleDelete {
    fn new(s: Settings, env: &Env) -> anyhow::Result<Self> {
        Ok(DoubleDelete {
            s,
            tasks: Tasks::new(env.shutdown.clone()),
            pool: Pool::cache(&env.addrs, Role::CacheWrite, env.op_timeout)?,
            log: WorkerLog::new(env, 0),
            op_timeout: env.op_timeout,
            second: Arc::default(),
        })
    }

    fn delay(&self) -> Duration {
        Duration::from_millis(self.s.delay_ms)
    }
}

#[async_trait]
impl Strategy for DoubleDelete {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        let r = cache::del(&mut c.conns.cache_write, key).await;
        let detail = json!({ "delete": 1, "write_value": value });
        c.trace_detail("cache-del", key, None, detail, &r);
        if let Err(e) = r {
            return Err(StepError::Fail(format!(
                "cache delete failed, write refused: {}",
                e.msg()
            )));
        }
        c.write_db(key, value).await?;
        let detail = json!({ "delete": 2, "write_value": value, "delay_ms": self.s.delay_ms });
        if self.s.inline {
            tokio::time::sleep(self.delay()).await;
            let r = cache::del(&mut c.conns.cache_write, key).await;
            c.trace_detail("cache-del", key, None, detail, &r);
            // The write is committed: a failed second delete is recorded, not returned.
            return Ok(());
        }
        let (pool, log, counts, delay) = (
            self.pool.clone(),
            self.log.clone(),
            self.second.clone(),
            self.delay(),
        );
        let writer = c.process;
        self.tasks.spawn(async move {
            tokio::time::sleep(delay).await;
            let mut conn = pool.take();
            let r = cache::del(&mut conn, key).await;
            let mut detail = detail;
            detail["writer"] = writer.into();
            log.outcome("cache-del", key, None, detail, &r);
            let n = if r.is_ok() {
                &counts.ok
            } else {
                &counts.failed
            };
            n.fetch_add(1, Ordering::Relaxed);
        });
        Ok(())
    }

    async fn quiesce(&self) {
        // Every scheduled second delete is due within `delay_ms`, plus its own timeout.
        let limit = self.delay() + 2 * self.op_timeout + Duration::from_secs(1);
        if !self.tasks.wait(limit).await {
            self.log.always(
                "quiesce",
                EventType::Info,
                None,
                None,
                Some(json!({ "pending_second_deletes": self.tasks.running() })),
            );
        }
    }

    async fn kill_workers(&self) -> bool {
        let lost = self.tasks.running() as u64;
        self.tasks.kill();
        self.second.killed.fetch_add(lost, Ordering::Relaxed);
        self.log.always(
            "workers-killed",
            EventType::Info,
            None,
            None,
            Some(json!({ "lost_second_deletes": lost })),
        );
        true
    }

    fn extra(&self) -> Option<serde_json::Value> {
        (!self.s.inline).then(|| {
            json!({
                "second_deletes": self.second.ok.load(Ordering::Relaxed),
                "second_delete_failures": self.second.failed.load(Ordering::Relaxed),
                "second_deletes_killed": self.second.killed.load(Ordering::Relaxed),
            })
        })
    }
}
