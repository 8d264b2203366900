//! Session guarantees, per process and key, over the judged reads (see
//! [`stale`](super::stale)) in the process's own order:
//!
//! * **monotonic-read violation**: a process reads a version of k lower than one it read
//!   earlier of k (compared with the highest it read before);
//! * **read-your-writes violation**: a process reads a version of k lower than its own `ok`
//!   write of k (the highest committed version among its acknowledged writes of k).
//!
//! The two are independent: a read after another client's newer in-flight write can break
//! monotonic reads without being stale; a read older than one's own acknowledged write is
//! also stale. One read can violate both and is then counted once in each.

use super::fasthash::FastMap;
use super::findings::{secs, Findings, Property};
use super::ops::{Op, Outcome};
use super::truth::{KeyData, POS_NONE};
use super::{Anomaly, Input};

pub const PROPERTIES: &[Property] = &[
    Property::MonotonicReadViolations,
    Property::ReadYourWritesViolations,
];

/// What a process has seen of one key: the op index of its highest read and of its highest
/// acknowledged write.
#[derive(Default, Clone, Copy)]
struct Seen {
    read: Option<usize>,
    write: Option<usize>,
}

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let procs = &input.run.processes;
    let mut seen: FastMap<u32, Seen> = FastMap::default();
    for kd in input.run.key_data() {
        seen.clear();
        for (i, op) in kd.ops.iter().enumerate() {
            if op.write {
                if op.outcome == Outcome::Ok && op.pos != POS_NONE {
                    let s = seen.entry(op.process).or_default();
                    if s.write.is_none_or(|w| kd.ops[w].pos < op.pos) {
                        s.write = Some(i);
                    }
                }
                continue;
            }
            if !op.is_judged_read() {
                continue;
            }
            out.judged(Property::MonotonicReadViolations);
            out.judged(Property::ReadYourWritesViolations);
            let s = seen.entry(op.process).or_default();
            let process = procs.get(op.process as usize).copied().unwrap_or(-1);
            if let Some(prev) = s.read.map(|r| &kd.ops[r]).filter(|p| p.pos > op.pos) {
                out.flag(Property::MonotonicReadViolations, prev.cmp_ns, || {
                    let tail = format!(
                        "older than {} that its earlier read returned at {}",
                        kd.describe(prev.pos),
                        secs(prev.cmp_ns)
                    );
                    explain(kd, process, op, prev, tail)
                });
            }
            if let Some(own) = s.write.map(|w| &kd.ops[w]).filter(|w| w.pos > op.pos) {
                out.flag(Property::ReadYourWritesViolations, own.cmp_ns, || {
                    let tail = format!(
                        "older than its own write of {}, acknowledged at {}",
                        kd.describe(own.pos),
                        secs(own.cmp_ns)
                    );
                    explain(kd, process, op, own, tail)
                });
            }
            if s.read.is_none_or(|r| kd.ops[r].pos < op.pos) {
                s.read = Some(i);
            }
        }
    }
    Ok(out)
}

fn explain(kd: &KeyData, process: i64, op: &Op, earlier: &Op, tail: String) -> Anomaly {
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
        assert_eq!(r.anomalies.monotonic_read_violations, 1);
        assert_eq!(r.anomalies.read_your_writes_violations, 0);
        assert_eq!(r.anomalies.stale_reads, 0);
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
        assert_eq!(r.anomalies.monotonic_read_violations, 0);
        assert_eq!(r.verdicts["monotonic_read_violations"], Verdict::Valid);
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
        assert_eq!(r.anomalies.read_your_writes_violations, 1);
        assert_eq!(r.anomalies.monotonic_read_violations, 0);
        assert_eq!(r.anomalies.stale_reads, 1);
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
        assert_eq!(r.anomalies.read_your_writes_violations, 0);
        assert_eq!(r.anomalies.stale_reads, 1);
        let own_info = [
            inv_w(10, 1, 7, 2),
            info_w(20, 1, 7, 2),
            inv_r(30, 1, 7),
            ok_r(31, 1, 7, Some(1)),
        ];
        let r = check(&own_info, &commits());
        assert_eq!(r.anomalies.read_your_writes_violations, 0);
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
        assert_eq!(r.anomalies.read_your_writes_violations, 0);
        assert_eq!(r.anomalies.monotonic_read_violations, 0);
    }
}
