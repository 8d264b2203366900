//! The nemesis: faults on a schedule while the clients run, every interval written to the
//! history (`process: -1`, `f: "fault"`, `type: "info"`, `detail.phase`: `start` | `stop`) and
//! listed in summary.json. Teardown always heals: when the clients stop (or on Ctrl-C) every
//! active fault is healed before quiescence.
//!
//! * [`spec`]: the `[[nemesis]]` tables of a workload;
//! * [`kinds`]: every fault kind, one file each, registered by name; [`fault`]: what a kind
//!   and the fault of one interval are; [`actions`]: the actions kinds are made of;
//! * [`proxy`]: the fault proxy's REST API (Toxiproxy's);
//! * faults injected in the application (delete errors) act through [`crate::injected`];
//!   [`app`]: what `kill`/`pause` target, and their faults on the service strategy `service`
//!   started (`service = "app"`); [`replica`]: on read replicas (`service = "replica"`).

pub mod actions;
pub mod app;
pub mod fault;
pub mod kinds;
pub mod proxy;
pub mod replica;
pub mod spec;

use crate::history::recorder::Recorder;
use crate::history::{process, EventType};
use fault::{Fault, FaultCtx};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};
use spec::{FaultSpec, Schedule};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// One fault interval, as summary.json lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// `<entry>-<n>`: the nemesis entry's index and the interval's number.
    pub id: String,
    pub fault: String,
    pub target: String,
    /// The entry as configured.
    pub spec: serde_json::Value,
    /// What was applied (e.g. the toxic's JSON).
    pub applied: serde_json::Value,
    /// ns since run start.
    pub start_ns: u64,
    pub end_ns: Option<u64>,
    /// Set when applying or healing failed.
    pub error: Option<String>,
}

/// A running nemesis.
pub struct Nemesis {
    stop: CancellationToken,
    tasks: tokio::task::JoinSet<()>,
    records: Arc<Mutex<Vec<FaultRecord>>>,
}

impl Nemesis {
    /// Starts one task per `[[nemesis]]` entry; times are relative to now (clients start).
    pub fn spawn(specs: &[FaultSpec], cx: FaultCtx, rec: Recorder) -> Nemesis {
        let stop = CancellationToken::new();
        let records = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        let t0 = Instant::now();
        for (i, s) in specs.iter().enumerate() {
            let runner = EntryRunner {
                index: i,
                spec: s.clone(),
                cx: cx.clone(),
                rec: rec.clone(),
                stop: stop.clone(),
                records: records.clone(),
                rng: ChaCha8Rng::seed_from_u64(cx.seed ^ (0xA5A5_0000 + i as u64)),
            };
            tasks.spawn(runner.run(t0));
        }
        Nemesis {
            stop,
            tasks,
            records,
        }
    }

    /// Stops the schedule, heals every active fault, and returns the intervals.
    pub async fn finish(mut self) -> Vec<FaultRecord> {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        let mut v = std::mem::take(&mut *self.records.lock().unwrap_or_else(|p| p.into_inner()));
        v.sort_by_key(|r| r.start_ns);
        v
    }
}

struct EntryRunner {
    index: usize,
    spec: FaultSpec,
    cx: FaultCtx,
    rec: Recorder,
    stop: CancellationToken,
    records: Arc<Mutex<Vec<FaultRecord>>>,
    rng: ChaCha8Rng,
}

impl EntryRunner {
    /// Sleeps until `t`; false if the nemesis was stopped first.
    async fn sleep_until(&self, t: Instant) -> bool {
        tokio::select! {
            _ = tokio::time::sleep_until(t) => true,
            _ = self.stop.cancelled() => false,
        }
    }

    fn next_interval(
        &mut self,
        n: usize,
        after: Instant,
        t0: Instant,
    ) -> Option<(Instant, Duration)> {
        match self.spec.schedule {
            Schedule::Fixed { at_s, duration_s } => (n == 0).then(|| {
                (
                    t0 + Duration::from_secs_f64(at_s),
                    Duration::from_secs_f64(duration_s),
                )
            }),
            Schedule::Random {
                mean_gap_s,
                mean_duration_s,
            } => {
                let gap = Exp::new(1.0 / mean_gap_s).ok()?.sample(&mut self.rng);
                let len = Exp::new(1.0 / mean_duration_s).ok()?.sample(&mut self.rng);
                Some((
                    after + Duration::from_secs_f64(gap),
                    Duration::from_secs_f64(len.max(0.001)),
                ))
            }
        }
    }

    fn event(&self, phase: &str, r: &FaultRecord) {
        let mut d = serde_json::json!({
            "phase": phase,
            "id": r.id,
            "fault": r.fault,
            "target": r.target,
        });
        if phase == "start" {
            d["spec"] = r.spec.clone();
            d["applied"] = r.applied.clone();
        }
        if let Some(e) = &r.error {
            d["error"] = serde_json::Value::String(e.clone());
        }
        self.rec.internal(
            process::NEMESIS,
            "fault",
            EventType::Info,
            None,
            None,
            Some(d),
        );
    }

    async fn run(mut self, t0: Instant) {
        let mut after = t0;
        for n in 0.. {
            let Some((start, len)) = self.next_interval(n, after, t0) else {
                return;
            };
            if !self.sleep_until(start).await {
                return;
            }
            let fault: Box<dyn Fault> = self
                .spec
                .kind
                .instance(format!("cachecheck-{}-{n}", self.index));
            let mut r = FaultRecord {
                id: format!("{}-{n}", self.index),
                fault: self.spec.name.into(),
                target: fault.target(),
                spec: serde_json::to_value(&self.spec).unwrap_or_default(),
                applied: serde_json::Value::Null,
                start_ns: self.rec.now(),
                end_ns: None,
                error: None,
            };
            match fault.start(&self.cx).await {
                Ok(a) => r.applied = a,
                Err(e) => r.error = Some(format!("{e:#}")),
            }
            r.start_ns = self.rec.now();
            self.event("start", &r);
            // Heal at the end of the interval, or at once if the nemesis is stopped.
            self.sleep_until(Instant::now() + len).await;
            if let Err(e) = fault.heal(&self.cx).await {
                let msg = format!("heal: {e:#}");
                r.error = Some(match r.error.take() {
                    Some(prev) => format!("{prev}; {msg}"),
                    None => msg,
                });
            }
            r.end_ns = Some(self.rec.now());
            self.event("stop", &r);
            self.records
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(r);
            after = Instant::now();
            if self.stop.is_cancelled() {
                return;
            }
        }
    }
}
