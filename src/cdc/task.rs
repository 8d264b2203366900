//! The consumer task: one loop that reads the binlog stream, hands changed keys to the
//! [`Invalidator`], retries failed deletes when they are due, reconnects after a dropped stream,
//! and publishes its position. Everything it owns (stream, retry queue, cursor) dies with it;
//! the saved position and the counters live in [`super::Shared`].

use super::decode::{decode, Change};
use super::invalidate::Invalidator;
use super::position::{Mark, Position, Tracker};
use super::{binlog_end, bump, ConsumerConfig, Progress, Shared};
use crate::history::recorder::Recorder;
use crate::history::EventType;
use futures_util::{FutureExt, StreamExt};
use mysql_async::binlog::events::Event;
use mysql_async::binlog::EventType as BinlogType;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStream, BinlogStreamRequest};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const RECONNECT_MAX: Duration = Duration::from_secs(2);
/// Events read without waiting before the collected deletes are sent.
const MAX_EVENTS_PER_FLUSH: usize = 4096;

pub(super) struct Task {
    cfg: Arc<ConsumerConfig>,
    rec: Recorder,
    shared: Arc<Shared>,
    cancel: CancellationToken,
    inv: Invalidator,
    /// End of the last finished transaction: where a reconnect resumes (None: the binlog's end,
    /// not resolved yet).
    cursor: Option<Position>,
    stream: Option<Open>,
    /// Consecutive failed connects.
    failures: u32,
    /// GTID of the transaction being read, when the server sends GTIDs.
    gtid: Option<String>,
    ever_connected: bool,
    next_connect: Instant,
    last_event: Instant,
}

/// An open binlog stream and what is known about it.
struct Open {
    stream: BinlogStream,
    tracker: Tracker,
    /// The server checksums its binlog events.
    checksum: bool,
    /// A format description event has been read.
    seen_fde: bool,
}

enum Wake {
    Cancel,
    Event(Option<mysql_async::Result<Event>>),
    Retry,
    Connect,
    Stall,
}

impl Task {
    pub(super) fn new(
        cfg: Arc<ConsumerConfig>,
        rec: Recorder,
        shared: Arc<Shared>,
        cancel: CancellationToken,
        from: Option<Position>,
    ) -> anyhow::Result<Task> {
        Ok(Task {
            inv: Invalidator::new(cfg.clone(), rec.clone(), shared.clone())?,
            cfg,
            rec,
            shared,
            cancel,
            cursor: from,
            stream: None,
            failures: 0,
            gtid: None,
            ever_connected: false,
            next_connect: Instant::now(),
            last_event: Instant::now(),
        })
    }

