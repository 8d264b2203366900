//! Clients: one tokio task each, driving the workload's operations through a strategy and
//! recording every operation as an invoke and exactly one completion.

use crate::conn::Conns;
use crate::generator::{Generator, Op};
use crate::history::recorder::Recorder;
use crate::history::{EventType, F_READ, F_WRITE};
use crate::strategy::{Outcome, Strategy};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// One client: its process id, its connections per role, and the recorder.
pub struct Client {
    pub process: i64,
    pub conns: Conns,
    pub ttl_ms: u64,
    rec: Recorder,
    trace: bool,
}

impl Client {
    pub fn new(process: i64, conns: Conns, rec: Recorder, ttl_ms: u64, trace: bool) -> Self {
        Client {
            process,
            conns,
            ttl_ms,
            rec,
            trace,
        }
    }

    pub fn recorder(&self) -> &Recorder {
        &self.rec
    }

    /// Records an internal step of the strategy (if the workload traces steps).
    pub fn step(
        &self,
        f: &str,
        kind: EventType,
        key: i64,
        value: Option<i64>,
        detail: Option<serde_json::Value>,
    ) {
        if self.trace {
            self.rec
                .internal(self.process, f, kind, Some(key), value, detail);
        }
    }

    /// Writes the register in the database (the `db` role) and records the commit with its
    /// version; returns the version.
    pub async fn write_db(&mut self, key: i64, value: i64) -> Result<i64, crate::conn::StepError> {
        let version = self.conns.db.write(key, value).await?;
        self.commit_step(key, value, version);
        Ok(version)
    }

    /// Records a database commit with its version.
    pub fn commit_step(&self, key: i64, value: i64, version: i64) {
        self.step(
            "db-commit",
            EventType::Ok,
            key,
            Some(value),
            Some(serde_json::json!({ "version": version })),
        );
    }
}

/// When a client stops issuing operations.
#[derive(Clone)]
pub struct Stop {
    /// Stop starting operations after this instant (operations in flight finish).
    pub deadline: Instant,
    /// Total operation budget shared by all clients (None: duration only).
    pub budget: Option<Arc<AtomicI64>>,
    /// Ctrl-C: stop now; the operation in flight completes as `info`.
    pub cancel: CancellationToken,
    /// Operations started so far by all clients (for the progress display).
    pub started: Arc<AtomicU64>,
}

impl Stop {
    fn take_one(&self) -> bool {
        if Instant::now() >= self.deadline || self.cancel.is_cancelled() {
            return false;
        }
        let go = match &self.budget {
            Some(b) => b.fetch_sub(1, Ordering::Relaxed) > 0,
            None => true,
        };
        if go {
            self.started.fetch_add(1, Ordering::Relaxed);
        }
        go
    }
}

/// Runs one client until `stop`. Every invoke gets exactly one completion: a timeout is
/// `info`, and so is an operation cut short by Ctrl-C.
pub async fn run_client(
    mut c: Client,
    strategy: Arc<dyn Strategy>,
    mut gen: Generator,
    stop: Stop,
    op_timeout: Duration,
    interval: Option<Duration>,
) {
    let mut ticker = interval.map(|d| {
        let mut t = tokio::time::interval(d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    while stop.take_one() {
        if let Some(t) = ticker.as_mut() {
            tokio::select! {
                _ = t.tick() => {}
                _ = stop.cancel.cancelled() => break,
            }
        }
        let op = gen.next_op();
        let (f, key, value) = match op {
            Op::Read(k) => (F_READ, k, None),
            Op::Write(k, v) => (F_WRITE, k, Some(v)),
        };
        let rec = c.recorder().clone();
        let p = c.process;
        rec.invoke(p, f, key, value);
        let work = async {
            match op {
                Op::Read(k) => match strategy.read(&mut c, k).await {
                    Outcome::Ok(r) => Outcome::Ok((r.value, Some(r.source))),
                    Outcome::Fail(m) => Outcome::Fail(m),
                    Outcome::Info(m) => Outcome::Info(m),
                },
                Op::Write(k, v) => match strategy.write(&mut c, k, v).await {
                    Outcome::Ok(()) => Outcome::Ok((Some(v), None)),
                    Outcome::Fail(m) => Outcome::Fail(m),
                    Outcome::Info(m) => Outcome::Info(m),
                },
            }
        };
        let outcome = tokio::select! {
            r = tokio::time::timeout(op_timeout, work) => match r {
                Ok(o) => o,
                Err(_) => Outcome::Info(format!("timed out after {} ms", op_timeout.as_millis())),
            },
            _ = stop.cancel.cancelled() => Outcome::Info("interrupted".into()),
        };
        let timed_out = matches!(&outcome, Outcome::Info(m) if m.starts_with("timed out") || m == "interrupted");
        match outcome {
            Outcome::Ok((v, source)) => {
                let v = if f == F_READ { v } else { value };
                rec.complete(p, f, EventType::Ok, key, v, source, None)
            }
            Outcome::Fail(m) => rec.complete(p, f, EventType::Fail, key, value, None, Some(m)),
            Outcome::Info(m) => rec.complete(p, f, EventType::Info, key, value, None, Some(m)),
        };
        if timed_out {
            // The operation was dropped mid-way: its connections are in an unknown state.
            c.conns.reset_all();
        }
        if stop.cancel.is_cancelled() {
            break;
        }
    }
}
