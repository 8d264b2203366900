//! The Wing–Gong linearizability search with Lowe's memoisation (as Porcupine's
//! `checkSingle`), for one key's operations.
//!
//! The operations' invoke and completion events make one list in history order (at equal
//! positions, invokes first: closed intervals). The search walks it from the front: an invoke
//! whose operation the model accepts in the current state is linearized (both its events are
//! lifted out of the list, and the step is pushed on a stack), unless that (linearized set,
//! state) configuration was explored before ([`super::memo`]); reaching a completion means its
//! operation should have been linearized by then, so the last step is undone and the search
//! goes on after it. An empty list is a linearization; undoing with an empty stack proves
//! there is none. Open operations (`info`) complete after everything, so they may take effect
//! anywhere after their invoke, or, by going last, never visibly.
//!
//! Worst case exponential (the problem is NP-complete), so a [`Budget`] bounds time and memo
//! memory (and can be cancelled): past it the answer is [`Found::Unknown`], never a hang. The longest linearizable
//! prefix seen and the operation at which it stopped are kept for the picture of a violation.

use super::history::{Operation, OPEN};
use super::memo::{Linearized, Memo};
use super::model::Spec;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How much a search may spend.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'a> {
    /// Give up at this instant (`None`: never).
    pub deadline: Option<Instant>,
    /// Give up when the memo holds this many bytes.
    pub memo_bytes: usize,
    /// Give up when this is set (another key already decided the history).
    pub cancel: Option<&'a AtomicBool>,
}

impl Default for Budget<'_> {
    fn default() -> Self {
        Budget {
            deadline: None,
            memo_bytes: DEFAULT_MEMO_BYTES,
            cancel: None,
        }
    }
}

/// The memo memory allowed per key by default: 2 GiB.
pub const DEFAULT_MEMO_BYTES: usize = 2 << 30;

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A linearization: operation indexes in linearization order.
    Linearizable(Vec<u32>),
    /// None exists. `longest`: the longest linearizable prefix found (operation indexes in
    /// order); `stuck`: the operation whose completion came before it could be placed after
    /// that prefix; `state`: the model's state after the prefix.
    Violation {
        longest: Vec<u32>,
        stuck: u32,
        state: u32,
    },
    /// The budget ran out (`why`: "time" or "memory"), or the search was cancelled
    /// (`why`: "cancel").
    Unknown {
        why: &'static str,
        longest: Vec<u32>,
    },
}

const NIL: u32 = u32::MAX;

/// The event list: entries `0..2n` (an operation's invoke and completion), a head sentinel.
struct List {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// For each entry: its operation, and whether it is an invoke.
    op: Vec<u32>,
    call: Vec<bool>,
    /// For each operation: its completion entry.
    ret_entry: Vec<u32>,
    head: u32,
}

impl List {
    fn new(ops: &[Operation]) -> List {
        let n = ops.len();
        let mut order: Vec<(u64, bool, u32)> = Vec::with_capacity(2 * n);
        for (i, o) in ops.iter().enumerate() {
            order.push((o.call, false, i as u32));
            order.push((o.ret, true, i as u32));
        }
        // Invokes before completions at equal positions; open completions last.
        order.sort_unstable_by_key(|&(t, is_ret, i)| (t, is_ret, if t == OPEN { i } else { 0 }));
        let m = order.len();
        let head = m as u32;
        let mut l = List {
            next: vec![NIL; m + 1],
            prev: vec![NIL; m + 1],
            op: Vec::with_capacity(m),
            call: Vec::with_capacity(m),
            ret_entry: vec![NIL; n],
            head,
        };
        for (e, &(_, is_ret, i)) in order.iter().enumerate() {
            l.op.push(i);
            l.call.push(!is_ret);
            if is_ret {
                l.ret_entry[i as usize] = e as u32;
            }
            let e = e as u32;
            let before = if e == 0 { head } else { e - 1 };
            l.next[before as usize] = e;
            l.prev[e as usize] = before;
        }
        l
    }

    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        if n != NIL {
            self.prev[n as usize] = p;
        }
    }

    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        if n != NIL {
            self.prev[n as usize] = e;
        }
    }

    /// Takes an invoke entry and its completion out of the list.
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let r = self.ret_entry[self.op[call as usize] as usize];
        self.unlink(r);
    }

    /// Puts them back (the reverse of [`List::lift`]).
    fn unlift(&mut self, call: u32) {
        let r = self.ret_entry[self.op[call as usize] as usize];
        self.relink(r);
        self.relink(call);
    }
}

