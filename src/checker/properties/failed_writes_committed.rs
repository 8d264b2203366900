//! **Failed write committed**: a write that completed `fail` ("certainly not applied") but
//! whose value a commit of the key carries. The contract of `fail` is broken in a way that
//! matters: a client would retry, or report an error, for a write that happened (a service
//! answering `409`/`422` after its database write committed). O(ops) per key.

use crate::checker::findings::{secs, Findings};
use crate::checker::ops::{Op, Outcome};
use crate::checker::property::Checker;
use crate::checker::truth::{KeyData, POS_NONE};
use crate::checker::Anomaly;
use crate::checker::Input;

pub static CHECKER: Checker =
    Checker::property("failed_writes_committed", "failed writes committed", check);

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let procs = &input.run.processes;
    for kd in input.run.key_data() {
        for op in &kd.ops {
            if !op.write || op.value().is_none() {
                continue;
            }
            match op.outcome {
                Outcome::Ok => out.judged(),
                Outcome::Fail => {
                    out.judged();
                    if op.pos != POS_NONE {
                        let process = procs.get(op.process as usize).copied().unwrap_or(-1);
                        out.flag(op.inv_ns, || committed(kd, op, process));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

fn committed(kd: &KeyData, op: &Op, process: i64) -> Anomaly {
    Anomaly::of_op(
        kd.key,
        op,
        format!(
            "process {process}'s write of value {} failed at {} (certainly not applied), but the database committed it as {}",
            op.value().unwrap_or_default(),
            secs(op.cmp_ns),
            kd.describe(op.pos)
        ),
    )
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::Verdict;

    #[test]
    fn a_failed_write_that_committed_is_flagged() {
        let h = [inv_w(10, 1, 7, 42), fail_w(20, 1, 7, 42)];
        let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
        assert_eq!(r.anomalies["failed_writes_committed"], 1);
        assert_eq!(r.verdicts["failed_writes_committed"], Verdict::Invalid);
        let ex = &examples(&r, "failed_writes_committed")[0];
        assert_eq!(ex.events, vec![0, 1]);
        assert!(ex.explanation.contains("committed"), "{}", ex.explanation);
    }

    #[test]
    fn failed_writes_that_did_not_commit_and_ok_writes_are_fine() {
        // Near miss: the failed write's value is not in the commit log; the ok one is.
        let h = [
            inv_w(10, 1, 7, 42),
            ok_w(20, 1, 7, 42),
            inv_w(30, 1, 7, 43),
            fail_w(40, 1, 7, 43),
        ];
        let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
        assert_eq!(r.anomalies["failed_writes_committed"], 0);
        assert_eq!(r.verdicts["failed_writes_committed"], Verdict::Valid);
    }
}