    pub(super) async fn run(mut self) {
        loop {
            let wake = {
                let due = self.inv.next_due();
                let stall = self.last_event + self.cfg.heartbeat * 3;
                let next_connect = self.next_connect;
                let connected = self.stream.is_some();
                let stream = self.stream.as_mut().map(|o| &mut o.stream);
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => Wake::Cancel,
                    _ = sleep_until(due), if due.is_some() => Wake::Retry,
                    e = next_event(stream) => Wake::Event(e),
                    _ = tokio::time::sleep_until(next_connect.into()), if !connected => Wake::Connect,
                    _ = tokio::time::sleep_until(stall.into()), if connected => Wake::Stall,
                }
            };
            match wake {
                Wake::Cancel => break,
                Wake::Retry => {
                    self.inv.retry_due().await;
                    self.publish();
                }
                Wake::Event(Some(Ok(ev))) => self.on_events(ev).await,
                Wake::Event(Some(Err(e))) => self.drop_stream(format!("binlog stream: {e}")),
                Wake::Event(None) => self.drop_stream("the server ended the binlog stream".into()),
                Wake::Connect => {
                    let cancel = self.cancel.clone();
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = self.connect() => {}
                    }
                }
                Wake::Stall => self.drop_stream(format!(
                    "no event or heartbeat for {} ms",
                    (self.cfg.heartbeat * 3).as_millis()
                )),
            }
        }
        if let Some(o) = self.stream.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), o.stream.close()).await;
        }
    }

    async fn connect(&mut self) {
        match open_stream(&self.cfg, self.cursor.as_ref()).await {
            Ok((stream, from, checksum)) => {
                if self.cursor.is_none() {
                    self.shared.saved.set(from.clone());
                }
                self.cursor = Some(from.clone());
                self.stream = Some(Open {
                    stream,
                    tracker: Tracker::new(from.clone()),
                    checksum,
                    seen_fde: false,
                });
                self.failures = 0;
                self.last_event = Instant::now();
                if self.ever_connected {
                    self.event(
                        "binlog-reconnect",
                        EventType::Ok,
                        None,
                        None,
                        None,
                        json!({"from": from.to_string()}),
                    );
                }
                self.ever_connected = true;
                self.publish();
            }
            Err(e) => {
                self.failures += 1;
                self.next_connect = Instant::now() + self.backoff();
                self.event(
                    "binlog-reconnect",
                    EventType::Fail,
                    None,
                    None,
                    Some(e),
                    json!({"attempt": self.failures, "from": self.cursor.as_ref().map(|p| p.to_string())}),
                );
            }
        }
    }

    fn backoff(&self) -> Duration {
        let shift = self.failures.min(10);
        self.cfg
            .reconnect_backoff
            .saturating_mul(1 << shift)
            .min(RECONNECT_MAX)
    }

    /// Forgets the stream (and its half-read transaction) and schedules a reconnect from the
    /// cursor.
    fn drop_stream(&mut self, why: String) {
        self.stream = None;
        bump(&self.shared.counters.reconnects);
        self.next_connect = Instant::now() + self.cfg.reconnect_backoff;
        self.event(
            "binlog-reconnect",
            EventType::Info,
            None,
            None,
            Some(why),
            json!({"resume": self.cursor.as_ref().map(|p| p.to_string())}),
        );
        self.publish();
    }

    /// Handles `first` and every further event that is ready without waiting, then sends the
    /// collected deletes and publishes the position.
    async fn on_events(&mut self, first: Event) {
        self.on_event(first);
        let mut ended = None;
        for _ in 1..MAX_EVENTS_PER_FLUSH {
            if self.inv.batch_full() {
                break;
            }
            let Some(open) = self.stream.as_mut() else {
                break;
            };
            match open.stream.next().now_or_never() {
                None => break,
                Some(Some(Ok(ev))) => self.on_event(ev),
                Some(Some(Err(e))) => {
                    ended = Some(format!("binlog stream: {e}"));
                    break;
                }
                Some(None) => {
                    ended = Some("the server ended the binlog stream".to_string());
                    break;
                }
            }
        }
        self.inv.flush().await;
        match ended {
            Some(why) => self.drop_stream(why),
            None => self.publish(),
        }
    }

    fn on_event(&mut self, ev: Event) {
        self.last_event = Instant::now();
        let log_pos = u64::from(ev.header().log_pos());
        let (decoded, hold, pos) = {
            let Some(open) = self.stream.as_mut() else {
                return;
            };
            let raw = ev.header().event_type_raw();
            let pre_fde = open.checksum && !open.seen_fde;
            open.seen_fde |= raw == BinlogType::FORMAT_DESCRIPTION_EVENT as u8;
            let stream = &open.stream;
            let decoded = decode(&ev, |id| stream.get_tme(id), &self.cfg.table, pre_fde);
            let tracker = &mut open.tracker;
            // The start of the current transaction: a queued delete holds the saved position
            // there.
            let hold = tracker.boundary().clone();
            let mark = decoded.as_ref().map(|d| &d.mark).unwrap_or(&Mark::Data);
            if tracker.observe(log_pos, mark) {
                self.cursor = Some(tracker.boundary().clone());
            }
            let pos = Position::new(tracker.boundary().file.as_str(), log_pos);
            (decoded, hold, pos)
        };
        match decoded {
            Ok(d) => {
                if d.gtid.is_some() {
                    self.gtid = d.gtid;
                }
                for c in &d.changes {
                    self.on_change(c, &pos, &hold);
                }
            }
            Err(e) => {
                bump(&self.shared.counters.decode_errors);
                self.event(
                    "binlog-event",
                    EventType::Fail,
                    None,
                    None,
                    Some(e),
                    json!({"pos": pos.to_string()}),
                );
            }
        }
    }

    fn on_change(&mut self, c: &Change, pos: &Position, hold: &Position) {
        bump(&self.shared.counters.row_changes);
        if self.cfg.trace {
            self.event(
                "binlog-event",
                EventType::Ok,
                Some(c.key),
                c.after,
                None,
                json!({"op": c.kind.as_str(), "before": c.before, "version": c.version,
                       "pos": pos.to_string(), "gtid": self.gtid}),
            );
        }
        self.inv.add(c.key, c.after, hold.clone());
    }

    /// Publishes progress and the saved position: the cursor, held back by queued deletes.
    fn publish(&self) {
        let saved = match (self.inv.min_hold(), &self.cursor) {
            (Some(h), Some(c)) if h < c => Some(h.clone()),
            (_, Some(c)) => Some(c.clone()),
            (h, None) => h.cloned(),
        };
        if let Some(s) = saved {
            self.shared.saved.set(s);
        }
        *self
            .shared
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Progress {
            cursor: self.cursor.clone(),
            queued: self.inv.queued(),
            connected: self.stream.is_some(),
        };
    }

    fn event(
        &self,
        f: &str,
        kind: EventType,
        key: Option<i64>,
        value: Option<i64>,
        error: Option<String>,
        detail: serde_json::Value,
    ) {
        self.rec
            .internal_with_error(self.cfg.process, f, kind, key, value, error, Some(detail));
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

async fn next_event(s: Option<&mut BinlogStream>) -> Option<mysql_async::Result<Event>> {
    match s {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Connects through the consumer's address, announces what it understands, registers as a
/// replica and requests the binlog from `from` (None: the current end). Every step is bounded.
/// Returns the stream, where it starts, and whether the server checksums its events.
async fn open_stream(
    cfg: &ConsumerConfig,
    from: Option<&Position>,
) -> Result<(BinlogStream, Position, bool), String> {
    let t = cfg.op_timeout.max(Duration::from_secs(1));
    let step = |what: &'static str| {
        move |_: tokio::time::error::Elapsed| {
            format!("binlog {what} timed out after {} ms", t.as_millis())
        }
    };
    let mut conn = tokio::time::timeout(t, mysql_async::Conn::new(cfg.db.clone()))
        .await
        .map_err(step("connect"))?
        .map_err(|e| format!("binlog connect: {e}"))?;
    let from = match from {
        Some(p) => p.clone(),
        None => tokio::time::timeout(t, binlog_end(&mut conn))
            .await
            .map_err(step("position"))?
            .map_err(|e| e.to_string())?,
    };
    let checksum: Option<String> =
        tokio::time::timeout(t, conn.query_first("SELECT @@GLOBAL.binlog_checksum"))
            .await
            .map_err(step("setup"))?
            .map_err(|e| format!("binlog setup: {e}"))?;
    let checksum = !checksum.is_some_and(|c| c.eq_ignore_ascii_case("NONE"));
    // MariaDB sends its own events (GTID, annotate, checkpoints) instead of dummy ones, and
    // every server sends a heartbeat when idle (period in ns).
    let setup = format!(
        "SET @mariadb_slave_capability=4, @master_heartbeat_period={}",
        cfg.heartbeat.as_nanos()
    );
    tokio::time::timeout(t, conn.query_drop(setup))
        .await
        .map_err(step("setup"))?
        .map_err(|e| format!("binlog setup: {e}"))?;
    let req = BinlogStreamRequest::new(cfg.server_id)
        .with_filename(from.file.as_bytes())
        .with_pos(from.pos);
    let stream = tokio::time::timeout(t, conn.get_binlog_stream(req))
        .await
        .map_err(step("request"))?
        .map_err(|e| format!("binlog request: {e}"))?;
    Ok((stream, from, checksum))
}
