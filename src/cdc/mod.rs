//! Binlog-driven cache invalidation (change data capture, like Alibaba Canal; seed 4.3).
//!
//! A [`Consumer`] registers with the database as a replica (its own server id) through
//! mysql_async's binlog stream, decodes the rows events of the register table ([`decode`]) and
//! deletes each changed key in Redis. A failed delete waits in a retry queue ([`queue`]) with
//! backoff. After a dropped connection (or no event and no heartbeat for three heartbeat
//! periods) it reconnects and resumes at the end of the last transaction it finished.
//!
//! Its saved position ([`position::SavedPosition`]) survives a kill of the consumer task (the
//! retry queue does not) and never passes a delete that has not succeeded, so a restart from the
//! saved position loses no invalidation; a restart from the binlog's end loses every write made
//! while the consumer was dead.
//!
//! What it does goes into the history as internal events of process [`ConsumerConfig::process`]:
//! `binlog-start`, `binlog-event` (one per changed register row: key, after value, version),
//! `binlog-del` (ok/fail, per attempt), `binlog-retry` (a failed delete queued, or given up),
//! `binlog-reconnect` (info: the stream dropped; ok: resumed; fail: a connect attempt failed),
//! `binlog-kill`, `binlog-drain`. Per-row events and successful deletes are recorded only when
//! the workload traces steps.
//!
//! Tested against MariaDB 10.11; written for MySQL 8 as well (GTID events, V2 rows events,
//! compressed transaction payloads, `SHOW BINARY LOG STATUS`), but not run against it here.

pub mod decode;
mod invalidate;
pub mod lag;
pub mod position;
pub mod queue;
mod server;
mod task;

use crate::history::recorder::Recorder;
use crate::history::EventType;
pub use decode::TableFilter;
use lag::{Lag, LagReport};
use position::{Position, SavedPosition};
use queue::RetryPolicy;
use serde::Serialize;
pub use server::{binlog_end, check_server, BinlogError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How a consumer connects and behaves.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The replica server id it registers with (unique among the server's replicas).
    pub server_id: u32,
    /// The database, as the consumer reaches it (the `binlog` role's address).
    pub db: mysql_async::Opts,
    /// Redis, as the consumer reaches it (the `cache-write` role's address).
    pub redis_url: String,
    /// The run's injected faults, which its cache deletes obey like every invalidation.
    pub injected: std::sync::Arc<crate::injected::Injected>,
    pub table: TableFilter,
    pub retry: RetryPolicy,
    /// The server sends a heartbeat after this long without events; three missed periods mean
    /// a dead connection.
    pub heartbeat: Duration,
    /// Timeout of each connect step and of each delete.
    pub op_timeout: Duration,
    /// First delay before reconnecting; doubles up to 2 s.
    pub reconnect_backoff: Duration,
    /// Test hook: the share of delete attempts that fail without being sent (0..=1).
    pub fail_delete_probability: f64,
    pub fail_seed: u64,
    /// Process id in the history (negative: see [`crate::history::process`]).
    pub process: i64,
    /// Record per-row events and successful deletes.
    pub trace: bool,
}

/// Where a (re)started consumer begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    /// The binlog's current end (resolved when starting, or at the first connect if the
    /// database cannot be reached then).
    End,
    /// The saved position (the end, if none was ever saved).
    Saved,
    At(Position),
}

/// Counters of what the consumer did (summary.json `extra.consumer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// Changed register rows decoded.
    pub row_changes: u64,
    pub deletes_ok: u64,
    pub deletes_failed: u64,
    /// Failed deletes queued for a retry.
    pub retries: u64,
    /// Deletes given up after `retry_max_attempts`.
    pub gave_up: u64,
    /// Dropped streams.
    pub reconnects: u64,
    pub decode_errors: u64,
    pub starts: u64,
    pub kills: u64,
}

#[derive(Default)]
struct Counters {
    row_changes: AtomicU64,
    deletes_ok: AtomicU64,
    deletes_failed: AtomicU64,
    retries: AtomicU64,
    gave_up: AtomicU64,
    reconnects: AtomicU64,
    decode_errors: AtomicU64,
    starts: AtomicU64,
    kills: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Where the running consumer is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// End of the last transaction it finished (every delete done or queued).
    pub cursor: Option<Position>,
    /// Deletes waiting in the retry queue.
    pub queued: usize,
    pub connected: bool,
}

/// State shared by the consumer task and its owner; outlives the task.
#[derive(Default)]
struct Shared {
    saved: SavedPosition,
    progress: Mutex<Progress>,
    lag: Lag,
    counters: Counters,
}

struct Running {
    handle: JoinHandle<()>,
    cancel: CancellationToken,
}

/// A binlog consumer that invalidates cache keys; see the module doc.
pub struct Consumer {
    cfg: Arc<ConsumerConfig>,
    rec: Recorder,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    running: Mutex<Option<Running>>,
}

impl Consumer {
    /// A consumer that is not running yet; `shutdown` stops it with the harness.
    pub fn new(cfg: ConsumerConfig, rec: Recorder, shutdown: CancellationToken) -> Self {
        Consumer {
            cfg: Arc::new(cfg),
            rec,
            shared: Arc::default(),
            shutdown,
            running: Mutex::new(None),
        }
    }

