//! Checkers: pure functions over a run directory's three files (`history.jsonl`,
//! `commits.jsonl`, `final.jsonl`; see [`crate::history`]).
//!
//! # Layout
//!
//! * [`ops`]: pairs the history's events into operations, grouped per key ([`distribute`]: one
//!   array in key order, on threads), resolved against the ground truth ([`truth`]: committed
//!   versions per key, acknowledgement times).
//! * One file per property, each a pure function `Input -> Findings` registered by name in
//!   [`registry::CHECKERS`]: [`stale`] (stale reads, staleness), [`window`] (inconsistency
//!   windows, figures only), [`divergence`] (cache vs database after quiescence), [`dirty`],
//!   [`lost`], [`monotonic`], [`read_your_writes`], [`impossible`]; [`values`]: what the value
//!   checkers share.
//! * [`findings`]: what a checker returns (its count, examples with evidence) and the counts of
//!   a check; [`stats`]: distributions, operation counts and latency; [`fasthash`]: the maps'
//!   hasher.
//!
//! Checkers compose like Jepsen's `compose`: each judges its own properties; one that fails (an
//! error or a panic) makes its properties `unknown` with a warning, never a crash; the merged
//! verdict is invalid over unknown over valid. The whole check is linear in the history's length
//! (plus a sort of each key's acknowledged versions).

pub mod distribute;
pub mod fasthash;
pub mod findings;
pub mod op;
pub mod ops;
pub mod properties;
pub mod property;
pub mod registry;
pub mod stats;
pub mod truth;

pub use properties::{
    dirty, divergence, impossible, linearizable, lost, monotonic, read_your_writes, stale, values,
    window,
};
pub use registry::{Checker, CHECKERS};

use crate::history::events::{for_each_event_par, ReadStats};
use crate::history::files::{
    history_path, read_commits, read_final, FileError, COMMITS_FILE, FINAL_FILE,
};
use crate::history::{Commit, Event, FinalState};
use ops::{Builder, EventView, Run};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Options of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Whether cache entries carried a TTL in this run (decides `ttl_repairs` of a divergent key
    /// when final.jsonl does not give `cache_ttl_ms`).
    pub ttl_set: Option<bool>,
    /// Evidence kept per anomaly kind in the report (counts are always exact); the earliest
    /// anomalies are kept. 0 means [`findings::DEFAULT_MAX_EXAMPLES`] (20).
    pub max_examples_per_kind: usize,
}

/// Three-valued verdict of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing to judge, or the checker failed.
    #[default]
    Unknown,
    Valid,
    Invalid,
}

impl Verdict {
    /// Jepsen's merge-valid: invalid over unknown over valid.
    pub fn merge(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }
}

/// Distribution summary (milliseconds, or versions for staleness in versions). `max` is exact;
/// the percentiles come from an hdrhistogram with 3 significant figures. All 0 when `count` is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Operations by how they ended. `info` includes invokes that never completed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Completions {
    pub invoke: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpCounts {
    pub read: Completions,
    pub write: Completions,
}

/// Latency (completion − invoke) of `ok` operations, in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyReport {
    pub read: Percentiles,
    pub write: Percentiles,
}

/// Exact anomaly counts, one per judged property of the [registry], in
/// report order. summary.json shows them as an object (`{"stale_reads": 3, ...}`); a name the
/// registry does not know (from a newer or older cachecheck) is kept as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnomalyCounts {
    counts: Vec<(String, u64)>,
}

impl Default for AnomalyCounts {
    /// Every registered property at 0.
    fn default() -> Self {
        AnomalyCounts {
            counts: registry::properties()
                .map(|p| (p.name.to_string(), 0))
                .collect(),
        }
    }
}

impl AnomalyCounts {
    /// The count of the property `name` (0 when absent).
    pub fn get(&self, name: &str) -> u64 {
        self.counts
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, c)| *c)
    }

    /// Sets the count of the property `name`.
    pub fn set(&mut self, name: &str, v: u64) {
        match self.counts.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = v,
            None => self.counts.push((name.to_string(), v)),
        }
    }

    /// Adds `n` to the count of the property `name`.
    pub fn add(&mut self, name: &str, n: u64) {
        let v = self.get(name);
        self.set(name, v + n);
    }

    /// (name, count) in report order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counts.iter().map(|(n, c)| (n.as_str(), *c))
    }

    /// Every anomaly counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().map(|(_, c)| c).sum()
    }
}

