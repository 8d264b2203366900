//! Values checked against the ground truth, one `ok` operation at a time:
//!
//! * **dirty read**: an `ok` read returned a value that some write of the key invoked (whatever
//!   its completion) but that no commit of the key carries;
//! * **impossible read**: an `ok` read returned a value that no write of the key invoked and no
//!   commit carries, or null on a key that has initial data (it can never be absent);
//! * **lost write**: a write that completed `ok` but whose value no commit of the key carries.
//!
//! A write that ended `info` (or never completed) and did commit makes its value legitimate:
//! reading it is neither dirty nor impossible. `fail` and `info` reads are not judged.

use super::fasthash::FastMap;
use super::findings::{secs, Findings, Property};
use super::ops::{Op, Outcome};
use super::truth::{KeyData, NO_IDX, POS_NONE};
use super::{Anomaly, Input};

pub const PROPERTIES: &[Property] = &[
    Property::DirtyReads,
    Property::ImpossibleReads,
    Property::LostWrites,
];

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let procs = &input.run.processes;
    let process_of = |op: &Op| procs.get(op.process as usize).copied().unwrap_or(-1);
    // Per key: uncommitted written value -> index of the first write op that carried it.
    let mut uncommitted: FastMap<i64, usize> = FastMap::default();
    for kd in input.run.key_data() {
        uncommitted.clear();
        for (i, op) in kd.ops.iter().enumerate() {
            if let (true, Some(v), POS_NONE) = (op.write, op.value(), op.pos) {
                uncommitted.entry(v).or_insert(i);
            }
        }
        for op in &kd.ops {
            if op.write {
                if op.outcome != Outcome::Ok || op.value().is_none() {
                    continue;
                }
                out.judged(Property::LostWrites);
                if op.pos == POS_NONE {
                    out.flag(Property::LostWrites, op.inv_ns, || {
                        lost(kd, op, process_of(op))
                    });
                }
                continue;
            }
            if !op.is_ok_read() {
                continue;
            }
            out.judged(Property::DirtyReads);
            out.judged(Property::ImpossibleReads);
            if op.pos != POS_NONE {
                continue;
            }
            let writer = op
                .value()
                .and_then(|v| uncommitted.get(&v))
                .map(|&w| &kd.ops[w]);
            match writer {
                Some(w) => out.flag(Property::DirtyReads, w.inv_ns, || {
                    dirty(kd, op, w, process_of(w))
                }),
                None => out.flag(Property::ImpossibleReads, op.inv_ns, || impossible(kd, op)),
            }
        }
    }
    Ok(out)
}

fn read_events(op: &Op) -> Vec<u64> {
    vec![op.inv_idx as u64, op.cmp_idx as u64]
}

fn dirty(kd: &KeyData, op: &Op, w: &Op, process: i64) -> Anomaly {
    let ended = match w.outcome {
        Outcome::Ok => "ended ok",
        Outcome::Fail => "ended fail",
        Outcome::Info if w.cmp_idx == NO_IDX => "never completed",
        Outcome::Info => "ended info",
    };
    let mut events = vec![w.inv_idx as u64, w.last_idx() as u64];
    events.extend(read_events(op));
    events.sort_unstable();
    events.dedup();
    Anomaly {
        kind: String::new(),
        key: kd.key,
        events,
        start_ns: w.inv_ns,
        end_ns: op.cmp_ns,
        explanation: format!(
            "{} invoked at {} returned value {}, which process {process}'s write invoked at {} tried to write (it {ended}) but the database never committed",
            op.what(),
            secs(op.inv_ns),
            w.value().unwrap_or_default(),
            secs(w.inv_ns),
        ),
    }
}

fn impossible(kd: &KeyData, op: &Op) -> Anomaly {
    let explanation = match op.value() {
        None => {
            let initial = kd.versions.iter().find(|v| v.initial);
            let what = initial.map_or(String::new(), |v| {
                format!(" (v{}, value {})", v.version, v.value)
            });
            format!(
                "{} invoked at {} found the key absent, but it had initial data{what} loaded before the run, so it can never be absent",
                op.what(),
                secs(op.inv_ns)
            )
        }
        Some(v) => format!(
            "{} invoked at {} returned value {v}, which no write of this key produced and the database never committed",
            op.what(),
            secs(op.inv_ns)
        ),
    };
    Anomaly {
        kind: String::new(),
        key: kd.key,
        events: read_events(op),
        start_ns: op.inv_ns,
        end_ns: op.cmp_ns,
        explanation,
    }
}