    /// Starts the consumer task at `at` (killing a running one first) and returns the position
    /// it starts from (None: the end will be resolved at the first connect). Fails only when the
    /// database is reachable but cannot serve a binlog (binary logging off, not row format).
    pub async fn start(&self, at: StartAt) -> anyhow::Result<Option<Position>> {
        self.kill_quietly();
        let from = match at.clone() {
            StartAt::At(p) => Some(p),
            StartAt::Saved => match self.shared.saved.get() {
                Some(p) => Some(p),
                None => self.resolve_end().await?,
            },
            StartAt::End => self.resolve_end().await?,
        };
        if let Some(p) = &from {
            self.shared.saved.set(p.clone());
        }
        *self.lock_progress() = Progress {
            cursor: from.clone(),
            queued: 0,
            connected: false,
        };
        bump(&self.shared.counters.starts);
        self.record(
            "binlog-start",
            EventType::Ok,
            serde_json::json!({
                "at": match at { StartAt::End => "end", StartAt::Saved => "saved", StartAt::At(_) => "position" },
                "from": from.as_ref().map(|p| p.to_string()),
            }),
        );
        let cancel = self.shutdown.child_token();
        let t = task::Task::new(
            self.cfg.clone(),
            self.rec.clone(),
            self.shared.clone(),
            cancel.clone(),
            from.clone(),
        )?;
        let handle = tokio::spawn(t.run());
        *self.lock_running() = Some(Running { handle, cancel });
        Ok(from)
    }

    /// The binlog's end through the consumer's own connection; None when unreachable now.
    async fn resolve_end(&self) -> anyhow::Result<Option<Position>> {
        let t = self.cfg.op_timeout.max(Duration::from_secs(1));
        let conn = tokio::time::timeout(t, mysql_async::Conn::new(self.cfg.db.clone())).await;
        let Ok(Ok(mut conn)) = conn else {
            return Ok(None);
        };
        let r = tokio::time::timeout(t, async {
            check_server(&mut conn).await?;
            binlog_end(&mut conn).await
        })
        .await;
        let _ = conn.disconnect().await;
        match r {
            Ok(Ok(p)) => Ok(Some(p)),
            Ok(Err(BinlogError::Unusable(m))) => Err(anyhow::anyhow!(m)),
            Ok(Err(BinlogError::Unreachable(_))) | Err(_) => Ok(None),
        }
    }

    /// Kills the consumer task as if its process died: the retry queue and the connection are
    /// lost, the saved position survives. Returns false when it was not running.
    pub fn kill(&self) -> bool {
        if !self.kill_quietly() {
            return false;
        }
        bump(&self.shared.counters.kills);
        let p = self.progress();
        self.record(
            "binlog-kill",
            EventType::Info,
            serde_json::json!({
                "saved": self.shared.saved.get().map(|p| p.to_string()),
                "queued_lost": p.queued,
            }),
        );
        true
    }

    fn kill_quietly(&self) -> bool {
        let Some(r) = self.lock_running().take() else {
            return false;
        };
        r.handle.abort();
        self.lock_progress().connected = false;
        true
    }

    /// Stops the consumer gracefully (closes its stream) and waits for it.
    pub async fn stop(&self) {
        let r = self.lock_running().take();
        if let Some(r) = r {
            r.cancel.cancel();
            if tokio::time::timeout(Duration::from_secs(5), r.handle)
                .await
                .is_err()
            {
                tracing::warn!("the binlog consumer did not stop in 5 s");
            }
        }
        self.lock_progress().connected = false;
    }

    pub fn is_running(&self) -> bool {
        self.lock_running()
            .as_ref()
            .is_some_and(|r| !r.handle.is_finished())
    }

    /// Waits until the consumer has finished every transaction up to `until` and its retry
    /// queue is empty, at most `limit`. Returns whether it caught up.
    pub async fn drain(&self, until: &Position, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let caught_up = loop {
            let p = self.progress();
            if p.queued == 0 && p.cursor.as_ref().is_some_and(|c| c >= until) {
                break true;
            }
            if !self.is_running() || Instant::now() >= deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let p = self.progress();
        self.record(
            "binlog-drain",
            if caught_up {
                EventType::Ok
            } else {
                EventType::Fail
            },
            serde_json::json!({
                "until": until.to_string(),
                "cursor": p.cursor.map(|c| c.to_string()),
                "queued": p.queued,
                "running": self.is_running(),
            }),
        );
        caught_up
    }

    /// The writer of `value` to `key` was acknowledged now (for the invalidation lag).
    pub fn acked(&self, key: i64, value: i64) {
        self.shared.lag.acked(key, value, self.rec.now());
    }

    pub fn lag(&self) -> LagReport {
        self.shared.lag.report()
    }

    pub fn saved_position(&self) -> Option<Position> {
        self.shared.saved.get()
    }

    pub fn progress(&self) -> Progress {
        self.lock_progress().clone()
    }

    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            row_changes: g(&c.row_changes),
            deletes_ok: g(&c.deletes_ok),
            deletes_failed: g(&c.deletes_failed),
            retries: g(&c.retries),
            gave_up: g(&c.gave_up),
            reconnects: g(&c.reconnects),
            decode_errors: g(&c.decode_errors),
            starts: g(&c.starts),
            kills: g(&c.kills),
        }
    }

    fn record(&self, f: &str, kind: EventType, detail: serde_json::Value) {
        self.rec
            .internal(self.cfg.process, f, kind, None, None, Some(detail));
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.shared
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        if let Some(r) = self.lock_running().take() {
            r.handle.abort();
        }
    }
}
