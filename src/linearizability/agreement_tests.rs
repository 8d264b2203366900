//! The linear path and the search must agree: on small random cachecheck-shaped histories
//! (one key, a few clients, writes committed in an order, reads of versions, info and fail
//! completions, some results perturbed), the linear path's verdict equals the Wing–Gong
//! search's under a register whose writes must follow the commit order.

use super::history::{Input, Operation, Output, Value, OPEN};
use super::model::Spec;
use super::search::{search, Budget, Found};
use crate::checker::linearizable::check_key;
use crate::checker::linearizable::tests::{commit, initial, run_of};
use crate::checker::ops::Outcome;
use crate::checker::truth::{KeyData, NO_IDX, POS_NONE};
use crate::checker::Verdict;
use crate::history::{Event, EventType, Source};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A register whose states are version positions: writing version `p` needs version `p - 1`.
struct VersionedRegister {
    init: u32,
}

/// A value no version has: a read or write of it is never legal.
const BAD: u32 = u32::MAX - 1;

impl Spec for VersionedRegister {
    fn init(&mut self) -> u32 {
        self.init
    }
    fn step(&mut self, state: u32, op: &Operation) -> Option<u32> {
        match (op.input, op.output) {
            (Input::Write(Value(p)), _) => (p != BAD && state + 1 == p).then_some(p),
            (Input::Read, Output::Value(Value(p))) => (p == state).then_some(state),
            _ => None,
        }
    }
    fn describe(&self, state: u32) -> String {
        format!("v{state}")
    }
}

fn sop(call: u64, ret: u64, input: Input, output: Output) -> Operation {
    Operation::new(0, call, ret, input, output)
}

/// The search's verdict on a key, with the commit order built into the model.
fn search_verdict(kd: &KeyData) -> Verdict {
    let mut ops = Vec::new();
    let mut written = vec![false; kd.positions()];
    for o in &kd.ops {
        let ret = if o.outcome == Outcome::Ok && o.cmp_idx != NO_IDX {
            o.cmp_ns
        } else {
            OPEN
        };
        if o.write {
            if o.pos == POS_NONE {
                if o.outcome == Outcome::Ok {
                    ops.push(sop(o.inv_ns, ret, Input::Write(Value(BAD)), Output::Ok));
                }
                continue;
            }
            if kd.versions[o.pos as usize - 1].initial {
                continue;
            }
            written[o.pos as usize] = true;
            let out = if ret == OPEN {
                Output::Unknown
            } else {
                Output::Ok
            };
            ops.push(sop(o.inv_ns, ret, Input::Write(Value(o.pos)), out));
        } else if o.is_ok_read() {
            let v = if o.pos == POS_NONE { BAD } else { o.pos };
            ops.push(sop(o.inv_ns, ret, Input::Read, Output::Value(Value(v))));
        }
    }
    for (p, w) in written.iter().enumerate().skip(1) {
        if !w && !kd.versions[p - 1].initial {
            ops.push(sop(0, OPEN, Input::Write(Value(p as u32)), Output::Unknown));
        }
    }
    let init = kd
        .versions
        .iter()
        .rposition(|v| v.initial)
        .map_or(0, |i| i as u32 + 1);
    match search(&ops, &mut VersionedRegister { init }, Budget::default()) {
        Found::Linearizable(_) => Verdict::Valid,
        Found::Violation { .. } => Verdict::Invalid,
        Found::Unknown { .. } => Verdict::Unknown,
    }
}