/// Searches for a linearization of `ops` under `spec`.
pub fn search(ops: &[Operation], spec: &mut dyn Spec, budget: Budget) -> Found {
    let mut list = List::new(ops);
    let mut set = Linearized::new(ops.len());
    let mut memo = Memo::new(ops.len());
    // Each step: the invoke entry linearized, and the state before it.
    let mut stack: Vec<(u32, u32)> = Vec::new();
    let mut longest: Vec<u32> = Vec::new();
    // The leading steps of `stack` that `longest` still holds (so a new longest prefix copies
    // only what changed: linear in the steps, not quadratic).
    let mut shared = 0usize;
    let mut state = spec.init();
    let mut entry = list.next[list.head as usize];
    let mut steps = 0u64;
    while list.next[list.head as usize] != NIL {
        steps += 1;
        if steps % 1024 == 0 {
            if budget.deadline.is_some_and(|d| Instant::now() >= d) {
                return Found::Unknown {
                    why: "time",
                    longest,
                };
            }
            if memo.bytes() > budget.memo_bytes {
                return Found::Unknown {
                    why: "memory",
                    longest,
                };
            }
            if budget.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Found::Unknown {
                    why: "cancel",
                    longest,
                };
            }
        }
        let op = list.op[entry as usize];
        if list.call[entry as usize] {
            let next_state = spec.step(state, &ops[op as usize]);
            if let Some(s) = next_state {
                set.set(op as usize);
                if memo.insert(&set, s) {
                    stack.push((entry, state));
                    state = s;
                    list.lift(entry);
                    entry = list.next[list.head as usize];
                    continue;
                }
                set.clear(op as usize);
            }
            entry = list.next[entry as usize];
            continue;
        }
        // A completion: its operation had to be linearized by now.
        if stack.len() > longest.len() {
            longest.truncate(shared);
            longest.extend(stack[shared..].iter().map(|&(e, _)| list.op[e as usize]));
            shared = stack.len();
        }
        let Some((call, before)) = stack.pop() else {
            return violation(&list, ops, spec, longest);
        };
        shared = shared.min(stack.len());
        state = before;
        set.clear(list.op[call as usize] as usize);
        list.unlift(call);
        entry = list.next[call as usize];
    }
    Found::Linearizable(stack.iter().map(|&(e, _)| list.op[e as usize]).collect())
}

