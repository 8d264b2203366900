//! **Lost write**: a write that completed `ok` but whose value no commit of the key carries
//! (write-behind under a crash). O(ops) per key.

use crate::checker::findings::{secs, Findings};
use crate::checker::ops::{Op, Outcome};
use crate::checker::property::Checker;
use crate::checker::truth::{KeyData, POS_NONE};
use crate::checker::Anomaly;
use crate::checker::Input;

pub static CHECKER: Checker = Checker::property("lost_writes", "lost writes", check).column("lost");

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let procs = &input.run.processes;
    for kd in input.run.key_data() {
        for op in &kd.ops {
            if !op.write || op.outcome != Outcome::Ok || op.value().is_none() {
                continue;
            }
            out.judged();
            if op.pos == POS_NONE {
                let process = procs.get(op.process as usize).copied().unwrap_or(-1);
                out.flag(op.inv_ns, || lost(kd, op, process));
            }
        }
    }
    Ok(out)
}

fn lost(kd: &KeyData, op: &Op, process: i64) -> Anomaly {
    Anomaly::of_op(
        kd.key,
        op,
        format!(
            "process {process}'s write of value {} was acknowledged at {}, but the database never committed it",
            op.value().unwrap_or_default(),
            secs(op.cmp_ns)
        ),
    )
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::Verdict;

    #[test]
    fn an_acknowledged_write_that_never_committed_is_lost() {
        let h = [inv_w(10, 1, 7, 42), ok_w(20, 1, 7, 42)];
        let r = check(&h, &[initial(7, 1, 7)]);
        assert_eq!(r.anomalies["lost_writes"], 1);
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
        assert_eq!(r.anomalies["lost_writes"], 0);
        assert_eq!(r.verdicts["lost_writes"], Verdict::Valid);
        // No ok write at all: nothing to judge.
        let r = check(&h[2..], &[initial(7, 1, 7)]);
        assert_eq!(r.verdicts["lost_writes"], Verdict::Unknown);
    }
}
