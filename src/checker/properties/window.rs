//! The inconsistency window of each acknowledged write (the measure of Meta's Polaris).
//!
//! For a write W of key k acknowledged at `a` that committed version `m` (initial commits
//! excluded; a version acknowledged by several `ok` writes counts once, at its earliest
//! acknowledgement), the window is the time from `a` to the invocation of the last read of k,
//! invoked after `a`, that still returned a version older than `m`:
//!
//! `window(W) = max(0, maxR(m) − a)`, where `maxR(m)` is the latest `r_inv` among the judged
//! reads of k (see [`stale`](crate::checker::properties::stale)) that returned a version below `m`.
//!
//! `maxR` is a prefix maximum over positions, so a key costs O(reads + versions). A write with no
//! later old read has window 0. Reported: the distribution (ms) over all acknowledged writes,
//! and the share of them whose window is within 1 ms, 10 ms, 100 ms, 1 s and 10 s. With no
//! acknowledged write the share is undefined and `nines` is empty.

use crate::checker::findings::Findings;
use crate::checker::property::{Better, Checker, Figure};
use crate::checker::stats::Dist;
use crate::checker::truth::NO_ACK;
use crate::checker::Input;
use crate::checker::Window;

/// The "nines within T" thresholds: (key, T in ns).
pub const NINES: [(&str, u64); 5] = [
    ("1ms", 1_000_000),
    ("10ms", 10_000_000),
    ("100ms", 100_000_000),
    ("1s", 1_000_000_000),
    ("10s", 10_000_000_000),
];

pub static CHECKER: Checker = Checker::measurement("window", "inconsistency windows", check)
    .figures(&[
        Figure::named("window_p50_ms", "inconsistency_window.ms.p50"),
        Figure::named("window_p90_ms", "inconsistency_window.ms.p90"),
        Figure::named("window_p99_ms", "inconsistency_window.ms.p99")
            .compared("window p99 ms", Better::Lower)
            .needs("inconsistency_window.writes")
            .column("window p99"),
        Figure::named("window_p999_ms", "inconsistency_window.ms.p999"),
        Figure::named("window_max_ms", "inconsistency_window.ms.max"),
        Figure::named("nines_1ms", "inconsistency_window.nines.1ms"),
        Figure::named("nines_10ms", "inconsistency_window.nines.10ms"),
        Figure::named("nines_100ms", "inconsistency_window.nines.100ms")
            .compared("writes consistent within 100 ms", Better::Higher),
        Figure::named("nines_1s", "inconsistency_window.nines.1s")
            .compared("writes consistent within 1 s", Better::Higher),
        Figure::named("nines_10s", "inconsistency_window.nines.10s"),
    ]);

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let mut dist = Dist::new();
    let mut within = [0u64; NINES.len()];
    let mut max_r: Vec<Option<u64>> = Vec::new();
    for kd in input.run.key_data() {
        // max_r[p]: latest invoke of a judged read that returned position p.
        max_r.clear();
        max_r.resize(kd.positions(), None);
        for op in kd.ops.iter().filter(|o| o.is_judged_read()) {
            if let Some(slot) = max_r.get_mut(op.pos as usize) {
                *slot = Some(slot.map_or(op.inv_ns, |t| t.max(op.inv_ns)));
            }
        }
        // below: latest invoke among reads of positions < the current one.
        let mut below: Option<u64> = None;
        for (i, v) in kd.versions.iter().enumerate() {
            let pos = i + 1;
            below = below.max(max_r[pos - 1]);
            if v.initial || v.ack_ns == NO_ACK {
                continue;
            }
            let w = below.map_or(0, |r| r.saturating_sub(v.ack_ns));
            dist.record(w);
            for (n, (_, t)) in within.iter_mut().zip(NINES) {
                if w <= t {
                    *n += 1;
                }
            }
        }
    }
    let writes = dist.count();
    let nines = if writes == 0 {
        Default::default()
    } else {
        NINES
            .iter()
            .zip(within)
            .map(|((k, _), n)| (k.to_string(), n as f64 / writes as f64))
            .collect()
    };
    out.window = Some(Window {
        writes,
        ms: dist.percentiles(1e6),
        nines,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::checker::testkit::*;

    fn commits() -> Vec<crate::history::Commit> {
        vec![initial(7, 1, 1), commit(7, 2, 2), commit(7, 3, 3)]
    }

    #[test]
    fn a_write_with_no_later_old_read_has_window_zero() {
        let h = [
            inv_w(10, 1, 7, 2),
            ok_w(20, 1, 7, 2),
            inv_r(30, 2, 7),
            ok_r(31, 2, 7, Some(2)),
        ];
        let w = check(&h, &commits()).inconsistency_window;
        assert_eq!((w.writes, w.ms.count, w.ms.max), (1, 1, 0.0));
        assert_eq!(w.nines.len(), 5);
        assert!(w.nines.values().all(|&s| s == 1.0), "{:?}", w.nines);
    }

    #[test]
    fn the_window_ends_at_the_last_read_of_an_older_version() {
        let h = [
            inv_w(10, 1, 7, 2),
            ok_w(20, 1, 7, 2),
            inv_r(25, 2, 7),
            ok_r(26, 2, 7, Some(1)),
            inv_r(50, 2, 7),
            ok_r(51, 2, 7, Some(1)), // the last old read: 30 ms after the ack
            inv_r(60, 2, 7),
            ok_r(61, 2, 7, Some(2)),
        ];
        let w = check(&h, &commits()).inconsistency_window;
        assert_eq!(w.ms.max, 30.0);
        assert_eq!(w.nines["1ms"], 0.0);
        assert_eq!(w.nines["10ms"], 0.0);
        assert_eq!(w.nines["100ms"], 1.0);
        assert_eq!(w.nines["10s"], 1.0);
    }

    #[test]
    fn an_old_read_invoked_before_the_ack_does_not_open_a_window() {
        let h = [
            inv_w(10, 1, 7, 2),
            inv_r(15, 2, 7),
            ok_w(20, 1, 7, 2),
            ok_r(25, 2, 7, Some(1)),
        ];
        let w = check(&h, &commits()).inconsistency_window;
        assert_eq!(w.ms.max, 0.0);
    }

    #[test]
    fn an_old_read_holds_open_the_windows_of_every_newer_write() {
        let h = [
            inv_w(10, 1, 7, 2),
            ok_w(20, 1, 7, 2),
            inv_w(30, 1, 7, 3),
            ok_w(40, 1, 7, 3),
            inv_r(50, 2, 7),
            ok_r(51, 2, 7, Some(1)), // older than v2 and v3
            inv_r(60, 2, 7),
            ok_r(61, 2, 7, Some(2)), // older than v3 only
        ];
        let w = check(&h, &commits()).inconsistency_window;
        // v2: 50 - 20 = 30 ms; v3: 60 - 40 = 20 ms.
        assert_eq!((w.writes, w.ms.max), (2, 30.0));
        assert!(approx(w.ms.p50, 20.0), "{:?}", w.ms);
        assert_eq!(w.nines["10ms"], 0.0);
        assert_eq!(w.nines["100ms"], 1.0);
    }

    #[test]
    fn initial_commits_and_unacknowledged_writes_have_no_window() {
        let h = [
            inv_w(10, 1, 7, 2),
            info_w(20, 1, 7, 2),
            inv_r(30, 2, 7),
            ok_r(31, 2, 7, Some(1)),
        ];
        let w = check(&h, &commits()).inconsistency_window;
        assert_eq!(w.writes, 0);
        assert!(w.nines.is_empty());
    }
}