impl std::ops::Index<&str> for AnomalyCounts {
    type Output = u64;
    fn index(&self, name: &str) -> &u64 {
        const ZERO: u64 = 0;
        self.counts
            .iter()
            .find(|(n, _)| n == name)
            .map_or(&ZERO, |(_, c)| c)
    }
}

impl Serialize for AnomalyCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.counts.len()))?;
        for (n, c) in &self.counts {
            m.serialize_entry(n, c)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for AnomalyCounts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let read: std::collections::BTreeMap<String, u64> = Deserialize::deserialize(d)?;
        let mut out = AnomalyCounts::default();
        for (n, c) in read {
            out.set(&n, c);
        }
        Ok(out)
    }
}

/// How stale the stale reads were (see [`stale`]): in ms, and in versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Staleness {
    pub time_ms: Percentiles,
    pub versions: Percentiles,
}

/// Inconsistency windows of acknowledged writes (see [`window`]). `nines` maps "1ms", "10ms",
/// "100ms", "1s", "10s" to the share (0..1) of `writes` whose window is <= that; it is empty
/// when `writes` is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub writes: u64,
    pub ms: Percentiles,
    pub nines: BTreeMap<String, f64>,
}

/// A key whose cache entry differs from the database after quiescence (see [`divergence`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    pub key: i64,
    pub db: Option<i64>,
    pub cache: Option<i64>,
    pub ttl_repairs: Option<bool>,
}

/// One anomaly and its evidence.
///
/// * `kind`: the property it violates (a [`Checker`]'s name, a key of [`CheckReport::verdicts`]);
/// * `events`: 0-based line indexes in history.jsonl of the events that show it, ascending
///   (e.g. a stale read's invoke and ok, and the ok of the write that superseded it);
/// * `start_ns`..`end_ns`: the span of that evidence in run time (for a stale read: from the
///   acknowledgement of the first superseding write to the read's completion);
/// * `explanation`: one plain sentence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: String,
    pub key: i64,
    pub events: Vec<u64>,
    pub start_ns: u64,
    pub end_ns: u64,
    pub explanation: String,
}

impl Anomaly {
    /// One operation as the evidence: its invoke and completion, over its own interval (the
    /// property fills in `kind`).
    pub fn of_op(key: i64, op: &ops::Op, explanation: String) -> Anomaly {
        Anomaly {
            kind: String::new(),
            key,
            events: vec![op.inv_idx as u64, op.cmp_idx as u64],
            start_ns: op.inv_ns,
            end_ns: op.cmp_ns,
            explanation,
        }
    }
}

/// Everything the checker reports; embedded in `summary.json`. Example (abridged):
///
/// ```json
/// {"ops":{"read":{"invoke":900,"ok":880,"fail":12,"info":8},"write":{"invoke":100,"ok":97,"fail":2,"info":1}},
///  "duration_s":10.0,"throughput_ops_s":99.2,
///  "latency_ms":{"read":{"count":880,"p50":0.4,"p90":0.9,"p99":2.1,"p999":5.0,"max":7.3},"write":{...}},
///  "anomalies":{"stale_reads":3,"divergent_keys":1,"dirty_reads":0,"lost_writes":0,
///               "monotonic_read_violations":1,"read_your_writes_violations":0,"impossible_reads":0},
///  "staleness":{"time_ms":{...},"versions":{...}},
///  "inconsistency_window":{"writes":97,"ms":{...},"nines":{"1ms":0.9,"10ms":0.97,"100ms":1.0,"1s":1.0,"10s":1.0}},
///  "verdicts":{"stale_reads":"invalid","dirty_reads":"valid",...},"verdict":"invalid",
///  "divergent":[{"key":7,"db":1017,"cache":1009,"ttl_repairs":true}],
///  "examples":[{"kind":"stale_reads","key":7,"events":[410,411,415],"start_ns":1180000000,
///               "end_ns":1205000000,"explanation":"read invoked at 1.204 s returned v17 ..."}],
///  "warnings":[],"fault_events":4}
/// ```
///
/// Every field defaults when absent, so older summaries still read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CheckReport {
    pub ops: OpCounts,
    /// From the first to the last client event.
    pub duration_s: f64,
    /// Completed client operations (any completion) per second of `duration_s`.
    pub throughput_ops_s: f64,
    pub latency_ms: LatencyReport,
    pub anomalies: AnomalyCounts,
    pub staleness: Staleness,
    pub inconsistency_window: Window,
    /// Per property name (see [`registry`]).
    pub verdicts: BTreeMap<String, Verdict>,
    /// All verdicts merged: invalid over unknown over valid.
    pub verdict: Verdict,
    pub divergent: Vec<Divergence>,
    /// At most `max_examples_per_kind` per kind, by kind then time.
    pub examples: Vec<Anomaly>,
    pub warnings: Vec<String>,
    /// Fault events (`f` = "fault") in the history.
    pub fault_events: u64,
}

