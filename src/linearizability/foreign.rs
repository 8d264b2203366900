//! Checking a foreign history (no version order): one [`search`] per key (P-compositionality:
//! a history is linearizable iff each key's is), keys spread over the cores, each key with its
//! own time budget, so one hard key makes that key `unknown` and never holds up a verdict.
//! Once one key is not linearizable the history is not either, so the keys still being
//! searched stop and are reported `unknown` with that reason (Porcupine cancels its other
//! partitions the same way); the keys decided by then keep their verdicts.

use super::history::{History, KeyHistory};
use super::model::{Model, ModelKind, Spec};
use super::search::{search, Budget, Found, DEFAULT_MEMO_BYTES};
use crate::checker::Verdict;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How to check.
#[derive(Debug, Clone)]
pub struct Options {
    pub model: ModelKind,
    /// Time budget per key (`None`: no limit).
    pub timeout: Option<Duration>,
    /// Memo memory budget per key.
    pub memo_bytes: usize,
    /// Keys checked at once (0: one per core).
    pub threads: usize,
}

impl Options {
    pub fn new(model: ModelKind, timeout: Option<Duration>) -> Self {
        Options {
            model,
            timeout,
            memo_bytes: DEFAULT_MEMO_BYTES,
            threads: 0,
        }
    }
}

/// A key's violation: the longest linearizable prefix found, and the operation that cannot
/// follow it.
#[derive(Debug, Clone, Serialize)]
pub struct ForeignViolation {
    pub explanation: String,
    /// File lines (1-based) of the stuck operation's invoke and completion.
    pub lines: Vec<u32>,
    /// Operations in the longest linearizable prefix.
    pub longest_prefix: usize,
}

/// One key's verdict, as `check --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ForeignKey {
    pub key: String,
    pub ops: usize,
    pub verdict: Verdict,
    pub elapsed_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why_unknown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<ForeignViolation>,
    /// What the search found (for the picture).
    #[serde(skip)]
    pub found: Option<Found>,
}

/// The whole history's verdict: invalid if a key is, else unknown if a key is, else valid
/// (a history without client operations is linearizable, as Knossos says).
#[derive(Debug, Clone, Serialize)]
pub struct ForeignVerdict {
    pub verdict: Verdict,
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
    pub elapsed_s: f64,
    pub keys: Vec<ForeignKey>,
}

/// Errs when an operation is not one of the model's (naming its line and the fix).
pub fn check_history(h: &History, opts: &Options) -> Result<ForeignVerdict, String> {
    for k in &h.keys {
        if let Some(op) = k.ops.iter().find(|o| !opts.model.accepts(&o.input)) {
            let fix = match op.input.f() {
                "cas" => "--model cas-register",
                "get" | "put" | "append" => "--model kv",
                _ => "--model register or --model cas-register",
            };
            return Err(format!(
                "line {}: :{} is not an operation of the {} model (fix: {fix})",
                op.call_line,
                op.input.f(),
                opts.model.name()
            ));
        }
    }
    let start = Instant::now();
    let mut order: Vec<usize> = (0..h.keys.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(h.keys[i].ops.len()));
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(order.len())
    .max(1);
    // Threads cost more than small histories take.
    let threads = if h.operations() < 1000 { 1 } else { threads };
    let next = AtomicUsize::new(0);
    // Once a key is not linearizable neither is the history: the keys still searching stop
    // (as Porcupine's checker cancels its other partitions) and say so.
    let stop = AtomicBool::new(false);
    let results: Mutex<Vec<Option<ForeignKey>>> = Mutex::new(vec![None; h.keys.len()]);
    let work = || loop {
        let j = next.fetch_add(1, Ordering::Relaxed);
        let Some(&i) = order.get(j) else { break };
        let r = check_key(&h.keys[i], opts, Some(&stop));
        if r.verdict == Verdict::Invalid {
            stop.store(true, Ordering::Relaxed);
        }
        results.lock().expect("no worker panics holding the lock")[i] = Some(r);
    };
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let keys: Vec<ForeignKey> = results
        .into_inner()
        .expect("workers are done")
        .into_iter()
        .flatten()
        .collect();
    let count = |v: Verdict| keys.iter().filter(|k| k.verdict == v).count();
    let (valid, invalid, unknown) = (
        count(Verdict::Valid),
        count(Verdict::Invalid),
        count(Verdict::Unknown),
    );
    let verdict = if invalid > 0 {
        Verdict::Invalid
    } else if unknown > 0 {
        Verdict::Unknown
    } else {
        Verdict::Valid
    };
    Ok(ForeignVerdict {
        verdict,
        valid,
        invalid,
        unknown,
        elapsed_s: start.elapsed().as_secs_f64(),
        keys,
    })
}

/// One key's search and its verdict; `cancel` stops it early.
pub fn check_key(k: &KeyHistory, opts: &Options, cancel: Option<&AtomicBool>) -> ForeignKey {
    let start = Instant::now();
    let budget = Budget {
        deadline: opts.timeout.map(|t| start + t),
        memo_bytes: opts.memo_bytes,
        cancel,
    };
    let mut model = Model::new(opts.model, k);
    let found = search(&k.ops, &mut model, budget);
    let elapsed_s = start.elapsed().as_secs_f64();
    let (verdict, why_unknown, violation) = match &found {
        Found::Linearizable(_) => (Verdict::Valid, None, None),
        Found::Unknown {
            why: "cancel",
            longest,
        } => (
            Verdict::Unknown,
            Some(format!(
                "not decided: the search stopped after {elapsed_s:.1} s ({} of {} operations linearized at best) once another key was found not linearizable",
                longest.len(),
                k.ops.len()
            )),
            None,
        ),
        Found::Unknown { why, longest } => (
            Verdict::Unknown,
            Some(format!(
                "the search ran out of {why} after {elapsed_s:.1} s ({} of {} operations linearized at best); raise --timeout",
                longest.len(),
                k.ops.len()
            )),
            None,
        ),
        Found::Violation {
            longest,
            stuck,
            state,
        } => {
            let op = &k.ops[*stuck as usize];
            let explanation = format!(
                "{} by process {} (line {}) cannot be linearized: the longest linearizable prefix ({} of {} operations) leaves {} at {}, and no other order gets further",
                k.describe(op),
                op.process,
                op.call_line,
                longest.len(),
                k.ops.len(),
                k.name(),
                model.describe(*state)
            );
            let lines = [op.call_line, op.ret_line]
                .into_iter()
                .filter(|&l| l > 0)
                .collect();
            (
                Verdict::Invalid,
                None,
                Some(ForeignViolation {
                    explanation,
                    lines,
                    longest_prefix: longest.len(),
                }),
            )
        }
    };
    ForeignKey {
        key: k.key.clone(),
        ops: k.ops.len(),
        verdict,
        elapsed_s,
        why_unknown,
        violation,
        found: Some(found),
    }
}
