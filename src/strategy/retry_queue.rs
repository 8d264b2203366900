//! The asynchronous retry queue of `delete-retry`: deletes that failed in the write path are
//! queued and retried by one worker task until they succeed or `max_queue_retries` attempts
//! failed (then `needs-human`). Two backends:
//!
//! * memory: a due-time ordered heap in the process; lost with the process (`kill`);
//! * outbox: rows of the `outbox` table (see [`outbox`]); survive a crash.
//!
//! The worker records its steps as process `WORKER_BASE` (`cache-del` with `detail.queue` and
//! `detail.attempt`).

mod outbox;

use super::workers::{Tasks, WorkerLog};
use super::Env;
use crate::cache;
use crate::conn::{CacheConn, RoleAddrs};
use crate::history::EventType;
use crate::infra::Role;
use crate::session::Session;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Where queued deletes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueKind {
    Memory,
    Outbox,
}

impl QueueKind {
    fn as_str(self) -> &'static str {
        match self {
            QueueKind::Memory => "memory",
            QueueKind::Outbox => "outbox",
        }
    }
}

/// A queued delete of the memory backend, ordered by due time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Item {
    due: Instant,
    seq: u64,
    key: i64,
    attempts: u32,
}

#[derive(Default)]
struct Counts {
    queued: AtomicU64,
    enqueue_failures: AtomicU64,
    deleted: AtomicU64,
    failed_attempts: AtomicU64,
    needs_human: AtomicU64,
    lost: AtomicU64,
    /// Outbox rows still pending after quiescence.
    left: AtomicU64,
}

/// State shared by the strategy and its worker.
struct Inner {
    kind: QueueKind,
    backoff: Duration,
    max_retries: u32,
    addrs: RoleAddrs,
    op_timeout: Duration,
    log: WorkerLog,
    heap: Mutex<BinaryHeap<Reverse<Item>>>,
    /// The memory worker is attempting a popped item.
    inflight: AtomicBool,
    seq: AtomicU64,
    notify: Notify,
    counts: Counts,
}

/// The queue and its worker.
pub struct RetryQueue {
    inner: Arc<Inner>,
    tasks: Tasks,
    dead: AtomicBool,
}

impl RetryQueue {
    pub fn new(kind: QueueKind, backoff_ms: u64, max: u32, env: &Env) -> anyhow::Result<Self> {
        // Fails early on a bad URL; the worker opens its own connection.
        env.addrs.cache_conn(Role::CacheWrite, env.op_timeout)?;
        Ok(RetryQueue {
            inner: Arc::new(Inner {
                kind,
                backoff: Duration::from_millis(backoff_ms),
                max_retries: max,
                addrs: env.addrs.clone(),
                op_timeout: env.op_timeout,
                log: WorkerLog::new(env, 0),
                heap: Mutex::default(),
                inflight: AtomicBool::new(false),
                seq: AtomicU64::new(0),
                notify: Notify::new(),
                counts: Counts::default(),
            }),
            tasks: Tasks::new(env.shutdown.clone()),
            dead: AtomicBool::new(false),
        })
    }

    /// Creates the outbox table (outbox backend) and starts the worker.
    pub async fn start(&self) -> anyhow::Result<()> {
        if self.inner.kind == QueueKind::Outbox {
            outbox::create(&self.inner.addrs).await?;
        }
        self.spawn_worker();
        Ok(())
    }

    fn spawn_worker(&self) {
        let (inner, generation) = (self.inner.clone(), self.tasks.generation());
        match self.inner.kind {
            QueueKind::Memory => self.tasks.spawn(memory_worker(inner, generation)),
            QueueKind::Outbox => self.tasks.spawn(outbox::worker(inner)),
        }
    }

