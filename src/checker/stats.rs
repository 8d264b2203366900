//! Distributions (hdrhistogram, 3 significant figures) and the run's operation statistics:
//! counts, latency, duration, throughput.

use super::{Completions, LatencyReport, OpCounts, Percentiles};
use hdrhistogram::Histogram;

/// Values above this are clamped before recording (about 36 years in nanoseconds): the
/// histogram auto-resizes only up to `i64::MAX / 2`.
const MAX_RECORDABLE: u64 = 1 << 60;

/// A distribution of non-negative integers. Count, min and max are exact; the percentiles come
/// from the histogram (within 0.1 %) and are clamped into `[min, max]`.
#[derive(Default)]
pub struct Dist {
    hist: Option<Histogram<u64>>,
    count: u64,
    min: u64,
    max: u64,
}

impl Dist {
    pub fn new() -> Self {
        Dist::default()
    }

    pub fn record(&mut self, v: u64) {
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        if self.hist.is_none() {
            self.hist = Histogram::new(3).ok();
        }
        if let Some(h) = self.hist.as_mut() {
            let v = v.min(MAX_RECORDABLE);
            if h.record(v).is_err() {
                h.saturating_record(v);
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The summary, each value divided by `scale` (1e6 turns nanoseconds into milliseconds).
    pub fn percentiles(&self, scale: f64) -> Percentiles {
        let Some(h) = self.hist.as_ref().filter(|_| self.count > 0) else {
            return Percentiles::default();
        };
        let q = |q: f64| h.value_at_quantile(q).clamp(self.min, self.max) as f64 / scale;
        Percentiles {
            count: self.count,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: self.max as f64 / scale,
        }
    }
}

/// Operation counts and latencies, gathered while the history streams by.
#[derive(Default)]
pub struct OpStats {
    pub counts: OpCounts,
    pub read_latency: Dist,
    pub write_latency: Dist,
    /// Time of the first and last client event.
    pub first_ns: Option<u64>,
    pub last_ns: u64,
    /// Client operations that completed (ok, fail or info completion event).
    pub completed: u64,
}

impl OpStats {
    pub fn saw_client_event(&mut self, t: u64) {
        self.first_ns = Some(self.first_ns.map_or(t, |f| f.min(t)));
        self.last_ns = self.last_ns.max(t);
    }

    pub fn counts_mut(&mut self, write: bool) -> &mut Completions {
        if write {
            &mut self.counts.write
        } else {
            &mut self.counts.read
        }
    }

    pub fn duration_ns(&self) -> u64 {
        self.first_ns.map_or(0, |f| self.last_ns.saturating_sub(f))
    }

    pub fn latency(&self) -> LatencyReport {
        LatencyReport {
            read: self.read_latency.percentiles(1e6),
            write: self.write_latency.percentiles(1e6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_value_is_exact() {
        let mut d = Dist::new();
        d.record(24_000_123);
        let p = d.percentiles(1e6);
        assert_eq!(p.count, 1);
        assert_eq!(p.p50, 24.000123);
        assert_eq!(p.p999, 24.000123);
        assert_eq!(p.max, 24.000123);
    }

    #[test]
    fn percentiles_are_close_and_max_exact() {
        let mut d = Dist::new();
        for v in 1..=1000u64 {
            d.record(v * 1_000_000);
        }
        let p = d.percentiles(1e6);
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 1.0, "{p:?}");
        assert_eq!(p.max, 1000.0);
    }

    #[test]
    fn huge_values_do_not_panic() {
        let mut d = Dist::new();
        d.record(u64::MAX);
        d.record(0);
        let p = d.percentiles(1.0);
        assert_eq!(p.count, 2);
        assert_eq!(p.max, u64::MAX as f64);
    }

    #[test]
    fn empty_is_all_zero() {
        assert_eq!(Dist::new().percentiles(1e6), Percentiles::default());
    }
}
