//! The client loop: one tokio task per client drives the workload's operations through a
//! strategy and records every operation as an invoke and exactly one completion (`info` when it
//! timed out, was interrupted, or its task ended mid-way).

use crate::conn::StepError;
use crate::generator::{Generator, Op};
use crate::history::recorder::Recorder;
use crate::history::{Completion, Source, F_READ, F_WRITE};
use crate::session::Session;
use crate::strategy::Strategy;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

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
    mut c: Session,
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
        let open = OpenOp::invoke(c.recorder().clone(), c.process, f, key, value);
        let work = async {
            match op {
                Op::Read(k) => strategy
                    .read(&mut c, k)
                    .await
                    .map(|r| (r.value, Some(r.source))),
                Op::Write(k, v) => strategy.write(&mut c, k, v).await.map(|()| (Some(v), None)),
            }
        };
        // An operation cut short (timed out, interrupted) was dropped mid-way: it is `info`,
        // and its connections are in an unknown state.
        let (outcome, cut_short) = tokio::select! {
            r = tokio::time::timeout(op_timeout, work) => match r {
                Ok(o) => (o, false),
                Err(_) => (
                    Err(StepError::Info(format!("timed out after {} ms", op_timeout.as_millis()))),
                    true,
                ),
            },
            _ = stop.cancel.cancelled() => (Err(StepError::Info("interrupted".into())), true),
        };
        open.complete(outcome);
        if cut_short {
            c.conns.reset_all();
        }
        if stop.cancel.is_cancelled() {
            break;
        }
    }
}

/// An invoked operation: completed exactly once, by [`OpenOp::complete`], or, if the client's
/// task ends first (a panic in a strategy, the task aborted), as `info` when it is dropped, so
/// that no invoke is left without a completion.
struct OpenOp {
    rec: Recorder,
    process: i64,
    f: &'static str,
    key: i64,
    value: Option<i64>,
    done: bool,
}

impl OpenOp {
    fn invoke(rec: Recorder, process: i64, f: &'static str, key: i64, value: Option<i64>) -> Self {
        rec.invoke(process, f, key, value);
        OpenOp {
            rec,
            process,
            f,
            key,
            value,
            done: false,
        }
    }

    /// Records the completion: a read's value and source, or the write's value.
    fn complete(mut self, outcome: Result<(Option<i64>, Option<Source>), StepError>) {
        self.done = true;
        let (p, f, key) = (self.process, self.f, self.key);
        match outcome {
            Ok((v, source)) => {
                let v = if f == F_READ { v } else { self.value };
                self.rec
                    .complete(p, f, Completion::Ok.into(), key, v, source, None)
            }
            Err(e) => {
                let kind = e.completion().into();
                let msg = Some(e.into_msg());
                self.rec.complete(p, f, kind, key, self.value, None, msg)
            }
        };
    }
}

impl Drop for OpenOp {
    fn drop(&mut self) {
        if !self.done {
            let why = Some("the client stopped in the middle of the operation".to_string());
            let info = Completion::Info.into();
            let (p, f, key, v) = (self.process, self.f, self.key, self.value);
            self.rec.complete(p, f, info, key, v, None, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::recorder::Clock;
    use crate::history::EventType;

    #[test]
    fn an_operation_dropped_before_its_completion_ends_as_info() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.jsonl");
        let (rec, writer) = Recorder::to_file(&path, Clock::start()).unwrap();
        let done = OpenOp::invoke(rec.clone(), 3, F_WRITE, 7, Some(70));
        done.complete(Ok((Some(70), None)));
        let dropped = OpenOp::invoke(rec.clone(), 3, F_READ, 7, None);
        drop(dropped);
        drop(rec);
        writer.finish().unwrap();
        let events: Vec<crate::history::Event> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<EventType> = events.iter().map(|e| e.kind).collect();
        let want = [
            EventType::Invoke,
            EventType::Ok,
            EventType::Invoke,
            EventType::Info,
        ];
        assert_eq!(kinds, want);
        assert_eq!(events[3].f, F_READ);
        assert!(events[3].error.as_deref().unwrap().contains("stopped"));
    }
}
