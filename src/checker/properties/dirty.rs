//! **Dirty read**: an `ok` read returned a value that some write of the key invoked (whatever
//! its completion) but that no commit of the key carries. See [`values`](crate::checker::properties::values) for
//! what makes a value legitimate. O(ops) per key.

use crate::checker::fasthash::FastMap;
use crate::checker::findings::{secs, Findings};
use crate::checker::ops::{Op, Outcome};
use crate::checker::properties::values::{read_events, uncommitted};
use crate::checker::property::Checker;
use crate::checker::truth::{KeyData, NO_IDX, POS_NONE};
use crate::checker::Anomaly;
use crate::checker::Input;

pub static CHECKER: Checker =
    Checker::property("dirty_reads", "dirty reads", check).column("dirty");

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let procs = &input.run.processes;
    let mut writers: FastMap<i64, usize> = FastMap::default();
    for kd in input.run.key_data() {
        uncommitted(kd, &mut writers);
        for op in kd.ops.iter().filter(|o| o.is_ok_read()) {
            out.judged();
            if op.pos != POS_NONE {
                continue;
            }
            if let Some(w) = op
                .value()
                .and_then(|v| writers.get(&v))
                .map(|&w| &kd.ops[w])
            {
                let process = procs.get(w.process as usize).copied().unwrap_or(-1);
                out.flag(w.inv_ns, || dirty(kd, op, w, process));
            }
        }
    }
    Ok(out)
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
        assert_eq!(r.anomalies["dirty_reads"], 1);
        assert_eq!(r.anomalies["impossible_reads"], 0);
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
        assert_eq!(r.anomalies["dirty_reads"], 0);
        assert_eq!(r.anomalies["impossible_reads"], 0);
        assert_eq!(r.verdicts["dirty_reads"], Verdict::Valid);
        assert_eq!(r.verdicts["impossible_reads"], Verdict::Valid);
    }
}
