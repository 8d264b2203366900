//! Checkers: pure functions over a run directory's three files (`history.jsonl`,
//! `commits.jsonl`, `final.jsonl`; see [`crate::history`]).
//!
//! # Layout
//!
//! * [`ops`]: pairs the history's events into operations, grouped per key ([`distribute`]: one
//!   array in key order, on threads), resolved against the ground truth ([`truth`]: committed
//!   versions per key, acknowledgement times).
//! * One file per checker, each a pure function `Input -> Findings` registered in [`CHECKERS`]:
//!   [`stale`] (stale reads, staleness), [`window`] (inconsistency windows), [`session`]
//!   (monotonic reads, read-your-writes), [`values`] (dirty, impossible reads, lost writes),
//!   [`divergence`] (cache vs database after quiescence).
//! * [`findings`]: what a checker returns (counts, examples with evidence); [`stats`]:
//!   distributions, operation counts and latency; [`fasthash`]: the maps' hasher.
//!
//! Checkers compose like Jepsen's `compose`: each judges its own properties; one that fails (an
//! error or a panic) makes its properties `unknown` with a warning, never a crash; the merged
//! verdict is invalid over unknown over valid. The whole check is linear in the history's length
//! (plus a sort of each key's acknowledged versions).

pub mod distribute;
pub mod divergence;
pub mod fasthash;
pub mod findings;
pub mod ops;
pub mod session;
pub mod stale;
pub mod stats;
pub mod truth;
pub mod values;
pub mod window;

pub use findings::Property;

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

/// Exact anomaly counts; each field is a [`Property`] name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyCounts {
    pub stale_reads: u64,
    pub divergent_keys: u64,
    pub dirty_reads: u64,
    pub lost_writes: u64,
    pub monotonic_read_violations: u64,
    pub read_your_writes_violations: u64,
    pub impossible_reads: u64,
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
/// * `kind`: the [`Property`] it violates (a key of [`CheckReport::verdicts`]);
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
    /// Per [`Property`] name.
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

/// A checker: a name, the properties it judges, and the pure function.
#[derive(Clone, Copy)]
pub struct Checker {
    pub name: &'static str,
    pub properties: &'static [Property],
    pub check: fn(&Input<'_>) -> Result<findings::Findings, String>,
}

/// Every checker, in report order. Adding one is adding a file and a line here.
pub const CHECKERS: &[Checker] = &[
    Checker {
        name: "stale",
        properties: stale::PROPERTIES,
        check: stale::check,
    },
    Checker {
        name: "window",
        properties: &[],
        check: window::check,
    },
    Checker {
        name: "session",
        properties: session::PROPERTIES,
        check: session::check,
    },
    Checker {
        name: "values",
        properties: values::PROPERTIES,
        check: values::check,
    },
    Checker {
        name: "divergence",
        properties: divergence::PROPERTIES,
        check: divergence::check,
    },
];

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
        let mut builder = Builder::new(&read_commits(commits)?);
        let read = for_each_event_par(history, threads - 1, |idx, ev| {
            builder.event(
                idx,
                EventView {
                    time: ev.time,
                    process: ev.process,
                    kind: ev.kind,
                    f: &ev.f,
                    key: ev.key,
                    value: ev.value,
                    source: ev.source,
                },
            )
        })?;
        let mut run = builder.finish_with(read.torn_last_line, threads);
        if read.truncated_stream {
            run.warnings.push(format!(
                "{} ends mid-stream (the writer was killed): everything up to its last flush was checked",
                history.display()
            ));
        }
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
        let view = EventView {
            time: ev.time,
            process: ev.process,
            kind: ev.kind,
            f: &ev.f,
            key: ev.key,
            value: ev.value,
            source: ev.source,
        };
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
    checkers: &[Checker],
) -> CheckReport {
    check_run_with(run, finals, opts, checkers, 1)
}

/// [`check_run`] with the checkers run concurrently on up to `threads` threads; the report is
/// composed in the checkers' order, so it is the same whatever the threads.
pub fn check_run_with(
    run: &Run,
    finals: Option<&[FinalState]>,
    opts: &CheckOptions,
    checkers: &[Checker],
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
    let mut verdicts: BTreeMap<Property, Verdict> = Property::ALL
        .iter()
        .map(|&p| (p, Verdict::Unknown))
        .collect();
    let mut examples = Vec::new();
    for (c, result) in checkers.iter().zip(run_checkers(&input, checkers, threads)) {
        let mut f = match result {
            Ok(f) => f,
            Err(msg) => {
                let props: Vec<&str> = c.properties.iter().map(|p| p.name()).collect();
                report.warnings.push(format!(
                    "checker {} failed ({msg}); unknown: {}",
                    c.name,
                    if props.is_empty() {
                        "its measurements".to_string()
                    } else {
                        props.join(", ")
                    }
                ));
                continue;
            }
        };
        for &p in c.properties {
            let n = f.count(p);
            report.anomalies.set(p, n);
            verdicts.insert(
                p,
                match (n, f.was_judged(p)) {
                    (n, _) if n > 0 => Verdict::Invalid,
                    (_, true) => Verdict::Valid,
                    _ => Verdict::Unknown,
                },
            );
            examples.push((p, f.take_examples(p)));
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
    examples.sort_by_key(|(p, _)| *p);
    report.examples = examples.into_iter().flat_map(|(_, e)| e).collect();
    report.verdict = verdicts.values().fold(Verdict::Valid, |a, &v| a.merge(v));
    report.verdicts = verdicts
        .into_iter()
        .map(|(p, v)| (p.name().to_string(), v))
        .collect();
    report
}

/// Each checker's result, in the checkers' order; a panic is an error.
fn run_checkers(
    input: &Input<'_>,
    checkers: &[Checker],
    threads: usize,
) -> Vec<Result<findings::Findings, String>> {
    let one = |c: &Checker| {
        catch_unwind(AssertUnwindSafe(|| (c.check)(input)))
            .unwrap_or_else(|panic| Err(panic_message(&*panic)))
    };
    if threads <= 1 || checkers.len() <= 1 {
        return checkers.iter().map(one).collect();
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
mod testkit;
#[cfg(test)]
mod tests;
