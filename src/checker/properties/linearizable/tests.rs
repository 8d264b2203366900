//! The linear path on hand-built histories: one flagged case and one near miss per rule.
//! Times are in ms; line `i` of a history is `h[i]`.

use super::linear::check_run;
use super::verdict::RunVerdict;
use crate::checker::ops::{Builder, EventView, Run};
pub use crate::checker::testkit::{commit, fail_w, info_w, initial, inv_r, inv_w, ok_r, ok_w};
use crate::checker::Verdict;
use crate::history::{Commit, Event};

/// The paired run of a hand-built history.
pub fn run_of(h: &[Event], commits: &[Commit]) -> Run {
    let mut b = Builder::new(commits);
    for (i, e) in h.iter().enumerate() {
        let ev = EventView::from(e);
        b.event(i, ev).unwrap();
    }
    b.finish(None)
}

fn check(h: &[Event], commits: &[Commit]) -> RunVerdict {
    check_run(&run_of(h, commits))
}

fn explanation(r: &RunVerdict) -> &str {
    &r.keys[0]
        .violation
        .as_ref()
        .expect("a violation")
        .explanation
}

#[test]
fn two_reads_in_real_time_order_seeing_versions_in_the_opposite_order() {
    // v2's write is in flight [5, 50]; a read returns v2 by 20, a later read (30) returns v1.
    // Neither read is stale (v2 was not acknowledged before either): only linearizability
    // catches this.
    let h = [
        inv_w(5, 1, 7, 42),
        inv_r(10, 2, 7),
        ok_r(20, 2, 7, Some(42)),
        inv_r(30, 3, 7),
        ok_r(40, 3, 7, Some(7)),
        ok_w(50, 1, 7, 42),
    ];
    let commits = [initial(7, 1, 7), commit(7, 2, 42)];
    let r = check(&h, &commits);
    assert_eq!((r.verdict, r.invalid, r.valid), (Verdict::Invalid, 1, 0));
    let v = r.keys[0].violation.as_ref().unwrap();
    assert_eq!(v.events, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!((v.start_ns, v.end_ns), (20_000_000, 30_000_000));
    assert_eq!(v.version, 2);
    assert_eq!(
        v.explanation,
        "read (cache hit) completed at 0.020 s returning v2 (value 42), so v2 (value 42) took effect by then; but read (cache hit) invoked at 0.030 s still returned v1 (value 7), so v2 (value 42) took effect after that: no order of the commits fits (v2 (value 42)'s write was in flight from 0.005 s, until 0.050 s)"
    );
    let stale = crate::checker::testkit::check(&h, &commits);
    assert_eq!(
        stale.anomalies["stale_reads"], 0,
        "the stale-read rule misses it"
    );
}

#[test]
fn near_miss_the_same_reads_overlapping_each_other() {
    // The second read is invoked (15) before the first completes (20): either order fits.
    let h = [
        inv_w(5, 1, 7, 42),
        inv_r(10, 2, 7),
        inv_r(15, 3, 7),
        ok_r(20, 2, 7, Some(42)),
        ok_r(40, 3, 7, Some(7)),
        ok_w(50, 1, 7, 42),
    ];
    let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
    assert_eq!((r.verdict, r.valid, r.invalid), (Verdict::Valid, 1, 0));
}

#[test]
fn a_read_returning_a_write_invoked_after_it_completed() {
    let h = [
        inv_r(1, 2, 7),
        ok_r(2, 2, 7, Some(42)),
        inv_w(3, 1, 7, 42),
        ok_w(4, 1, 7, 42),
    ];
    let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        explanation(&r).contains("but the write of v2 (value 42) was invoked only at 0.003 s"),
        "{}",
        explanation(&r)
    );
}

#[test]
fn near_miss_a_read_completing_exactly_when_the_write_is_invoked() {
    // Closed intervals: completion at 3 ms and invoke at 3 ms overlap.
    let h = [
        inv_r(1, 2, 7),
        ok_r(3, 2, 7, Some(42)),
        inv_w(3, 1, 7, 42),
        ok_w(4, 1, 7, 42),
    ];
    let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
    assert_eq!(r.verdict, Verdict::Valid);
}

#[test]
fn writes_committed_in_the_opposite_of_their_real_time_order() {
    // Write 42 completes before write 43 is invoked, but the database committed 43 first.
    let h = [
        inv_w(1, 1, 7, 42),
        ok_w(2, 1, 7, 42),
        inv_w(3, 2, 7, 43),
        ok_w(4, 2, 7, 43),
    ];
    let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 43), commit(7, 3, 42)]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        explanation(&r)
            .contains("and v2 (value 43) comes before v3 (value 42) in the commit order"),
        "{}",
        explanation(&r)
    );
}

#[test]
fn near_miss_concurrent_writes_commit_in_either_order() {
    let h = [
        inv_w(1, 1, 7, 42),
        inv_w(2, 2, 7, 43),
        ok_w(3, 1, 7, 42),
        ok_w(4, 2, 7, 43),
    ];
    for commits in [
        [initial(7, 1, 7), commit(7, 2, 43), commit(7, 3, 42)],
        [initial(7, 1, 7), commit(7, 2, 42), commit(7, 3, 43)],
    ] {
        assert_eq!(check(&h, &commits).verdict, Verdict::Valid);
    }
}