/// One random history: each client runs a few operations back to back; every operation gets a
/// point inside its interval, writes commit in the order of their points and reads return the
/// version at theirs; then, sometimes, a read's result or two commits are swapped.
fn random_history(rng: &mut ChaCha8Rng) -> (Vec<Event>, Vec<crate::history::Commit>) {
    let key = 7;
    let with_initial = rng.gen_bool(0.7);
    let mut ops = Vec::new(); // (inv, cmp, point, process, write, value, outcome)
    for p in 0..rng.gen_range(2..=4) {
        let mut t = rng.gen_range(0..4u64);
        for _ in 0..rng.gen_range(1..=4) {
            let inv = t;
            let cmp = inv + rng.gen_range(0..8);
            let point = rng.gen_range(inv..=cmp);
            let write = rng.gen_bool(0.4);
            let outcome = match rng.gen_range(0..10) {
                0 => EventType::Info,
                1 => EventType::Fail,
                _ => EventType::Ok,
            };
            ops.push((inv, cmp, point, p, write, 0i64, outcome));
            t = cmp + rng.gen_range(0..3);
        }
    }
    // Writes that take effect: ok ones, and half of the info ones, in the order of their points.
    let mut effective: Vec<usize> = (0..ops.len())
        .filter(|&i| {
            let o = ops[i];
            o.4 && (o.6 == EventType::Ok || (o.6 == EventType::Info && rng.gen_bool(0.5)))
        })
        .collect();
    effective.sort_by_key(|&i| (ops[i].2, i));
    let mut commits = Vec::new();
    if with_initial {
        commits.push(initial(key, 1, 1));
    }
    let base = commits.len() as i64;
    for (n, &i) in effective.iter().enumerate() {
        ops[i].5 = 100 + n as i64;
        commits.push(commit(key, base + n as i64 + 1, 100 + n as i64));
    }
    for (next, o) in (500..).zip(ops.iter_mut().filter(|o| o.4 && o.5 == 0)) {
        o.5 = next; // a write that took no effect
    }
    let value_at = |t: u64, ops: &[(u64, u64, u64, i64, bool, i64, EventType)]| {
        let n = effective
            .iter()
            .filter(|&&i| (ops[i].2, i) <= (t, usize::MAX))
            .count();
        match (n, with_initial) {
            (0, true) => Some(1),
            (0, false) => None,
            (n, _) => Some(100 + n as i64 - 1),
        }
    };
    let reads: Vec<usize> = (0..ops.len()).filter(|&i| !ops[i].4).collect();
    let mut read_values: Vec<Option<i64>> =
        reads.iter().map(|&i| value_at(ops[i].2, &ops)).collect();
    if rng.gen_bool(0.45) && !reads.is_empty() {
        let j = rng.gen_range(0..reads.len());
        let n = commits.len() as i64;
        read_values[j] = match rng.gen_range(0..(n + 2)) {
            0 => None,
            x if x == n + 1 => Some(999),
            x => Some(commits[x as usize - 1].value),
        };
    }
    if rng.gen_bool(0.2) && commits.len() >= base as usize + 2 {
        let i = rng.gen_range(base as usize..commits.len() - 1);
        let (a, b) = (commits[i].value, commits[i + 1].value);
        commits[i].value = b;
        commits[i + 1].value = a;
    }
    let ev = |t: u64, p: i64, kind: EventType, f: &str, v: Option<i64>| Event {
        time: t * 1_000_000,
        process: p,
        kind,
        f: f.into(),
        key: Some(key),
        value: v,
        source: (f == "read" && kind == EventType::Ok).then_some(Source::Cache),
        error: None,
        detail: None,
    };
    let mut events: Vec<(u64, u8, i64, Event)> = Vec::new();
    let mut r = 0;
    for o in &ops {
        let (inv, cmp, _, p, write, v, outcome) = *o;
        let (f, iv) = if write {
            ("write", Some(v))
        } else {
            ("read", None)
        };
        events.push((inv, 1, p, ev(inv, p, EventType::Invoke, f, iv)));
        let cv = if write {
            Some(v)
        } else {
            r += 1;
            read_values[r - 1]
        };
        events.push((cmp, 0, p, ev(cmp, p, outcome, f, cv)));
    }
    events.sort_by_key(|e| (e.0, e.1, e.2));
    (events.into_iter().map(|e| e.3).collect(), commits)
}

#[test]
fn the_linear_path_agrees_with_the_search_on_random_histories() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let (mut valid, mut invalid) = (0, 0);
    for case in 0..4000 {
        let (h, commits) = random_history(&mut rng);
        let run = run_of(&h, &commits);
        let Some(kd) = run.key_data().first() else {
            continue;
        };
        let linear = check_key(kd).verdict;
        if linear == Verdict::Unknown {
            continue;
        }
        let searched = search_verdict(kd);
        assert_eq!(
            linear, searched,
            "case {case}: history {h:?} commits {commits:?}"
        );
        match linear {
            Verdict::Valid => valid += 1,
            _ => invalid += 1,
        }
    }
    assert!(
        valid > 800 && invalid > 800,
        "a mix of verdicts: {valid} valid, {invalid} invalid"
    );
}
