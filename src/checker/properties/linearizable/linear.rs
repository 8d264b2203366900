//! Linearizability of cachecheck's own histories, decided without search, in time linear in
//! the history.
//!
//! The commit log gives each key's version order, so a linearization must put the writes'
//! points in that order. Let version `p` (position `p`, see [`crate::checker::truth`]) be
//! written by an operation over `[a_p, b_p]` (`b_p` = +∞ when it ended `info`; an `initial`
//! version is in place before the run, at −∞). Choose points `t_1 ≤ t_2 ≤ ...` (ties ordered by
//! version). A read over `[r_a, r_b]` that returned version `p` fits iff some instant of its
//! interval lies in `[t_p, t_{p+1}]`, that is iff `t_p ≤ r_b` and `r_a ≤ t_{p+1}`. So every
//! `t_p` has bounds:
//!
//! * `lo_p` = the latest of `a_p` and the invokes of the reads of version `p - 1`;
//! * `hi_p` = the earliest of `b_p` and the completions of the reads of version `p`;
//!
//! and the history is linearizable iff the greedy choice `t_p = max(t_{p-1}, lo_p)` never
//! exceeds `hi_p`. Intervals are closed: two operations are ordered only when one completes
//! strictly before the other is invoked (the stale-read rule's "acknowledged strictly before").
//! What else cannot be linearized: an `ok` read of a value no commit carries (dirty or
//! impossible), and an `ok` write whose value never committed (lost). `fail` operations, `info`
//! reads and uncommitted `info` writes took no effect and constrain nothing.
//!
//! This catches what the stale-read rule cannot: two reads in real-time order that return `v2`
//! then `v1` while `v2`'s write is still in flight make `hi_2` (the first read's completion)
//! earlier than `lo_2` (the second read's invoke).
//!
//! One pass over the key's operations fills the bounds, one pass over its versions decides:
//! O(ops + versions) per key. The verdict is `unknown` for a key with no `ok` operation, or
//! whose values name no version unambiguously (a value committed or written twice).

use super::verdict::{KeyVerdict, LinearViolation};
use crate::checker::findings::secs;
use crate::checker::ops::{Op, Outcome, Run};
use crate::checker::truth::{KeyData, NO_IDX, POS_NONE};
use crate::checker::Verdict;

const NEG: i64 = i64::MIN;
const POS: i64 = i64::MAX;

/// Which operation bounds a version's point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    None,
    /// Loaded before the run.
    Initial,
    /// The write of this version (its invoke for a lower bound, its completion for an upper).
    Writer(u32),
    /// A read (of the version before, for a lower bound; of this version, for an upper).
    Read(u32),
}

/// Linearizability of one key (see the module doc).
pub fn check_key(kd: &KeyData) -> KeyVerdict {
    let n = kd.positions();
    if kd.ops.iter().all(|o| o.outcome != Outcome::Ok) {
        return KeyVerdict::unknown(kd.key, "no ok operation to judge");
    }
    if has_duplicate_values(kd) {
        return KeyVerdict::unknown(
            kd.key,
            "a value was committed or written twice, so it names no single version",
        );
    }
    let mut lo = vec![(NEG, Src::None); n];
    let mut hi = vec![(POS, Src::None); n];
    let mut writer = vec![NO_IDX; n];
    let mut first_bad: Option<LinearViolation> = None;
    for (h, v) in hi.iter_mut().skip(1).zip(&kd.versions) {
        if v.initial {
            *h = (NEG, Src::Initial);
        }
    }
    for (i, op) in kd.ops.iter().enumerate() {
        let i = i as u32;
        let (inv, cmp) = (op.inv_ns as i64, end(op));
        if op.write {
            if op.pos == POS_NONE {
                if op.outcome == Outcome::Ok && op.value().is_some() {
                    keep_earliest(&mut first_bad, lost_write(kd, op));
                }
                continue;
            }
            let p = op.pos as usize;
            if kd.versions[p - 1].initial {
                continue;
            }
            writer[p] = i;
            tighten_lo(&mut lo[p], inv, Src::Writer(i));
            let b = if op.outcome == Outcome::Ok { cmp } else { POS };
            tighten_hi(&mut hi[p], b, Src::Writer(i));
        } else if op.is_ok_read() {
            if op.pos == POS_NONE {
                keep_earliest(&mut first_bad, unknown_value(kd, op));
                continue;
            }
            let p = op.pos as usize;
            tighten_hi(&mut hi[p], cmp, Src::Read(i));
            if p + 1 < n {
                tighten_lo(&mut lo[p + 1], inv, Src::Read(i));
            }
        }
    }
    // The greedy: each point as early as its bounds and the previous point allow.
    let (mut t, mut t_src, mut t_pos) = (NEG, Src::None, 0usize);
    for p in 1..n {
        if lo[p].0 > t {
            (t, t_src, t_pos) = (lo[p].0, lo[p].1, p);
        }
        if t > hi[p].0 {
            let v = order_violation(kd, p, (t, t_src, t_pos), hi[p], writer[p]);
            keep_earliest(&mut first_bad, v);
            break;
        }
    }
    match first_bad {
        Some(v) => KeyVerdict::invalid(kd.key, v),
        None => KeyVerdict {
            key: kd.key,
            verdict: Verdict::Valid,
            why_unknown: None,
            violation: None,
        },
    }
}

