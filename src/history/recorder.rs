//! Recording a history while the run goes.
//!
//! Clients call [`Recorder::record`]; the event is stamped with the run's monotonic clock under
//! one short lock, so the order of events in the file is the order of their times. A writer
//! thread swaps the buffer out every few milliseconds, formats the events and writes them to
//! `history.jsonl`, so a crash of the harness leaves every event up to the last write readable.
//!
//! Compressed (`history.jsonl.zst`, [`Recorder::to_compressed_file`]): the same lines go
//! through one zstd stream, flushed (a complete block on disk) at least every second, so a
//! killed harness leaves a readable prefix up to its last flush; the frame is ended on finish.

use super::{Event, EventType, Source};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The run's one clock: nanoseconds since the run started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn start() -> Self {
        Clock {
            start: Instant::now(),
        }
    }

    /// Nanoseconds since the run started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn instant_of(&self, ns: u64) -> Instant {
        self.start + Duration::from_nanos(ns)
    }
}

struct Shared {
    buf: Mutex<Vec<Event>>,
    wake: Condvar,
    closed: AtomicBool,
    /// Events recorded so far (for progress displays).
    count: AtomicU64,
    /// Completed client operations, and `ok` reads served by the cache (kept whether or not
    /// the history is written: `bench harness` compares the two).
    ops_done: AtomicU64,
    read_hits: AtomicU64,
    enabled: bool,
}

/// A cheap, cloneable handle that appends events to the history.
#[derive(Clone)]
pub struct Recorder {
    clock: Clock,
    shared: Arc<Shared>,
}

/// Owns the writer thread; [`HistoryWriter::finish`] drains and closes the file.
pub struct HistoryWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<std::io::Result<u64>>>,
}

impl Recorder {
    /// Starts recording into `path` (created; must not exist).
    pub fn to_file(path: &Path, clock: Clock) -> std::io::Result<(Recorder, HistoryWriter)> {
        let file = File::options().write(true).create_new(true).open(path)?;
        Ok(Self::with_sink(Some(Sink::Plain(file)), clock))
    }

    /// Starts recording into `path` (created; must not exist) as one zstd stream (level 3),
    /// flushed at least every [`FLUSH_EVERY`].
    pub fn to_compressed_file(
        path: &Path,
        clock: Clock,
    ) -> std::io::Result<(Recorder, HistoryWriter)> {
        let file = File::options().write(true).create_new(true).open(path)?;
        let enc = zstd::stream::write::Encoder::new(file, ZSTD_LEVEL)?;
        let sink = Sink::Zstd {
            enc,
            flushed: Instant::now(),
        };
        Ok(Self::with_sink(Some(sink), clock))
    }

    /// A recorder that keeps nothing: for measuring what recording costs.
    pub fn disabled(clock: Clock) -> (Recorder, HistoryWriter) {
        Self::with_sink(None, clock)
    }

    fn with_sink(file: Option<Sink>, clock: Clock) -> (Recorder, HistoryWriter) {
        let shared = Arc::new(Shared {
            buf: Mutex::new(Vec::with_capacity(4096)),
            wake: Condvar::new(),
            closed: AtomicBool::new(false),
            count: AtomicU64::new(0),
            ops_done: AtomicU64::new(0),
            read_hits: AtomicU64::new(0),
            enabled: file.is_some(),
        });
        let thread = file.map(|f| {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("history-writer".into())
                .spawn(move || writer_loop(f, &shared))
                .expect("spawn history writer thread")
        });
        (
            Recorder {
                clock,
                shared: shared.clone(),
            },
            HistoryWriter { shared, thread },
        )
    }

    pub fn clock(&self) -> Clock {
        self.clock
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Number of events recorded so far.
    pub fn count(&self) -> u64 {
        self.shared.count.load(Ordering::Relaxed)
    }

    /// Completed client operations so far.
    pub fn ops_done(&self) -> u64 {
        self.shared.ops_done.load(Ordering::Relaxed)
    }

    /// `ok` reads served by the cache so far.
    pub fn read_hits(&self) -> u64 {
        self.shared.read_hits.load(Ordering::Relaxed)
    }

    /// Stamps `ev` with the current time and appends it; returns the time.
    pub fn record(&self, mut ev: Event) -> u64 {
        if ev.kind != EventType::Invoke && ev.is_client_op() {
            self.shared.ops_done.fetch_add(1, Ordering::Relaxed);
            if ev.kind == EventType::Ok && ev.source == Some(Source::Cache) {
                self.shared.read_hits.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !self.shared.enabled {
            self.shared.count.fetch_add(1, Ordering::Relaxed);
            return self.clock.now();
        }
        let mut buf = self.shared.buf.lock().unwrap_or_else(|p| p.into_inner());
        let t = self.clock.now();
        ev.time = t;
        buf.push(ev);
        drop(buf);
        self.shared.count.fetch_add(1, Ordering::Relaxed);
        t
    }

    /// Records a client operation's invoke.
    pub fn invoke(&self, process: i64, f: &str, key: i64, value: Option<i64>) -> u64 {
        self.record(Event {
            time: 0,
            process,
            kind: EventType::Invoke,
            f: f.to_string(),
            key: Some(key),
            value,
            source: None,
            error: None,
            detail: None,
        })
    }

    /// Records a completion.
    #[allow(clippy::too_many_arguments)]
    pub fn complete(
        &self,
        process: i64,
        f: &str,
        kind: EventType,
        key: i64,
        value: Option<i64>,
        source: Option<Source>,
        error: Option<String>,
    ) -> u64 {
        self.record(Event {
            time: 0,
            process,
            kind,
            f: f.to_string(),
            key: Some(key),
            value,
            source,
            error,
            detail: None,
        })
    }

    /// Records an internal step of a strategy or worker (`f` is e.g. `cache-del`).
    pub fn internal(
        &self,
        process: i64,
        f: &str,
        kind: EventType,
        key: Option<i64>,
        value: Option<i64>,
        detail: Option<serde_json::Value>,
    ) -> u64 {
        self.internal_with_error(process, f, kind, key, value, None, detail)
    }

    /// [`Recorder::internal`] with the step's error message.
    #[allow(clippy::too_many_arguments)]
    pub fn internal_with_error(
        &self,
        process: i64,
        f: &str,
        kind: EventType,
        key: Option<i64>,
        value: Option<i64>,
        error: Option<String>,
        detail: Option<serde_json::Value>,
    ) -> u64 {
        self.record(Event {
            time: 0,
            process,
            kind,
            f: f.to_string(),
            key,
            value,
            source: None,
            error,
            detail,
        })
    }
}

impl HistoryWriter {
    /// Writes what is buffered, closes the file and returns the number of events written.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.close()
    }

    fn close(&mut self) -> std::io::Result<u64> {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake.notify_all();
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("history writer panicked"))),
            None => Ok(0),
        }
    }
}