    /// Queues a delete of `key` after the write path gave up on it.
    pub async fn enqueue(&self, c: &mut Session, key: i64) {
        let q = &self.inner;
        let detail = json!({ "queue": q.kind.as_str() });
        let r = match q.kind {
            QueueKind::Memory => {
                let item = Item {
                    due: Instant::now(),
                    seq: q.seq.fetch_add(1, Ordering::Relaxed),
                    key,
                    attempts: 0,
                };
                q.heap
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Reverse(item));
                Ok(())
            }
            QueueKind::Outbox => outbox::insert(&mut c.conns.db, key).await,
        };
        c.trace_detail("enqueue", key, None, detail, &r);
        let n = match r {
            Ok(()) => &q.counts.queued,
            // The invalidation is lost: the old value stays until the TTL.
            Err(_) => &q.counts.enqueue_failures,
        };
        n.fetch_add(1, Ordering::Relaxed);
        q.notify.notify_one();
    }

    /// The application dies: the worker stops mid-way; the memory queue is lost.
    pub async fn kill(&self) {
        self.tasks.kill();
        self.dead.store(true, Ordering::SeqCst);
        let q = &self.inner;
        let lost = match q.kind {
            QueueKind::Memory => {
                let mut heap = q.heap.lock().unwrap_or_else(|p| p.into_inner());
                let n = heap.len() as u64 + q.inflight.swap(false, Ordering::SeqCst) as u64;
                heap.clear();
                n
            }
            QueueKind::Outbox => 0,
        };
        q.counts.lost.fetch_add(lost, Ordering::Relaxed);
        q.log.always(
            "workers-killed",
            EventType::Info,
            None,
            None,
            Some(json!({ "queue": q.kind.as_str(), "lost_deletes": lost })),
        );
    }

    /// Starts the worker again (the outbox resumes from its rows).
    pub fn restart(&self) {
        if self.dead.swap(false, Ordering::SeqCst) {
            // A worker killed mid-attempt may not have cleared its flag.
            self.inner.inflight.store(false, Ordering::SeqCst);
            self.spawn_worker();
        }
    }

    /// Drains the queue (bounded in time), then stops the worker.
    pub async fn quiesce(&self) {
        self.restart();
        let q = &self.inner;
        let attempts = q.max_retries + 1;
        let limit = attempts * (q.backoff + 2 * q.op_timeout) + Duration::from_secs(2);
        let deadline = Instant::now() + limit;
        let mut db = crate::conn::DbConn::new(q.addrs.db_opts(Role::Db), q.op_timeout);
        let left = loop {
            let left = match q.kind {
                QueueKind::Memory => {
                    let heap = q.heap.lock().unwrap_or_else(|p| p.into_inner());
                    heap.len() as u64 + q.inflight.load(Ordering::SeqCst) as u64
                }
                QueueKind::Outbox => outbox::pending(&mut db).await.unwrap_or(u64::MAX),
            };
            if left == 0 || Instant::now() >= deadline {
                break left;
            }
            q.notify.notify_one();
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        q.counts.left.store(left, Ordering::Relaxed);
        if left > 0 {
            q.log.always(
                "quiesce",
                EventType::Info,
                None,
                None,
                Some(json!({ "queue": q.kind.as_str(), "pending_deletes": left })),
            );
        }
        self.tasks.kill();
        self.dead.store(true, Ordering::SeqCst);
    }

    /// Figures for summary.json.
    pub fn extra(&self) -> serde_json::Value {
        let c = &self.inner.counts;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "queue": self.inner.kind.as_str(),
            "queued": n(&c.queued),
            "enqueue_failures": n(&c.enqueue_failures),
            "queued_deletes_ok": n(&c.deleted),
            "queued_delete_failures": n(&c.failed_attempts),
            "needs_human": n(&c.needs_human),
            "lost_on_kill": n(&c.lost),
            "pending_after_quiesce": n(&c.left),
        })
    }
}

impl Inner {
    /// One queued delete attempt on the worker's connection; true if it succeeded.
    async fn attempt(&self, conn: &mut CacheConn, key: i64, attempt: u32, id: Option<i64>) -> bool {
        let r = cache::del(conn, key).await;
        let detail = json!({ "queue": self.kind.as_str(), "attempt": attempt, "id": id });
        self.log.outcome("cache-del", key, None, detail, &r);
        let n = if r.is_ok() {
            &self.counts.deleted
        } else {
            &self.counts.failed_attempts
        };
        n.fetch_add(1, Ordering::Relaxed);
        r.is_ok()
    }

    /// Gives up on `key`: a person must look at it.
    fn needs_human(&self, key: i64, attempts: u32) {
        self.counts.needs_human.fetch_add(1, Ordering::Relaxed);
        self.log.always(
            "needs-human",
            EventType::Info,
            Some(key),
            None,
            Some(json!({ "queue": self.kind.as_str(), "attempts": attempts })),
        );
    }
}

/// The memory backend's worker: attempts due items in order; failed ones are pushed back
/// `backoff` later.
async fn memory_worker(q: Arc<Inner>, generation: CancellationToken) {
    let Ok(mut conn) = q.addrs.cache_conn(Role::CacheWrite, q.op_timeout) else {
        return;
    };
    loop {
        let due = q
            .heap
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .peek()
            .map(|Reverse(i)| i.due);
        match due {
            None => {
                q.notify.notified().await;
                continue;
            }
            Some(due) if due > Instant::now() => {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = q.notify.notified() => {}
                }
                continue;
            }
            Some(_) => {}
        }
        let item = {
            let mut heap = q.heap.lock().unwrap_or_else(|p| p.into_inner());
            q.inflight.store(true, Ordering::SeqCst);
            heap.pop()
        };
        let Some(Reverse(mut item)) = item else {
            q.inflight.store(false, Ordering::SeqCst);
            continue;
        };
        item.attempts += 1;
        let ok = q.attempt(&mut conn, item.key, item.attempts, None).await;
        let mut heap = q.heap.lock().unwrap_or_else(|p| p.into_inner());
        if generation.is_cancelled() {
            // Killed while attempting: the item died with the worker.
            return;
        }
        if !ok {
            if item.attempts >= q.max_retries {
                q.needs_human(item.key, item.attempts);
            } else {
                item.due = Instant::now() + q.backoff;
                heap.push(Reverse(item));
            }
        }
        q.inflight.store(false, Ordering::SeqCst);
    }
}