/// Linearizability of every key of a run: the keys that are not valid, and the counts.
pub fn check_run(run: &Run) -> super::verdict::RunVerdict {
    let mut out = super::verdict::RunVerdict::default();
    for kd in run.key_data() {
        if kd.ops.is_empty() {
            continue;
        }
        out.add(check_key(kd));
    }
    out
}

fn end(op: &Op) -> i64 {
    if op.cmp_idx == NO_IDX {
        POS
    } else {
        op.cmp_ns as i64
    }
}

fn tighten_lo(b: &mut (i64, Src), t: i64, src: Src) {
    if t > b.0 {
        *b = (t, src);
    }
}

fn tighten_hi(b: &mut (i64, Src), t: i64, src: Src) {
    if t < b.0 {
        *b = (t, src);
    }
}

fn has_duplicate_values(kd: &KeyData) -> bool {
    let mut seen = crate::checker::fasthash::FastSet::default();
    if !kd.versions.iter().all(|v| seen.insert(v.value)) {
        return true;
    }
    let mut written = crate::checker::fasthash::FastSet::default();
    !kd.ops
        .iter()
        .filter(|o| o.write && o.pos != POS_NONE)
        .all(|o| written.insert(o.pos))
}

fn keep_earliest(slot: &mut Option<LinearViolation>, v: LinearViolation) {
    if slot.as_ref().is_none_or(|s| v.end_ns < s.end_ns) {
        *slot = Some(v);
    }
}

fn lines(ops: &[&Op]) -> Vec<u64> {
    let mut e: Vec<u64> = ops
        .iter()
        .flat_map(|o| [o.inv_idx, o.cmp_idx])
        .filter(|&i| i != NO_IDX)
        .map(u64::from)
        .collect();
    e.sort_unstable();
    e.dedup();
    e
}

fn lost_write(kd: &KeyData, op: &Op) -> LinearViolation {
    LinearViolation {
        events: lines(&[op]),
        start_ns: op.inv_ns,
        end_ns: op.cmp_ns,
        explanation: format!(
            "write of value {} was acknowledged at {} but never committed, so it takes effect at no point of key {}'s commit order",
            op.value().unwrap_or_default(),
            secs(op.cmp_ns),
            kd.key
        ),
        version: 0,
        ops: vec![op_index(kd, op)],
    }
}

fn unknown_value(kd: &KeyData, op: &Op) -> LinearViolation {
    let what = op
        .value()
        .map_or("null (absent)".to_string(), |v| format!("value {v}"));
    LinearViolation {
        events: lines(&[op]),
        start_ns: op.inv_ns,
        end_ns: op.cmp_ns,
        explanation: format!(
            "{} invoked at {} returned {what}, which no commit of key {} carries, so no linearization has it",
            op.what(),
            secs(op.inv_ns),
            kd.key
        ),
        version: 0,
        ops: vec![op_index(kd, op)],
    }
}

fn op_index(kd: &KeyData, op: &Op) -> u32 {
    kd.ops.iter().position(|o| std::ptr::eq(o, op)).unwrap_or(0) as u32
}

/// Version `p`'s point must be at least `low.0` (because of `low.1`, about version `low.2`)
/// and at most `high.0` (because of `high.1`), and `low.0 > high.0`.
fn order_violation(
    kd: &KeyData,
    p: usize,
    low: (i64, Src, usize),
    high: (i64, Src),
    writer: u32,
) -> LinearViolation {
    let (l, l_src, q) = low;
    let (h, h_src) = high;
    let vp = kd.describe(p as u32);
    let vq = kd.describe(q as u32);
    let at = |t: i64| secs(t.max(0) as u64);
    let upper = match h_src {
        Src::Read(i) => {
            let r = &kd.ops[i as usize];
            format!(
                "{} completed at {} returning {vp}, so {vp} took effect by then",
                r.what(),
                at(h)
            )
        }
        Src::Writer(_) => format!("the write of {vp} completed at {}", at(h)),
        _ => format!("{vp} was loaded before the run"),
    };
    let lower = match l_src {
        Src::Read(i) => {
            let r = &kd.ops[i as usize];
            format!(
                "{} invoked at {} still returned {}, so {vq} took effect after that",
                r.what(),
                at(l),
                kd.describe(q as u32 - 1)
            )
        }
        _ => format!("the write of {vq} was invoked only at {}", at(l)),
    };
    let order = if q < p {
        format!(", and {vq} comes before {vp} in the commit order")
    } else {
        String::new()
    };
    let mut involved: Vec<&Op> = Vec::new();
    let mut ops = Vec::new();
    for src in [h_src, l_src] {
        if let Src::Read(i) | Src::Writer(i) = src {
            involved.push(&kd.ops[i as usize]);
            ops.push(i);
        }
    }
    let mut flight = String::new();
    if writer != NO_IDX {
        let w = &kd.ops[writer as usize];
        involved.push(w);
        ops.push(writer);
        if !matches!(h_src, Src::Writer(_)) {
            let until = if w.cmp_idx == NO_IDX || w.outcome != Outcome::Ok {
                "its outcome unknown".to_string()
            } else {
                format!("until {}", secs(w.cmp_ns))
            };
            flight = format!(
                " ({vp}'s write was in flight from {}, {until})",
                secs(w.inv_ns)
            );
        }
    }
    ops.sort_unstable();
    ops.dedup();
    LinearViolation {
        events: lines(&involved),
        start_ns: h.max(0) as u64,
        end_ns: l.max(0) as u64,
        explanation: format!("{upper}; but {lower}{order}: no order of the commits fits{flight}"),
        version: p as u32,
        ops,
    }
}