/// The verdict once the search is exhausted: replays the longest prefix to find the first
/// operation that cannot follow it.
fn violation(list: &List, ops: &[Operation], spec: &mut dyn Spec, longest: Vec<u32>) -> Found {
    let mut state = spec.init();
    let mut done = vec![false; ops.len()];
    for &i in &longest {
        state = spec.step(state, &ops[i as usize]).unwrap_or(state);
        done[i as usize] = true;
    }
    // The first completion in history order whose operation is not in the prefix: it had to be
    // placed next and could not be.
    let mut e = list.next[list.head as usize];
    let mut stuck = NIL;
    while e != NIL {
        let op = list.op[e as usize];
        if !list.call[e as usize] && !done[op as usize] {
            stuck = op;
            break;
        }
        e = list.next[e as usize];
    }
    if stuck == NIL {
        stuck = (0..ops.len() as u32)
            .find(|&i| !done[i as usize])
            .unwrap_or(0);
    }
    Found::Violation {
        longest,
        stuck,
        state,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linearizability::history::{Input, KeyHistory, Output, Value};
    use crate::linearizability::model::{Model, ModelKind};

    /// An op on process `p` over `[call, ret]` (`ret` [`OPEN`]: info).
    fn op(p: i64, call: u64, ret: u64, input: Input, output: Output) -> Operation {
        Operation::new(p, call, ret, input, output)
    }

    fn run(kind: ModelKind, k: &KeyHistory, ops: &[Operation]) -> Found {
        search(ops, &mut Model::new(kind, k), Budget::default())
    }

    // The register examples of Porcupine's tests (from MIT 6.824's 2017 quiz 2, section VII).
    #[test]
    fn a_read_of_the_old_value_overlapping_the_write_is_linearizable() {
        let mut k = KeyHistory::new("");
        let (zero, v100) = (k.intern("0"), k.intern("100"));
        let ops = [
            op(0, 0, 100, Input::Write(zero), Output::Ok),
            op(0, 101, 200, Input::Write(v100), Output::Ok),
            op(1, 125, 175, Input::Read, Output::Value(v100)),
            op(2, 130, 160, Input::Read, Output::Value(zero)),
        ];
        assert!(
            matches!(run(ModelKind::Register, &k, &ops), Found::Linearizable(l) if l.len() == 4)
        );
    }

    #[test]
    fn a_read_of_the_old_value_after_a_read_of_the_new_is_not() {
        let mut k = KeyHistory::new("");
        let (zero, v200) = (k.intern("0"), k.intern("200"));
        let ops = [
            op(0, 0, 100, Input::Write(zero), Output::Ok),
            op(0, 101, 200, Input::Write(v200), Output::Ok),
            op(1, 110, 130, Input::Read, Output::Value(v200)),
            op(2, 140, 190, Input::Read, Output::Value(zero)),
        ];
        let Found::Violation {
            longest,
            stuck,
            state,
        } = run(ModelKind::Register, &k, &ops)
        else {
            panic!("expected a violation");
        };
        assert_eq!(longest, vec![0, 1, 2], "write 0, write 200, read 200");
        assert_eq!(stuck, 3, "the read of 0 cannot follow");
        assert_eq!(state, v200.0);
    }

    #[test]
    fn closed_intervals_touching_at_a_point_overlap() {
        let mut k = KeyHistory::new("");
        let v1 = k.intern("1");
        // The read completes at the very position the write is invoked: concurrent.
        let ops = [
            op(1, 10, 20, Input::Read, Output::Value(v1)),
            op(0, 20, 30, Input::Write(v1), Output::Ok),
        ];
        assert!(matches!(
            run(ModelKind::Register, &k, &ops),
            Found::Linearizable(_)
        ));
        let apart = [
            op(1, 10, 19, Input::Read, Output::Value(v1)),
            op(0, 20, 30, Input::Write(v1), Output::Ok),
        ];
        assert!(matches!(
            run(ModelKind::Register, &k, &apart),
            Found::Violation { .. }
        ));
    }

    #[test]
    fn an_info_write_may_take_effect_late_or_never() {
        let mut k = KeyHistory::new("");
        let v1 = k.intern("1");
        let late = [
            op(0, 1, OPEN, Input::Write(v1), Output::Unknown),
            op(1, 2, 3, Input::Read, Output::Value(Value::NIL)),
            op(1, 100, 101, Input::Read, Output::Value(v1)),
        ];
        assert!(matches!(
            run(ModelKind::Register, &k, &late),
            Found::Linearizable(_)
        ));
        let never = [
            op(0, 1, OPEN, Input::Write(v1), Output::Unknown),
            op(1, 2, 3, Input::Read, Output::Value(Value::NIL)),
            op(1, 100, 101, Input::Read, Output::Value(Value::NIL)),
        ];
        assert!(matches!(
            run(ModelKind::Register, &k, &never),
            Found::Linearizable(_)
        ));
        let before_invoke = [
            op(1, 2, 3, Input::Read, Output::Value(v1)),
            op(0, 4, OPEN, Input::Write(v1), Output::Unknown),
        ];
        assert!(matches!(
            run(ModelKind::Register, &k, &before_invoke),
            Found::Violation { .. }
        ));
    }

    #[test]
    fn the_budget_gives_unknown_never_a_hang() {
        // 24 concurrent writes and a read of a value none wrote: without a budget the search
        // would try every order of the writes' prefixes.
        let mut k = KeyHistory::new("");
        let mut ops: Vec<Operation> = (0..24)
            .map(|i| {
                let v = k.intern(&i.to_string());
                op(i, 1, 1000, Input::Write(v), Output::Ok)
            })
            .collect();
        let bad = k.intern("bad");
        ops.push(op(99, 2, 999, Input::Read, Output::Value(bad)));
        let past = Budget {
            deadline: Some(Instant::now()),
            memo_bytes: usize::MAX,
            cancel: None,
        };
        let r = search(&ops, &mut Model::new(ModelKind::Register, &k), past);
        assert!(matches!(r, Found::Unknown { why: "time", .. }), "{r:?}");
        let tiny = Budget {
            deadline: None,
            memo_bytes: 1000,
            cancel: None,
        };
        let r = search(&ops, &mut Model::new(ModelKind::Register, &k), tiny);
        assert!(matches!(r, Found::Unknown { why: "memory", .. }), "{r:?}");
        let stop = AtomicBool::new(true);
        let cancelled = Budget {
            cancel: Some(&stop),
            ..Budget::default()
        };
        let r = search(&ops, &mut Model::new(ModelKind::Register, &k), cancelled);
        assert!(matches!(r, Found::Unknown { why: "cancel", .. }), "{r:?}");
    }

    #[test]
    fn cas_register_linearizes_a_cas_chain_out_of_invoke_order() {
        let mut k = KeyHistory::new("");
        let (a, b, c) = (k.intern("1"), k.intern("2"), k.intern("3"));
        let ops = [
            op(0, 1, 2, Input::Write(a), Output::Ok),
            op(1, 3, 10, Input::Cas(b, c), Output::Ok),
            op(2, 4, 9, Input::Cas(a, b), Output::Ok),
            op(3, 11, 12, Input::Read, Output::Value(c)),
        ];
        assert_eq!(
            run(ModelKind::CasRegister, &k, &ops),
            Found::Linearizable(vec![0, 2, 1, 3])
        );
    }
}