#[test]
fn a_stale_read_is_not_linearizable_but_one_at_the_acknowledgement_is() {
    let commits = [initial(7, 1, 7), commit(7, 2, 42)];
    let at = [
        inv_w(10, 1, 7, 42),
        ok_w(20, 1, 7, 42),
        inv_r(20, 2, 7),
        ok_r(21, 2, 7, Some(7)),
    ];
    assert_eq!(check(&at, &commits).verdict, Verdict::Valid);
    let mut after = at;
    after[2].time = 21_000_000;
    after[3].time = 22_000_000;
    let r = check(&after, &commits);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(
        r.keys[0].violation.as_ref().unwrap().events,
        vec![0, 1, 2, 3]
    );
}

#[test]
fn a_read_of_a_value_never_committed_but_an_info_write_that_committed_is_fine() {
    // Value 42's write failed and never committed: a read of it is dirty.
    let dirty = [
        inv_w(1, 1, 7, 42),
        fail_w(2, 1, 7, 42),
        inv_r(3, 2, 7),
        ok_r(4, 2, 7, Some(42)),
    ];
    let r = check(&dirty, &[initial(7, 1, 7)]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(explanation(&r).contains("returned value 42, which no commit of key 7 carries"));
    // An info write that did commit may take effect long after it timed out.
    let late = [
        inv_w(1, 1, 7, 42),
        info_w(2, 1, 7, 42),
        inv_r(3, 2, 7),
        ok_r(4, 2, 7, Some(7)),
        inv_r(100, 2, 7),
        ok_r(101, 2, 7, Some(42)),
    ];
    assert_eq!(
        check(&late, &[initial(7, 1, 7), commit(7, 2, 42)]).verdict,
        Verdict::Valid
    );
}

#[test]
fn an_info_write_that_took_effect_cannot_be_undone() {
    let h = [
        inv_w(1, 1, 7, 42),
        info_w(2, 1, 7, 42),
        inv_r(3, 2, 7),
        ok_r(4, 2, 7, Some(42)),
        inv_r(5, 2, 7),
        ok_r(6, 2, 7, Some(7)),
    ];
    let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42)]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(
        explanation(&r).contains("its outcome unknown"),
        "{}",
        explanation(&r)
    );
}

#[test]
fn an_acknowledged_write_never_committed_but_an_info_one_may_never_happen() {
    let lost = [inv_w(1, 1, 7, 42), ok_w(2, 1, 7, 42)];
    let r = check(&lost, &[initial(7, 1, 7)]);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert!(explanation(&r).contains("acknowledged at 0.002 s but never committed"));
    let never = [
        inv_w(1, 1, 7, 42),
        info_w(2, 1, 7, 42),
        inv_r(3, 2, 7),
        ok_r(4, 2, 7, Some(7)),
    ];
    assert_eq!(check(&never, &[initial(7, 1, 7)]).verdict, Verdict::Valid);
}

#[test]
fn absent_after_the_first_write_and_absent_while_it_is_in_flight() {
    let commits = [commit(9, 1, 5)];
    let after = [
        inv_w(1, 1, 9, 5),
        ok_w(2, 1, 9, 5),
        inv_r(3, 2, 9),
        ok_r(4, 2, 9, None),
    ];
    assert_eq!(check(&after, &commits).verdict, Verdict::Invalid);
    let during = [
        inv_w(1, 1, 9, 5),
        inv_r(2, 2, 9),
        ok_r(3, 2, 9, None),
        ok_w(4, 1, 9, 5),
    ];
    assert_eq!(check(&during, &commits).verdict, Verdict::Valid);
    // With initial data a key is never absent.
    let r = check(&[inv_r(1, 2, 9), ok_r(2, 2, 9, None)], &[initial(9, 1, 5)]);
    assert_eq!(r.verdict, Verdict::Invalid);
}

#[test]
fn unknown_when_nothing_is_ok_or_a_value_names_two_versions() {
    let nothing = [inv_w(1, 1, 7, 42), fail_w(2, 1, 7, 42)];
    let r = check(&nothing, &[initial(7, 1, 7)]);
    assert_eq!((r.verdict, r.unknown), (Verdict::Unknown, 1));
    let twice = [inv_w(1, 1, 7, 42), ok_w(2, 1, 7, 42)];
    let r = check(
        &twice,
        &[initial(7, 1, 7), commit(7, 2, 42), commit(7, 3, 42)],
    );
    assert_eq!(r.verdict, Verdict::Unknown);
    assert!(r.keys[0].why_unknown.as_ref().unwrap().contains("twice"));
}

#[test]
fn keys_are_judged_apart_and_the_anomalies_name_their_key() {
    let h = [
        inv_w(5, 1, 7, 42),
        inv_r(10, 2, 7),
        ok_r(20, 2, 7, Some(42)),
        inv_r(30, 3, 7),
        ok_r(40, 3, 7, Some(7)),
        ok_w(50, 1, 7, 42),
        inv_r(60, 2, 8),
        ok_r(61, 2, 8, Some(8)),
    ];
    let r = check(&h, &[initial(7, 1, 7), commit(7, 2, 42), initial(8, 1, 8)]);
    assert_eq!((r.verdict, r.valid, r.invalid), (Verdict::Invalid, 1, 1));
    let a = r.anomalies();
    assert_eq!(
        (a.len(), a[0].key, a[0].kind.as_str()),
        (1, 7, "linearizable")
    );
}
