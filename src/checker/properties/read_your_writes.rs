//! Read-your-writes, per process and key: a **read-your-writes violation** is a read of a
//! version of k lower than the process's own `ok` write of k (the highest committed version
//! among its acknowledged writes of k), in the process's own order.
//!
//! A read older than one's own acknowledged write is also stale; one read can break both this
//! and monotonic reads and is then counted once in each. O(ops) per key.

use crate::checker::fasthash::FastMap;
use crate::checker::findings::{secs, Findings};
use crate::checker::ops::Outcome;
use crate::checker::properties::monotonic::explain;
use crate::checker::property::Checker;
use crate::checker::truth::POS_NONE;
use crate::checker::Input;

pub static CHECKER: Checker = Checker::property(
    "read_your_writes_violations",
    "read-your-writes violations",
    check,
)
.column("ryw");

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let procs = &input.run.processes;
    // Per process: the op index of its acknowledged write of the highest committed version.
    let mut own: FastMap<u32, usize> = FastMap::default();
    for kd in input.run.key_data() {
        own.clear();
        for (i, op) in kd.ops.iter().enumerate() {
            if op.write {
                if op.outcome == Outcome::Ok && op.pos != POS_NONE {
                    let w = own.entry(op.process).or_insert(i);
                    if kd.ops[*w].pos < op.pos {
                        *w = i;
                    }
                }
                continue;
            }
            if !op.is_judged_read() {
                continue;
            }
            out.judged();
            let write = own.get(&op.process).map(|&w| &kd.ops[w]);
            if let Some(w) = write.filter(|w| w.pos > op.pos) {
                let process = procs.get(op.process as usize).copied().unwrap_or(-1);
                out.flag(w.cmp_ns, || {
                    let tail = format!(
                        "older than its own write of {}, acknowledged at {}",
                        kd.describe(w.pos),
                        secs(w.cmp_ns)
                    );
                    explain(kd, process, op, w, tail)
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::Verdict;

    fn commits() -> Vec<crate::history::Commit> {
        vec![initial(7, 1, 1), commit(7, 2, 2)]
    }

    #[test]
    fn reading_older_than_ones_own_acknowledged_write_breaks_read_your_writes() {
        let h = [
            inv_w(10, 1, 7, 2),
            ok_w(20, 1, 7, 2),
            inv_r(30, 1, 7),
            ok_r(31, 1, 7, Some(1)),
        ];
        let r = check(&h, &commits());
        assert_eq!(r.anomalies["read_your_writes_violations"], 1);
        assert_eq!(r.anomalies["monotonic_read_violations"], 0);
        assert_eq!(r.anomalies["stale_reads"], 1);
        let ex = examples(&r, "read_your_writes_violations");
        assert_eq!(ex[0].events, vec![0, 1, 2, 3]);
        assert!(ex[0]
            .explanation
            .contains("older than its own write of v2 (value 2), acknowledged at 0.020 s"));
    }

    #[test]
    fn another_processes_write_or_ones_own_unacknowledged_write_is_not_read_your_writes() {
        let other = [
            inv_w(10, 2, 7, 2),
            ok_w(20, 2, 7, 2),
            inv_r(30, 1, 7),
            ok_r(31, 1, 7, Some(1)),
        ];
        let r = check(&other, &commits());
        assert_eq!(r.anomalies["read_your_writes_violations"], 0);
        assert_eq!(r.anomalies["stale_reads"], 1);
        let own_info = [
            inv_w(10, 1, 7, 2),
            info_w(20, 1, 7, 2),
            inv_r(30, 1, 7),
            ok_r(31, 1, 7, Some(1)),
        ];
        let r = check(&own_info, &commits());
        assert_eq!(r.anomalies["read_your_writes_violations"], 0);
        assert_eq!(r.verdicts["read_your_writes_violations"], Verdict::Valid);
        let own_value = [
            inv_w(10, 1, 7, 2),
            ok_w(20, 1, 7, 2),
            inv_r(30, 1, 7),
            ok_r(31, 1, 7, Some(2)),
            inv_r(40, 1, 7),
            ok_r(41, 1, 7, Some(2)),
        ];
        let r = check(&own_value, &commits());
        assert_eq!(r.anomalies["read_your_writes_violations"], 0);
        assert_eq!(r.anomalies["monotonic_read_violations"], 0);
    }
}
