//! Invalidation lag: for every acknowledged write that the consumer invalidated, the time from
//! the writer's acknowledgement to the cache delete, matched by key and value (values are unique
//! per key, and the after image carries the value).
//!
//! The binlog is written at commit, before the writer has read its OK packet, so a delete can
//! come first; such a write counts with lag 0 and in [`LagReport::before_ack`].

use crate::checker::Percentiles;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy)]
enum Slot {
    Acked(u64),
    Deleted,
}

struct Inner {
    slots: HashMap<(i64, i64), Slot>,
    /// Microseconds.
    hist: Histogram<u64>,
    before_ack: u64,
    acked: u64,
}

/// What [`Lag`] measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LagReport {
    pub ms: Percentiles,
    /// Writes invalidated before their writer was acknowledged (counted with lag 0).
    pub before_ack: u64,
    /// Acknowledged writes whose invalidation has not been seen (lost, or still to come).
    pub not_invalidated: u64,
}

/// Matches acknowledgements and deletes; cheap to call from every client.
pub struct Lag {
    inner: Mutex<Inner>,
}

impl Default for Lag {
    fn default() -> Self {
        Lag {
            inner: Mutex::new(Inner {
                slots: HashMap::new(),
                hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds"),
                before_ack: 0,
                acked: 0,
            }),
        }
    }
}

impl Lag {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer of `value` to `key` was acknowledged at `t_ns` (run clock).
    pub fn acked(&self, key: i64, value: i64, t_ns: u64) {
        let mut g = self.lock();
        g.acked += 1;
        match g.slots.remove(&(key, value)) {
            Some(Slot::Deleted) => {
                g.before_ack += 1;
                g.hist.saturating_record(0);
            }
            _ => {
                g.slots.insert((key, value), Slot::Acked(t_ns));
            }
        }
    }

    /// The consumer deleted `key` for the write of `value` at `t_ns`. Returns the lag in ns when
    /// the write was acknowledged before.
    pub fn deleted(&self, key: i64, value: i64, t_ns: u64) -> Option<u64> {
        let mut g = self.lock();
        match g.slots.get(&(key, value)).copied() {
            Some(Slot::Acked(a)) => {
                g.slots.remove(&(key, value));
                let lag = t_ns.saturating_sub(a);
                g.hist.saturating_record(lag / 1000);
                Some(lag)
            }
            // A delete repeated after a reconnect or a restart: the first one counted.
            Some(Slot::Deleted) => None,
            None => {
                g.slots.insert((key, value), Slot::Deleted);
                None
            }
        }
    }

    pub fn report(&self) -> LagReport {
        let g = self.lock();
        let h = &g.hist;
        let ms = |us: u64| us as f64 / 1000.0;
        let not_invalidated = g
            .slots
            .values()
            .filter(|s| matches!(s, Slot::Acked(_)))
            .count() as u64;
        LagReport {
            ms: Percentiles {
                count: h.len(),
                p50: ms(h.value_at_quantile(0.5)),
                p90: ms(h.value_at_quantile(0.9)),
                p99: ms(h.value_at_quantile(0.99)),
                p999: ms(h.value_at_quantile(0.999)),
                max: ms(h.max()),
            },
            before_ack: g.before_ack,
            not_invalidated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_acks_and_deletes_either_way_round() {
        let l = Lag::default();
        l.acked(1, 100, 1_000_000);
        assert_eq!(l.deleted(1, 100, 3_000_000), Some(2_000_000));
        assert_eq!(l.deleted(1, 100, 4_000_000), None); // a replay leaves no second sample
        assert_eq!(l.deleted(2, 200, 5_000_000), None); // delete before the ack
        l.acked(2, 200, 5_100_000);
        l.acked(3, 300, 6_000_000); // never invalidated
        let r = l.report();
        assert_eq!(r.ms.count, 2);
        assert_eq!(r.before_ack, 1);
        assert_eq!(r.not_invalidated, 1);
        assert!((r.ms.max - 2.0).abs() < 0.01, "{r:?}");
    }
}