/// What every checker reads.
pub struct Input<'a> {
    pub run: &'a Run,
    /// `None` when final.jsonl is missing: divergence is then unknown.
    pub finals: Option<&'a [FinalState]>,
    pub opts: &'a CheckOptions,
}

/// The paired run of the strategy directory `dir` (its history, plain or compressed, and its
/// commits), as the checkers see it.
pub fn load_run(dir: &Path) -> Result<Run, FileError> {
    let (run, _) = load(
        &history_path(dir),
        &dir.join(COMMITS_FILE),
        default_threads(),
    )?;
    Ok(run)
}

/// Reads the history and the commits into a paired run on `threads` threads: blocks of the
/// history are read and parsed on `threads - 1` workers while this thread pairs their events.
fn load(history: &Path, commits: &Path, threads: usize) -> Result<(Run, ReadStats), FileError> {
    let mut builder = Builder::new(&read_commits(commits)?);
    let read = for_each_event_par(history, threads.max(1) - 1, |idx, ev| {
        builder.event(idx, EventView::from(&ev))
    })?;
    let mut run = builder.finish_with(read.torn_last_line, threads.max(1));
    if read.truncated_stream {
        run.warnings.push(format!(
            "{} ends mid-stream (the writer was killed): everything up to its last flush was checked",
            history.display()
        ));
    }
    Ok((run, read))
}

/// Checks the run directory `dir` (history.jsonl or history.jsonl.zst, commits.jsonl,
/// final.jsonl) on [`default_threads`].
pub fn check_dir(dir: &Path, opts: &CheckOptions) -> Result<CheckReport, FileError> {
    check_dir_with(dir, opts, default_threads()).map(|(r, _)| r)
}

/// The threads a check uses unless told otherwise: the cores available.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// [`check_dir`] on `threads` threads (1: all on the calling thread), with what reading the
/// history found. The report is the same whatever the threads.
pub fn check_dir_with(
    dir: &Path,
    opts: &CheckOptions,
    threads: usize,
) -> Result<(CheckReport, ReadStats), FileError> {
    check_files_with(
        &history_path(dir),
        &dir.join(COMMITS_FILE),
        &dir.join(FINAL_FILE),
        opts,
        threads,
    )
}

/// Checks the three files. The history and the commits are required; a missing final-state
/// file makes divergence unknown (with a warning). Malformed lines are errors naming the file
/// and line, except a torn last line of the history (a warning).
pub fn check_files(
    history: &Path,
    commits: &Path,
    final_: &Path,
    opts: &CheckOptions,
) -> Result<CheckReport, FileError> {
    check_files_with(history, commits, final_, opts, default_threads()).map(|(r, _)| r)
}

/// [`check_files`] on `threads` threads. With more than one, blocks of the history are read
/// and parsed on `threads - 1` workers while this thread pairs their events, final.jsonl is
/// read beside them, and the checkers run concurrently; errors and the report are those of
/// one thread.
pub fn check_files_with(
    history: &Path,
    commits: &Path,
    final_: &Path,
    opts: &CheckOptions,
    threads: usize,
) -> Result<(CheckReport, ReadStats), FileError> {
    let threads = threads.max(1);
    let read_finals = || final_.exists().then(|| read_final(final_)).transpose();
    std::thread::scope(|scope| {
        let early = (threads > 1).then(|| scope.spawn(read_finals));
        let (mut run, read) = load(history, commits, threads)?;
        let finals = match early {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            None => read_finals()?,
        };
        if finals.is_none() {
            run.warnings.push(format!(
                "{} does not exist: divergence is unknown",
                final_.display()
            ));
        }
        let report = check_run_with(&run, finals.as_deref(), opts, CHECKERS, threads);
        Ok((report, read))
    })
}

