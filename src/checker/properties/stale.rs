//! Stale reads, and how stale they were.
//!
//! A read R of key k, invoked at `r_inv`, that returned version `n` (an `ok` read whose value
//! some commit carries, or null on a key without initial data: version 0) is **stale** when some
//! version `m > n` of k was acknowledged strictly before `r_inv`. Only definite staleness
//! counts: a write still in flight at `r_inv`, or one that ended `info`, does not make R stale.
//! Initial commits count as acknowledged at time 0.
//!
//! Its **staleness in time** is `r_inv` minus the earliest acknowledgement among the versions
//! above `n` (the first write that superseded `n`); **in versions**, the newest version
//! acknowledged before `r_inv` minus `n`.
//!
//! Per key: the acknowledged versions sorted by time with a running maximum answer "newest
//! acknowledged before t" by binary search; a suffix minimum over positions answers "first
//! acknowledgement above n". O(r log w + w log w) per key.

use crate::checker::findings::{millis, secs, Findings};
use crate::checker::ops::Op;
use crate::checker::property::{Better, Checker, Figure};
use crate::checker::stats::Dist;
use crate::checker::truth::{KeyData, NO_ACK, NO_IDX};
use crate::checker::Anomaly;
use crate::checker::Input;
use crate::checker::Staleness;

pub static CHECKER: Checker = Checker::property("stale_reads", "stale reads", check)
    .column("stale")
    .figures(&[
        Figure::named("stale_p50_ms", "staleness.time_ms.p50"),
        Figure::named("stale_p90_ms", "staleness.time_ms.p90"),
        Figure::named("stale_p99_ms", "staleness.time_ms.p99")
            .compared("staleness p99 ms", Better::Lower)
            .column("stale p99"),
        Figure::named("stale_p999_ms", "staleness.time_ms.p999"),
        Figure::named("stale_max_ms", "staleness.time_ms.max")
            .compared("staleness max ms", Better::Lower),
        Figure::named("stale_versions_max", "staleness.versions.max"),
    ]);

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let mut time = Dist::new();
    let mut versions = Dist::new();
    for kd in input.run.key_data() {
        let mut reads = kd.ops.iter().filter(|o| o.is_judged_read()).peekable();
        if reads.peek().is_none() {
            continue;
        }
        out.judged();
        let acks = AckIndex::new(kd);
        for op in reads {
            let Some(newest) = acks.newest_before(op.inv_ns) else {
                continue;
            };
            if newest <= op.pos {
                continue;
            }
            let (first_ns, first_pos) = acks.first_above(op.pos);
            let dt = op.inv_ns.saturating_sub(first_ns);
            let dv = kd.version_number(newest) as i128 - kd.version_number(op.pos) as i128;
            let dv = u64::try_from(dv.max(0)).unwrap_or(u64::MAX);
            time.record(dt);
            versions.record(dv);
            out.flag(first_ns, || {
                explain(kd, op, newest, first_pos, first_ns, dv)
            });
        }
    }
    out.staleness = Some(Staleness {
        time_ms: time.percentiles(1e6),
        versions: versions.percentiles(1.0),
    });
    Ok(out)
}

/// A key's acknowledgements, indexed for the two questions above.
struct AckIndex {
    /// (ack time, newest position acknowledged up to and including this one), by time.
    by_time: Vec<(u64, u32)>,
    /// `first_above[p]`: (earliest ack time, its position) among positions > p.
    first_above: Vec<(u64, u32)>,
}

impl AckIndex {
    fn new(kd: &KeyData) -> Self {
        let acked = kd
            .versions
            .iter()
            .enumerate()
            .filter(|(_, v)| v.ack_ns != NO_ACK)
            .map(|(i, v)| (v.ack_ns, i as u32 + 1));
        let mut by_time: Vec<(u64, u32)> = acked.collect();
        by_time.sort_unstable();
        let mut newest = 0;
        for e in &mut by_time {
            newest = newest.max(e.1);
            e.1 = newest;
        }
        let n = kd.positions();
        let mut first_above = vec![(NO_ACK, 0u32); n];
        for p in (0..n.saturating_sub(1)).rev() {
            let q = p + 1;
            let here = (kd.versions[q - 1].ack_ns, q as u32);
            first_above[p] = if here.0 <= first_above[q].0 {
                here
            } else {
                first_above[q]
            };
        }
        AckIndex {
            by_time,
            first_above,
        }
    }

