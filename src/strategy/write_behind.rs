//! `write-behind` (seed 2.4): a write sets the cache and is acknowledged; the database is
//! updated asynchronously. A flusher task wakes every `flush_interval_ms` and drains the buffer
//! in order, in batches of `batch_size` writes, each batch one transaction in which every write
//! is its own `UPDATE` (no coalescing: every acknowledged value must commit, or it is a lost
//! write). A batch that fails is retried; one whose outcome is unknown is looked up in the
//! commit log (values are unique) before it is retried, so it never commits twice.
//!
//! A write sets the cache and appends to the buffer under a per-key lock, as a cache component
//! would, so the buffer holds each key's writes in the order their values were cached.
//!
//! Reads are cache-aside: served from the cache; a miss reads the database and fills.
//!
//! Known races: acknowledged writes still in the buffer are lost when the application dies
//! (`kill_workers` drops the buffer; the checker counts lost writes); a miss reads the
//! database's older value while newer writes wait in the buffer (stale reads), and its fill can
//! land after a newer write's set (the cache keeps the older value while the database moves
//! on); an entry that expires before its write is flushed is read back older.
//!
//! ```toml
//! [strategy.write-behind]
//! flush_interval_ms = 100   # the flusher's period
//! batch_size = 100          # writes per transaction
//! ```

use super::workers::{Tasks, WorkerLog};
use super::{cache_aside_read, typed, Env, Outcome, ReadValue, Registration, Strategy};
use crate::cache;
use crate::conn::{DbConn, RoleAddrs, StepError};
use crate::history::EventType;
use crate::infra::Role;
use crate::register;
use crate::session::Session;
use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

pub const REG: Registration = Registration {
    name: "write-behind",
    about: "writes set the cache and are acknowledged; a flusher writes the database (seed 2.4)",
    configure: typed::<Settings>,
};

/// Settings of `write-behind` (defaults in the module doc).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub flush_interval_ms: u64,
    pub batch_size: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            flush_interval_ms: 100,
            batch_size: 100,
        }
    }
}

impl super::Settings for Settings {
    fn check(&self) -> Result<(), String> {
        if self.batch_size == 0 || self.flush_interval_ms == 0 {
            return Err("`batch_size` and `flush_interval_ms` must be at least 1".into());
        }
        Ok(())
    }

    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(WriteBehind::new(self.clone(), env)))
    }
}

#[derive(Default)]
struct Counts {
    flushed: AtomicU64,
    batches: AtomicU64,
    batch_retries: AtomicU64,
    lost: AtomicU64,
    left: AtomicU64,
}

/// State shared by the write path and the flusher.
struct Inner {
    s: Settings,
    /// Acknowledged writes not yet taken by the flusher: (key, value), in acknowledgement order.
    buf: Mutex<VecDeque<(i64, i64)>>,
    /// Writes taken by the flusher and not yet known committed.
    inflight: AtomicUsize,
    notify: Notify,
    addrs: RoleAddrs,
    op_timeout: Duration,
    log: WorkerLog,
    counts: Counts,
}

/// Per-key locks (striped) around a write's cache set and buffer append.
const STRIPES: usize = 64;

pub struct WriteBehind {
    inner: Arc<Inner>,
    stripes: Vec<tokio::sync::Mutex<()>>,
    tasks: Tasks,
    dead: AtomicBool,
}

impl WriteBehind {
    fn new(s: Settings, env: &Env) -> Self {
        WriteBehind {
            inner: Arc::new(Inner {
                s,
                buf: Mutex::default(),
                inflight: AtomicUsize::new(0),
                notify: Notify::new(),
                addrs: env.addrs.clone(),
                op_timeout: env.op_timeout,
                log: WorkerLog::new(env, 0),
                counts: Counts::default(),
            }),
            stripes: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            tasks: Tasks::new(env.shutdown.clone()),
            dead: AtomicBool::new(true),
        }
    }

