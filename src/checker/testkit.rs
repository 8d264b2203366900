//! Tiny inline histories for the checkers' unit tests. Times are in milliseconds; line `i` of a
//! history is `events[i]`.

use super::{check_events, CheckOptions, CheckReport};
use crate::history::{Commit, Event, EventType, FinalState, Source, F_READ, F_WRITE};

fn ev(t_ms: u64, p: i64, kind: EventType, f: &str, k: i64, v: Option<i64>) -> Event {
    Event {
        time: t_ms * 1_000_000,
        process: p,
        kind,
        f: f.into(),
        key: Some(k),
        value: v,
        source: None,
        error: None,
        detail: None,
    }
}

pub fn inv_r(t: u64, p: i64, k: i64) -> Event {
    ev(t, p, EventType::Invoke, F_READ, k, None)
}
pub fn ok_r(t: u64, p: i64, k: i64, v: Option<i64>) -> Event {
    let mut e = ev(t, p, EventType::Ok, F_READ, k, v);
    e.source = Some(Source::Cache);
    e
}
pub fn fail_r(t: u64, p: i64, k: i64) -> Event {
    ev(t, p, EventType::Fail, F_READ, k, None)
}
pub fn info_r(t: u64, p: i64, k: i64) -> Event {
    ev(t, p, EventType::Info, F_READ, k, None)
}
pub fn inv_w(t: u64, p: i64, k: i64, v: i64) -> Event {
    ev(t, p, EventType::Invoke, F_WRITE, k, Some(v))
}
pub fn ok_w(t: u64, p: i64, k: i64, v: i64) -> Event {
    ev(t, p, EventType::Ok, F_WRITE, k, Some(v))
}
pub fn fail_w(t: u64, p: i64, k: i64, v: i64) -> Event {
    ev(t, p, EventType::Fail, F_WRITE, k, Some(v))
}
pub fn info_w(t: u64, p: i64, k: i64, v: i64) -> Event {
    ev(t, p, EventType::Info, F_WRITE, k, Some(v))
}

pub fn initial(k: i64, version: i64, value: i64) -> Commit {
    Commit {
        key: k,
        version,
        value,
        initial: true,
    }
}
pub fn commit(k: i64, version: i64, value: i64) -> Commit {
    Commit {
        key: k,
        version,
        value,
        initial: false,
    }
}
pub fn fin(k: i64, db: Option<i64>, cache: Option<i64>, ttl: Option<i64>) -> FinalState {
    FinalState {
        key: k,
        db,
        cache,
        cache_ttl_ms: ttl,
    }
}

pub fn check(events: &[Event], commits: &[Commit]) -> CheckReport {
    check_events(events, commits, &[], &CheckOptions::default())
}

pub fn check_final(events: &[Event], commits: &[Commit], finals: &[FinalState]) -> CheckReport {
    check_events(events, commits, finals, &CheckOptions::default())
}

/// The examples of one kind.
pub fn examples<'a>(r: &'a CheckReport, kind: &str) -> Vec<&'a super::Anomaly> {
    r.examples.iter().filter(|a| a.kind == kind).collect()
}

/// Percentiles come from an hdrhistogram with 3 significant figures: equal within 0.1 %.
pub fn approx(got: f64, want: f64) -> bool {
    (got - want).abs() <= want.abs() * 1e-3 + 1e-12
}