impl Drop for HistoryWriter {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// A compressed history is flushed at least this often (a killed run loses at most this much).
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// zstd's default level: about 10x smaller histories for a few % of a core.
const ZSTD_LEVEL: i32 = 3;

/// Where the writer thread puts the lines.
enum Sink {
    Plain(File),
    Zstd {
        enc: zstd::stream::write::Encoder<'static, File>,
        flushed: Instant,
    },
}

impl Sink {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Plain(f) => f.write_all(bytes),
            Sink::Zstd { enc, flushed } => {
                enc.write_all(bytes)?;
                if flushed.elapsed() >= FLUSH_EVERY {
                    enc.flush()?;
                    *flushed = Instant::now();
                }
                Ok(())
            }
        }
    }

    /// Ends the stream and syncs the file.
    fn finish(self) -> std::io::Result<()> {
        let file = match self {
            Sink::Plain(f) => f,
            Sink::Zstd { enc, .. } => enc.finish()?,
        };
        file.sync_data()
    }
}

fn writer_loop(mut file: Sink, shared: &Shared) -> std::io::Result<u64> {
    let mut batch: Vec<Event> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut written = 0u64;
    loop {
        let closed = {
            let mut buf = shared.buf.lock().unwrap_or_else(|p| p.into_inner());
            if buf.is_empty() && !shared.closed.load(Ordering::SeqCst) {
                buf = shared
                    .wake
                    .wait_timeout(buf, Duration::from_millis(5))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            std::mem::swap(&mut *buf, &mut batch);
            shared.closed.load(Ordering::SeqCst)
        };
        if !batch.is_empty() {
            out.clear();
            for ev in batch.drain(..) {
                ev.write_json(&mut out);
                out.push(b'\n');
            }
            file.write_all(&out)?;
            written += out.iter().filter(|&&b| b == b'\n').count() as u64;
        } else {
            file.write_all(&[])?; // an idle stream is flushed too
        }
        if closed {
            // Drain anything recorded between the swap and the close flag.
            let rest = std::mem::take(&mut *shared.buf.lock().unwrap_or_else(|p| p.into_inner()));
            if !rest.is_empty() {
                out.clear();
                for ev in rest {
                    ev.write_json(&mut out);
                    out.push(b'\n');
                    written += 1;
                }
                file.write_all(&out)?;
            }
            file.finish()?;
            return Ok(written);
        }
        // Pace the writer: batching a few ms of events keeps syscalls off the clients' backs.
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::events::for_each_event;

    fn record_reads(rec: &Recorder, from: i64, n: i64) {
        for k in from..from + n {
            rec.invoke(0, "read", k, None);
            rec.complete(0, "read", EventType::Ok, k, Some(k), None, None);
        }
    }

    fn keys(path: &Path) -> (Vec<i64>, bool) {
        let mut keys = Vec::new();
        let st = for_each_event(path, |_, ev| {
            keys.push(ev.key.unwrap_or(-1));
            Ok(())
        })
        .unwrap();
        (keys, st.truncated_stream)
    }

    #[test]
    fn a_compressed_history_holds_the_plain_ones_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (plain, zst) = (dir.path().join("h.jsonl"), dir.path().join("h.jsonl.zst"));
        let clock = Clock::start();
        let (a, wa) = Recorder::to_file(&plain, clock).unwrap();
        let (b, wb) = Recorder::to_compressed_file(&zst, clock).unwrap();
        record_reads(&a, 0, 20_000);
        record_reads(&b, 0, 20_000);
        assert_eq!(wa.finish().unwrap(), 40_000);
        assert_eq!(wb.finish().unwrap(), 40_000);
        let (pk, _) = keys(&plain);
        let (zk, truncated) = keys(&zst);
        assert_eq!(pk, zk);
        assert!(!truncated, "a finished stream is complete");
        let (p, z) = (
            plain.metadata().unwrap().len(),
            zst.metadata().unwrap().len(),
        );
        assert!(z * 5 < p, "compressed {z} B vs plain {p} B");
    }

    #[test]
    fn a_compressed_history_is_readable_within_a_second_while_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let zst = dir.path().join("h.jsonl.zst");
        let (rec, writer) = Recorder::to_compressed_file(&zst, Clock::start()).unwrap();
        record_reads(&rec, 0, 1000);
        std::thread::sleep(FLUSH_EVERY + Duration::from_millis(300));
        // The writer is still running (as in a run that is about to be killed).
        let (seen, truncated) = keys(&zst);
        assert_eq!(seen.len(), 2000, "events flushed so far");
        assert!(truncated);
        drop(writer);
    }
}
