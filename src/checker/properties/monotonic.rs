//! Monotonic reads, per process and key, over the judged reads (see [`stale`](crate::checker::properties::stale))
//! in the process's own order: a **monotonic-read violation** is a read of a version of k
//! lower than one the same process read earlier of k (compared with the highest it read
//! before).
//!
//! A read after another client's newer in-flight write can break monotonic reads without being
//! stale. O(ops) per key.

use crate::checker::fasthash::FastMap;
use crate::checker::findings::{secs, Findings};
use crate::checker::ops::Op;
use crate::checker::property::Checker;
use crate::checker::truth::KeyData;
use crate::checker::Anomaly;
use crate::checker::Input;

pub static CHECKER: Checker = Checker::property(
    "monotonic_read_violations",
    "monotonic-read violations",
    check,
)
.column("mono");

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let procs = &input.run.processes;
    // Per process: the op index of its highest read of the key.
    let mut highest: FastMap<u32, usize> = FastMap::default();
    for kd in input.run.key_data() {
        highest.clear();
        for (i, op) in kd.ops.iter().enumerate() {
            if !op.is_judged_read() {
                continue;
            }
            out.judged();
            let prev = highest.get(&op.process).map(|&r| &kd.ops[r]);
            if let Some(prev) = prev.filter(|p| p.pos > op.pos) {
                let process = procs.get(op.process as usize).copied().unwrap_or(-1);
                out.flag(prev.cmp_ns, || {
                    let tail = format!(
                        "older than {} that its earlier read returned at {}",
                        kd.describe(prev.pos),
                        secs(prev.cmp_ns)
                    );
                    explain(kd, process, op, prev, tail)
                });
            }
            if prev.is_none_or(|p| p.pos < op.pos) {
                highest.insert(op.process, i);
            }
        }
    }
    Ok(out)
}

/// The evidence of a session anomaly: the earlier operation and the read that went back.
pub(super) fn explain(kd: &KeyData, process: i64, op: &Op, earlier: &Op, tail: String) -> Anomaly {
    Anomaly {
        kind: String::new(),
        key: kd.key,
        events: vec![
            earlier.inv_idx as u64,
            earlier.cmp_idx as u64,
            op.inv_idx as u64,
            op.cmp_idx as u64,
        ],
        start_ns: earlier.cmp_ns,
        end_ns: op.cmp_ns,
        explanation: format!(
            "process {process}'s {} invoked at {} returned {}, {tail}",
            op.what(),
            secs(op.inv_ns),
            kd.describe(op.pos),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::Verdict;

    fn commits() -> Vec<crate::history::Commit> {
        vec![initial(7, 1, 1), commit(7, 2, 2)]
    }

    #[test]
    fn reading_older_after_newer_breaks_monotonic_reads_even_when_not_stale() {
        // v2 is in flight the whole time, so neither read is stale.
        let h = [
            inv_w(10, 1, 7, 2),
            inv_r(20, 2, 7),
            ok_r(21, 2, 7, Some(2)),
            inv_r(30, 2, 7),
            ok_r(31, 2, 7, Some(1)),
            ok_w(100, 1, 7, 2),
        ];
        let r = check(&h, &commits());
        assert_eq!(r.anomalies["monotonic_read_violations"], 1);
        assert_eq!(r.anomalies["read_your_writes_violations"], 0);
        assert_eq!(r.anomalies["stale_reads"], 0);
        let ex = examples(&r, "monotonic_read_violations");
        assert_eq!(ex[0].events, vec![1, 2, 3, 4]);
        assert_eq!(
            ex[0].explanation,
            "process 2's read (cache hit) invoked at 0.030 s returned v1 (value 1), older than v2 (value 2) that its earlier read returned at 0.021 s"
        );
    }

    #[test]
    fn different_processes_reading_out_of_order_is_not_a_session_anomaly() {
        let h = [
            inv_w(10, 1, 7, 2),
            inv_r(20, 2, 7),
            ok_r(21, 2, 7, Some(2)),
            inv_r(30, 3, 7),
            ok_r(31, 3, 7, Some(1)),
            ok_w(100, 1, 7, 2),
        ];
        let r = check(&h, &commits());
        assert_eq!(r.anomalies["monotonic_read_violations"], 0);
        assert_eq!(r.verdicts["monotonic_read_violations"], Verdict::Valid);
    }
}