/// Checks in-memory data: the same code path as [`check_files`] without the files. `events[i]`
/// is line `i` of the history.
pub fn check_events(
    events: &[Event],
    commits: &[Commit],
    finals: &[FinalState],
    opts: &CheckOptions,
) -> CheckReport {
    let mut builder = Builder::new(commits);
    let mut error = None;
    for (idx, ev) in events.iter().enumerate() {
        let view = EventView::from(ev);
        if let Err(e) = builder.event(idx, view) {
            error = Some(format!("event {idx}: {e}; the rest was not checked"));
            break;
        }
    }
    let mut run = builder.finish(None);
    run.warnings.extend(error);
    check_run(&run, Some(finals), opts, CHECKERS)
}

/// Runs `checkers` over a paired run and composes their findings into one report.
pub fn check_run(
    run: &Run,
    finals: Option<&[FinalState]>,
    opts: &CheckOptions,
    checkers: &[&Checker],
) -> CheckReport {
    check_run_with(run, finals, opts, checkers, 1)
}

/// [`check_run`] with the checkers run concurrently on up to `threads` threads; the report is
/// composed in the checkers' order, so it is the same whatever the threads.
pub fn check_run_with(
    run: &Run,
    finals: Option<&[FinalState]>,
    opts: &CheckOptions,
    checkers: &[&Checker],
    threads: usize,
) -> CheckReport {
    let stats = &run.stats;
    let duration_s = stats.duration_ns() as f64 / 1e9;
    let mut report = CheckReport {
        ops: stats.counts.clone(),
        duration_s,
        throughput_ops_s: if duration_s > 0.0 {
            stats.completed as f64 / duration_s
        } else {
            0.0
        },
        latency_ms: stats.latency(),
        warnings: run.warnings.clone(),
        fault_events: run.fault_events,
        ..CheckReport::default()
    };
    let input = Input { run, finals, opts };
    // Every registered property starts unknown; a checker that runs judges its own.
    let mut verdicts: BTreeMap<String, Verdict> = registry::properties()
        .map(|p| (p.name.to_string(), Verdict::Unknown))
        .collect();
    for (c, result) in checkers.iter().zip(run_checkers(&input, checkers, threads)) {
        let mut f = match result {
            Ok(f) => f,
            Err(msg) => {
                report.warnings.push(format!(
                    "checker {} failed ({msg}); unknown: {}",
                    c.name,
                    if c.verdict {
                        c.name
                    } else {
                        "its measurements"
                    }
                ));
                continue;
            }
        };
        if c.verdict {
            let n = f.count();
            report.anomalies.set(c.name, n);
            let v = match (n, f.was_judged()) {
                (n, _) if n > 0 => Verdict::Invalid,
                (_, true) => Verdict::Valid,
                _ => Verdict::Unknown,
            };
            verdicts.insert(c.name.to_string(), v);
            report.examples.append(&mut f.take_examples(c.name));
        }
        if let Some(s) = f.staleness.take() {
            report.staleness = s;
        }
        if let Some(w) = f.window.take() {
            report.inconsistency_window = w;
        }
        report.divergent.append(&mut f.divergent);
        report.warnings.append(&mut f.warnings);
    }
    report.verdict = verdicts.values().fold(Verdict::Valid, |a, &v| a.merge(v));
    report.verdicts = verdicts;
    report
}

/// Each checker's result, in the checkers' order; a panic is an error.
fn run_checkers(
    input: &Input<'_>,
    checkers: &[&Checker],
    threads: usize,
) -> Vec<Result<findings::Findings, String>> {
    let one = |c: &Checker| {
        catch_unwind(AssertUnwindSafe(|| (c.check)(input)))
            .unwrap_or_else(|panic| Err(panic_message(&*panic)))
    };
    if threads <= 1 || checkers.len() <= 1 {
        return checkers.iter().map(|c| one(c)).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut done: Vec<(usize, Result<findings::Findings, String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.min(checkers.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(c) = checkers.get(i) else {
                            return mine;
                        };
                        mine.push((i, one(c)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panic: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panic: {s}")
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
