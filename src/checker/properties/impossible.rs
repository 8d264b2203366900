//! **Impossible read**: an `ok` read returned a value that no write of the key invoked and no
//! commit carries, or null on a key that has initial data (it can never be absent). It means a
//! bug in the harness or corruption, never a cache race. O(ops) per key.

use crate::checker::fasthash::FastMap;
use crate::checker::findings::{secs, Findings};
use crate::checker::ops::Op;
use crate::checker::properties::values::{read_events, uncommitted};
use crate::checker::property::Checker;
use crate::checker::truth::{KeyData, POS_NONE};
use crate::checker::Anomaly;
use crate::checker::Input;

pub static CHECKER: Checker = Checker::property("impossible_reads", "impossible reads", check)
    .alarm("impossible reads: values no write produced (a harness bug or corruption)");

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let mut writers: FastMap<i64, usize> = FastMap::default();
    for kd in input.run.key_data() {
        uncommitted(kd, &mut writers);
        for op in kd.ops.iter().filter(|o| o.is_ok_read()) {
            out.judged();
            if op.pos != POS_NONE || op.value().is_some_and(|v| writers.contains_key(&v)) {
                continue;
            }
            out.flag(op.inv_ns, || impossible(kd, op));
        }
    }
    Ok(out)
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

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::Verdict;

    #[test]
    fn a_value_nobody_wrote_is_impossible() {
        let h = [inv_r(30, 2, 7), ok_r(31, 2, 7, Some(999))];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies["impossible_reads"], 1);
        assert_eq!(r.anomalies["dirty_reads"], 0);
        assert_eq!(examples(&r, "impossible_reads")[0].events, vec![0, 1]);
    }

    #[test]
    fn fail_and_info_reads_are_not_judged() {
        let mut info = info_r(31, 2, 7);
        info.value = Some(999);
        let h = [inv_r(30, 2, 7), info, inv_r(40, 2, 7), fail_r(41, 2, 7)];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies["impossible_reads"], 0);
        assert_eq!(r.verdicts["impossible_reads"], Verdict::Unknown);
        assert_eq!(r.ops.read.info, 1);
    }

    #[test]
    fn absent_is_impossible_on_a_key_with_initial_data_and_fine_without() {
        let h = [inv_r(30, 2, 7), ok_r(31, 2, 7, None)];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies["impossible_reads"], 1);
        let why = &examples(&r, "impossible_reads")[0].explanation;
        assert!(why.contains("initial data (v1, value 7)"), "{why}");
        let r = check(&h, &[commit(7, 1, 7)]);
        assert_eq!(r.anomalies["impossible_reads"], 0);
        assert_eq!(r.anomalies["stale_reads"], 0);
    }
}