    fn unflushed(&self) -> usize {
        let q = &self.inner;
        q.buf.lock().unwrap_or_else(|p| p.into_inner()).len() + q.inflight.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Strategy for WriteBehind {
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue> {
        cache_aside_read(c, key).await
    }

    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()> {
        let _order = self.stripes[key.rem_euclid(STRIPES as i64) as usize]
            .lock()
            .await;
        let ttl = c.ttl_ms;
        let r = cache::set(&mut c.conns.cache_write, key, value, ttl).await;
        c.trace("cache-set", key, Some(value), &r);
        if let Err(e) = r {
            return Err(StepError::Fail(format!(
                "cache set failed, write refused: {}",
                e.msg()
            )));
        }
        let q = &self.inner;
        q.buf
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((key, value));
        c.step("buffer", EventType::Ok, key, Some(value), None);
        Ok(())
    }

    async fn start(&self) -> anyhow::Result<()> {
        self.restart_workers().await
    }

    async fn quiesce(&self) {
        let _ = self.restart_workers().await;
        let q = &self.inner;
        let deadline = Instant::now() + Duration::from_secs(10) + 4 * q.op_timeout;
        while self.unflushed() > 0 && Instant::now() < deadline {
            q.notify.notify_one();
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = self.unflushed();
        q.counts.left.store(left as u64, Ordering::Relaxed);
        if left > 0 {
            let detail = json!({ "unflushed_writes": left });
            q.log
                .always("quiesce", EventType::Info, None, None, Some(detail));
        }
        self.tasks.kill();
        self.dead.store(true, Ordering::SeqCst);
    }

    async fn kill_workers(&self) -> bool {
        self.tasks.kill();
        self.dead.store(true, Ordering::SeqCst);
        let q = &self.inner;
        // The buffer and the batch in flight die with the process (the batch's transaction
        // rolls back unless its COMMIT already reached the database).
        let lost = {
            let mut buf = q.buf.lock().unwrap_or_else(|p| p.into_inner());
            let n = buf.len() + q.inflight.swap(0, Ordering::SeqCst);
            buf.clear();
            n as u64
        };
        q.counts.lost.fetch_add(lost, Ordering::Relaxed);
        let detail = json!({ "lost_buffered_writes": lost });
        q.log
            .always("workers-killed", EventType::Info, None, None, Some(detail));
        true
    }

    async fn restart_workers(&self) -> anyhow::Result<()> {
        if self.dead.swap(false, Ordering::SeqCst) {
            self.tasks.spawn(flusher(self.inner.clone()));
        }
        Ok(())
    }

    fn extra(&self) -> Option<serde_json::Value> {
        let c = &self.inner.counts;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Some(json!({
            "flushed_writes": n(&c.flushed),
            "batches": n(&c.batches),
            "batch_retries": n(&c.batch_retries),
            "lost_on_kill": n(&c.lost),
            "unflushed_after_quiesce": n(&c.left),
        }))
    }
}

/// The flusher: every interval (or when asked), drains the buffer batch by batch.
async fn flusher(q: Arc<Inner>) {
    let mut db = DbConn::new(q.addrs.db_opts(Role::Db), q.op_timeout);
    let mut tick = tokio::time::interval(Duration::from_millis(q.s.flush_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = q.notify.notified() => {}
        }
        loop {
            let batch: Vec<(i64, i64)> = {
                let mut buf = q.buf.lock().unwrap_or_else(|p| p.into_inner());
                let n = buf.len().min(q.s.batch_size);
                q.inflight.store(n, Ordering::SeqCst);
                buf.drain(..n).collect()
            };
            if batch.is_empty() {
                break;
            }
            flush(&q, &mut db, &batch).await;
            q.inflight.store(0, Ordering::SeqCst);
        }
    }
}

/// Commits one batch, retrying until it is known committed.
async fn flush(q: &Inner, db: &mut DbConn, batch: &[(i64, i64)]) {
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        let items = batch.to_vec();
        let r = db.run(move |c| Box::pin(apply(c, items))).await;
        let (versions, result) = match r {
            Ok(v) => (Some(v), Ok(())),
            // Unknown outcome: the commit log says whether the transaction committed.
            Err(StepError::Info(m)) => match committed(db, batch[batch.len() - 1]).await {
                Ok(true) => (Some(vec![None; batch.len()]), Ok(())),
                _ => (None, Err(StepError::Info(m))),
            },
            Err(e) => (None, Err(e)),
        };
        let detail = json!({ "writes": batch.len(), "attempt": attempt });
        q.log.outcome("flush", batch[0].0, None, detail, &result);
        if let Some(versions) = versions {
            for (&(k, v), ver) in batch.iter().zip(versions) {
                let d = ver.map(|ver| json!({ "version": ver }));
                q.log.step("db-commit", EventType::Ok, Some(k), Some(v), d);
            }
            q.counts.batches.fetch_add(1, Ordering::Relaxed);
            let n = batch.len() as u64;
            q.counts.flushed.fetch_add(n, Ordering::Relaxed);
            return;
        }
        q.counts.batch_retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(q.s.flush_interval_ms)).await;
    }
}

/// One transaction: every write its own UPDATE, in order; returns the versions.
async fn apply(
    c: &mut mysql_async::Conn,
    items: Vec<(i64, i64)>,
) -> mysql_async::Result<Vec<Option<i64>>> {
    c.query_drop("BEGIN").await?;
    let mut versions = Vec::with_capacity(items.len());
    for (k, v) in items {
        versions.push(register::write(c, k, v).await?);
    }
    c.query_drop("COMMIT").await?;
    Ok(versions)
}

/// Whether the write of `value` to `key` is in the commit log (values are unique per run).
async fn committed(db: &mut DbConn, (key, value): (i64, i64)) -> Result<bool, StepError> {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE k = {key} AND v = {value}",
        register::LOG_TABLE
    );
    let n: Option<u64> = db.run(move |c| c.query_first(sql)).await?;
    Ok(n.unwrap_or(0) > 0)
}