fn lost(kd: &KeyData, op: &Op, process: i64) -> Anomaly {
    Anomaly {
        kind: String::new(),
        key: kd.key,
        events: vec![op.inv_idx as u64, op.cmp_idx as u64],
        start_ns: op.inv_ns,
        end_ns: op.cmp_ns,
        explanation: format!(
            "process {process}'s write of value {} was acknowledged at {}, but the database never committed it",
            op.value().unwrap_or_default(),
            secs(op.cmp_ns)
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::Verdict;

    #[test]
    fn reading_the_value_of_a_failed_write_is_dirty() {
        let h = [
            inv_w(10, 1, 7, 42),
            fail_w(20, 1, 7, 42),
            inv_r(30, 2, 7),
            ok_r(31, 2, 7, Some(42)),
        ];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies.dirty_reads, 1);
        assert_eq!(r.anomalies.impossible_reads, 0);
        let ex = examples(&r, "dirty_reads");
        assert_eq!(ex[0].events, vec![0, 1, 2, 3]);
        assert_eq!(
            ex[0].explanation,
            "read (cache hit) invoked at 0.030 s returned value 42, which process 1's write invoked at 0.010 s tried to write (it ended fail) but the database never committed"
        );
    }

    #[test]
    fn an_info_write_that_committed_makes_its_value_legitimate() {
        let h = [
            inv_w(10, 1, 7, 42),
            info_w(20, 1, 7, 42),
            inv_r(30, 2, 7),
            ok_r(31, 2, 7, Some(42)),
        ];
        let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
        assert_eq!(r.anomalies.dirty_reads, 0);
        assert_eq!(r.anomalies.impossible_reads, 0);
        assert_eq!(r.verdicts["dirty_reads"], Verdict::Valid);
        assert_eq!(r.verdicts["impossible_reads"], Verdict::Valid);
    }

    #[test]
    fn a_value_nobody_wrote_is_impossible() {
        let h = [inv_r(30, 2, 7), ok_r(31, 2, 7, Some(999))];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies.impossible_reads, 1);
        assert_eq!(r.anomalies.dirty_reads, 0);
        assert_eq!(examples(&r, "impossible_reads")[0].events, vec![0, 1]);
    }

    #[test]
    fn fail_and_info_reads_are_not_judged() {
        let mut info = info_r(31, 2, 7);
        info.value = Some(999);
        let h = [inv_r(30, 2, 7), info, inv_r(40, 2, 7), fail_r(41, 2, 7)];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies.impossible_reads, 0);
        assert_eq!(r.verdicts["impossible_reads"], Verdict::Unknown);
        assert_eq!(r.ops.read.info, 1);
    }

    #[test]
    fn absent_is_impossible_on_a_key_with_initial_data_and_fine_without() {
        let h = [inv_r(30, 2, 7), ok_r(31, 2, 7, None)];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies.impossible_reads, 1);
        let why = &examples(&r, "impossible_reads")[0].explanation;
        assert!(why.contains("initial data (v1, value 7)"), "{why}");
        let r = check(&h, &[commit(7, 1, 7)]);
        assert_eq!(r.anomalies.impossible_reads, 0);
        assert_eq!(r.anomalies.stale_reads, 0);
    }

    #[test]
    fn an_acknowledged_write_that_never_committed_is_lost() {
        let h = [inv_w(10, 1, 7, 42), ok_w(20, 1, 7, 42)];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies.lost_writes, 1);
        assert_eq!(r.verdicts["lost_writes"], Verdict::Invalid);
        assert_eq!(examples(&r, "lost_writes")[0].events, vec![0, 1]);
    }

    #[test]
    fn committed_or_failed_writes_are_not_lost() {
        let h = [
            inv_w(10, 1, 7, 42),
            ok_w(20, 1, 7, 42),
            inv_w(30, 1, 7, 43),
            fail_w(40, 1, 7, 43),
        ];
        let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
        assert_eq!(r.anomalies.lost_writes, 0);
        assert_eq!(r.verdicts["lost_writes"], Verdict::Valid);
        // No ok write at all: nothing to judge.
        let r = check(&h[2..], &[initial(7, 1, 7)]);
        assert_eq!(r.verdicts["lost_writes"], Verdict::Unknown);
    }
}