    /// The newest position acknowledged strictly before `t`.
    fn newest_before(&self, t: u64) -> Option<u32> {
        let i = self.by_time.partition_point(|&(a, _)| a < t);
        i.checked_sub(1).map(|i| self.by_time[i].1)
    }

    fn first_above(&self, pos: u32) -> (u64, u32) {
        self.first_above
            .get(pos as usize)
            .copied()
            .unwrap_or((NO_ACK, 0))
    }
}

fn explain(kd: &KeyData, op: &Op, newest: u32, first_pos: u32, first_ns: u64, dv: u64) -> Anomaly {
    let first = kd.version_at(first_pos);
    let mut events = vec![op.inv_idx as u64, op.cmp_idx as u64];
    if let Some(idx) = first.map(|v| v.ack_idx).filter(|&i| i != NO_IDX) {
        events.push(idx as u64);
    }
    events.sort_unstable();
    let acked = match first {
        Some(v) if v.initial => "was loaded before the run".to_string(),
        _ => format!("had been acknowledged at {}", secs(first_ns)),
    };
    let mut explanation = format!(
        "{} invoked at {} returned {}, but {} {acked}, {} earlier",
        op.what(),
        secs(op.inv_ns),
        kd.describe(op.pos),
        kd.describe(first_pos),
        millis(op.inv_ns.saturating_sub(first_ns)),
    );
    if newest != first_pos {
        explanation.push_str(&format!(
            "; the newest version acknowledged by then was v{} ({dv} versions ahead)",
            kd.version_number(newest)
        ));
    }
    Anomaly {
        kind: String::new(),
        key: kd.key,
        events,
        start_ns: first_ns,
        end_ns: op.cmp_ns,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;
    use crate::checker::Verdict;

    #[test]
    fn read_after_a_newer_acknowledged_write_is_stale() {
        let h = [
            inv_w(10, 1, 7, 42),
            ok_w(20, 1, 7, 42),
            inv_r(30, 2, 7),
            ok_r(31, 2, 7, Some(7)),
        ];
        let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
        assert_eq!(r.anomalies["stale_reads"], 1);
        assert_eq!(r.verdicts["stale_reads"], Verdict::Invalid);
        assert_eq!(r.staleness.time_ms.max, 10.0);
        assert_eq!(r.staleness.versions.max, 1.0);
        let ex = examples(&r, "stale_reads");
        assert_eq!(ex[0].events, vec![1, 2, 3]);
        assert_eq!(ex[0].key, 7);
        assert_eq!((ex[0].start_ns, ex[0].end_ns), (20_000_000, 31_000_000));
        assert_eq!(
            ex[0].explanation,
            "read (cache hit) invoked at 0.030 s returned v1 (value 7), but v2 (value 42) had been acknowledged at 0.020 s, 10.000 ms earlier"
        );
    }

    #[test]
    fn a_write_in_flight_at_the_read_is_not_staleness() {
        let h = [
            inv_w(10, 1, 7, 42),
            inv_r(15, 2, 7),
            ok_r(16, 2, 7, Some(7)),
            ok_w(20, 1, 7, 42),
        ];
        let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
        assert_eq!(r.anomalies["stale_reads"], 0);
        assert_eq!(r.verdicts["stale_reads"], Verdict::Valid);
        assert_eq!(r.staleness.time_ms.count, 0);
    }

    #[test]
    fn acknowledged_exactly_at_the_read_invoke_is_not_stale_but_just_before_is() {
        let commits = [initial(7, 1, 7), commit(7, 2, 42)];
        let at = [
            inv_w(10, 1, 7, 42),
            ok_w(20, 1, 7, 42),
            inv_r(20, 2, 7),
            ok_r(21, 2, 7, Some(7)),
        ];
        assert_eq!(check(&at, &commits).anomalies["stale_reads"], 0);
        let mut just_after = at.clone();
        just_after[2].time += 1; // 1 ns after the acknowledgement
        let r = check(&just_after, &commits);
        assert_eq!(r.anomalies["stale_reads"], 1);
        assert_eq!(r.staleness.time_ms.max, 0.000001);
    }

    #[test]
    fn staleness_in_time_and_versions_with_several_superseding_writes() {
        // v2, v3, v4 acknowledged at 10, 20, 30 ms; v5 still in flight.
        let h = [
            inv_w(5, 1, 7, 2),
            ok_w(10, 1, 7, 2),
            inv_w(15, 1, 7, 3),
            ok_w(20, 1, 7, 3),
            inv_w(25, 1, 7, 4),
            ok_w(30, 1, 7, 4),
            inv_w(35, 1, 7, 5),
            inv_r(40, 2, 7),
            ok_r(41, 2, 7, Some(1)), // v1: 30 ms and 3 versions stale
            inv_r(45, 2, 7),
            ok_r(46, 2, 7, Some(3)), // v3: 15 ms and 1 version stale
            ok_w(60, 1, 7, 5),
        ];
        let commits = [
            initial(7, 1, 1),
            commit(7, 2, 2),
            commit(7, 3, 3),
            commit(7, 4, 4),
            commit(7, 5, 5),
        ];
        let r = check(&h, &commits);
        assert_eq!(r.anomalies["stale_reads"], 2);
        let s = &r.staleness;
        assert_eq!((s.time_ms.count, s.time_ms.max), (2, 30.0));
        assert!(approx(s.time_ms.p50, 15.0), "{:?}", s.time_ms);
        assert_eq!((s.versions.p50, s.versions.max), (1.0, 3.0));
        let ex = examples(&r, "stale_reads");
        assert_eq!(ex[0].events, vec![1, 7, 8]);
        assert!(
            ex[0]
                .explanation
                .ends_with("the newest version acknowledged by then was v4 (3 versions ahead)"),
            "{}",
            ex[0].explanation
        );
        assert_eq!(ex[1].events, vec![5, 9, 10]);
    }

    #[test]
    fn acknowledgements_out_of_version_order() {
        // v3's writer learns of its commit before v2's writer does.
        let h = [
            inv_w(1, 1, 7, 2),
            inv_w(2, 3, 7, 3),
            ok_w(10, 3, 7, 3),
            inv_r(20, 2, 7),
            ok_r(21, 2, 7, Some(1)),
            inv_r(25, 2, 7),
            ok_r(26, 2, 7, Some(2)),
            ok_w(30, 1, 7, 2),
        ];
        let commits = [initial(7, 1, 1), commit(7, 2, 2), commit(7, 3, 3)];
        let r = check(&h, &commits);
        assert_eq!(r.anomalies["stale_reads"], 2);
        assert_eq!(r.staleness.time_ms.max, 15.0); // 25 - 10: v3 superseded v2
        assert_eq!(r.staleness.versions.max, 2.0); // v3 - v1
    }

    #[test]
    fn reading_a_key_as_absent_after_its_first_write_is_stale() {
        let h = [
            inv_w(1, 1, 9, 5),
            ok_w(2, 1, 9, 5),
            inv_r(3, 2, 9),
            ok_r(4, 2, 9, None),
        ];
        let r = check(&h, &[commit(9, 1, 5)]);
        assert_eq!(r.anomalies["stale_reads"], 1);
        assert_eq!(r.anomalies["impossible_reads"], 0);
        assert!(examples(&r, "stale_reads")[0]
            .explanation
            .contains("returned v0 (absent)"));
    }

    #[test]
    fn an_info_write_that_committed_is_not_acknowledged() {
        let h = [
            inv_w(10, 1, 7, 42),
            info_w(20, 1, 7, 42),
            inv_r(30, 2, 7),
            ok_r(31, 2, 7, Some(7)),
        ];
        let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
        assert_eq!(r.anomalies["stale_reads"], 0);
    }

    #[test]
    fn no_reads_is_unknown() {
        let h = [
            inv_w(10, 1, 7, 42),
            ok_w(20, 1, 7, 42),
            inv_r(30, 2, 7),
            fail_r(31, 2, 7),
        ];
        let r = check(&h, &[commit(7, 1, 42)]);
        assert_eq!(r.verdicts["stale_reads"], Verdict::Unknown);
    }
}
