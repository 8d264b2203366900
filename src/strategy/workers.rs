//! Background work of strategies: tasks that die together when the application "crashes"
//! ([`Tasks::kill`], behind `Strategy::kill_workers`), are awaited at quiescence
//! ([`Tasks::wait`]), and record their steps under a worker process id ([`WorkerLog`]).

use super::Env;
use crate::conn::StepError;
use crate::history::recorder::Recorder;
use crate::history::{process, EventType};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A set of background tasks of one strategy.
pub struct Tasks {
    tracker: TaskTracker,
    /// The current generation: cancelled by [`Tasks::kill`], then replaced.
    generation: Mutex<CancellationToken>,
    shutdown: CancellationToken,
}

impl Tasks {
    pub fn new(shutdown: CancellationToken) -> Self {
        Tasks {
            tracker: TaskTracker::new(),
            generation: Mutex::new(CancellationToken::new()),
            shutdown,
        }
    }

    /// The token of the current generation (cancelled when the workers are killed).
    pub fn generation(&self) -> CancellationToken {
        self.generation
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Spawns `work`. It is dropped at its next await point when the workers are killed or the
    /// harness stops: whatever it was doing is lost, as in a crash.
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let generation = self.generation();
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = work => {}
                _ = generation.cancelled() => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }

    /// Kills every task spawned so far; tasks spawned later run normally.
    pub fn kill(&self) {
        let mut g = self.generation.lock().unwrap_or_else(|p| p.into_inner());
        g.cancel();
        *g = CancellationToken::new();
    }

    /// Waits (at most `limit`) until every task spawned so far has ended; false if some still
    /// run.
    pub async fn wait(&self, limit: Duration) -> bool {
        self.tracker.close();
        let done = tokio::time::timeout(limit, self.tracker.wait())
            .await
            .is_ok();
        self.tracker.reopen();
        done
    }

    /// Number of tasks still running.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }
}

/// Records a background worker's steps in the history under its own process id
/// (`process::WORKER_BASE - index`).
#[derive(Clone)]
pub struct WorkerLog {
    rec: Recorder,
    trace: bool,
    pub process: i64,
}

impl WorkerLog {
    pub fn new(env: &Env, index: i64) -> Self {
        WorkerLog {
            rec: env.rec.clone(),
            trace: env.trace,
            process: process::WORKER_BASE - index,
        }
    }

    /// Records a step if the workload traces steps.
    pub fn step(
        &self,
        f: &str,
        kind: EventType,
        key: Option<i64>,
        value: Option<i64>,
        detail: Option<serde_json::Value>,
    ) {
        if self.trace {
            self.always(f, kind, key, value, detail);
        }
    }

    /// Records an event whatever the tracing setting (alerts such as `needs-human`).
    pub fn always(
        &self,
        f: &str,
        kind: EventType,
        key: Option<i64>,
        value: Option<i64>,
        detail: Option<serde_json::Value>,
    ) {
        self.rec.internal(self.process, f, kind, key, value, detail);
    }

    /// Records the outcome of a step (ok, or fail/info with the error in `detail.error`).
    pub fn outcome<T>(
        &self,
        f: &str,
        key: i64,
        value: Option<i64>,
        detail: serde_json::Value,
        r: &Result<T, StepError>,
    ) {
        let (kind, detail) = crate::session::outcome_detail(detail, r);
        self.step(f, kind, Some(key), value, Some(detail));
    }
}
