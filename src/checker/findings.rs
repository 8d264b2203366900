//! What one checker hands back: counts per property, whether it had anything to judge, a bounded
//! set of examples with their evidence, and the distributions it measured.

use super::{Anomaly, AnomalyCounts, CheckOptions, Divergence, Staleness, Window};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Examples kept per anomaly kind when [`CheckOptions::max_examples_per_kind`] is 0.
pub const DEFAULT_MAX_EXAMPLES: usize = 20;

/// A property the checker judges. Its [`name`](Property::name) is the field of
/// [`AnomalyCounts`], the key of `CheckReport::verdicts` and the `kind` of an [`Anomaly`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Property {
    StaleReads,
    DivergentKeys,
    DirtyReads,
    LostWrites,
    MonotonicReadViolations,
    ReadYourWritesViolations,
    ImpossibleReads,
}

impl Property {
    /// Every property, in report order.
    pub const ALL: [Property; 7] = [
        Property::StaleReads,
        Property::DivergentKeys,
        Property::DirtyReads,
        Property::LostWrites,
        Property::MonotonicReadViolations,
        Property::ReadYourWritesViolations,
        Property::ImpossibleReads,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Property::StaleReads => "stale_reads",
            Property::DivergentKeys => "divergent_keys",
            Property::DirtyReads => "dirty_reads",
            Property::LostWrites => "lost_writes",
            Property::MonotonicReadViolations => "monotonic_read_violations",
            Property::ReadYourWritesViolations => "read_your_writes_violations",
            Property::ImpossibleReads => "impossible_reads",
        }
    }

    /// The property with this name, if any.
    pub fn from_name(name: &str) -> Option<Property> {
        Property::ALL.into_iter().find(|p| p.name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl AnomalyCounts {
    /// The count of one property.
    pub fn get(&self, p: Property) -> u64 {
        match p {
            Property::StaleReads => self.stale_reads,
            Property::DivergentKeys => self.divergent_keys,
            Property::DirtyReads => self.dirty_reads,
            Property::LostWrites => self.lost_writes,
            Property::MonotonicReadViolations => self.monotonic_read_violations,
            Property::ReadYourWritesViolations => self.read_your_writes_violations,
            Property::ImpossibleReads => self.impossible_reads,
        }
    }

    pub(crate) fn set(&mut self, p: Property, v: u64) {
        let slot = match p {
            Property::StaleReads => &mut self.stale_reads,
            Property::DivergentKeys => &mut self.divergent_keys,
            Property::DirtyReads => &mut self.dirty_reads,
            Property::LostWrites => &mut self.lost_writes,
            Property::MonotonicReadViolations => &mut self.monotonic_read_violations,
            Property::ReadYourWritesViolations => &mut self.read_your_writes_violations,
            Property::ImpossibleReads => &mut self.impossible_reads,
        };
        *slot = v;
    }
}

/// An example waiting in the bounded set; the set keeps the earliest ones (by `start_ns`).
struct Kept {
    start_ns: u64,
    seq: u64,
    anomaly: Anomaly,
}

impl PartialEq for Kept {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Kept {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.start_ns, self.seq).cmp(&(o.start_ns, o.seq))
    }
}

/// The result of one checker.
pub struct Findings {
    counts: [u64; 7],
    judged: [bool; 7],
    cap: usize,
    seq: u64,
    /// Max-heaps, so the latest kept example is the one to evict.
    kept: [BinaryHeap<Kept>; 7],
    pub staleness: Option<Staleness>,
    pub window: Option<Window>,
    pub divergent: Vec<Divergence>,
    pub warnings: Vec<String>,
}

impl Findings {
    pub fn new(opts: &CheckOptions) -> Self {
        let cap = match opts.max_examples_per_kind {
            0 => DEFAULT_MAX_EXAMPLES,
            n => n,
        };
        Findings {
            counts: [0; 7],
            judged: [false; 7],
            cap,
            seq: 0,
            kept: Default::default(),
            staleness: None,
            window: None,
            divergent: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records that `p` had something to judge (so a zero count means valid, not unknown).
    pub fn judged(&mut self, p: Property) {
        self.judged[p.index()] = true;
    }

    /// Counts one anomaly of `p`. `make` builds its evidence; it is called only when the example
    /// is kept (the earliest `cap` examples by `start_ns` are kept), so flagging is cheap.
    /// `make` leaves `kind` empty; it is filled in here.
    pub fn flag(&mut self, p: Property, start_ns: u64, make: impl FnOnce() -> Anomaly) {
        let i = p.index();
        self.counts[i] += 1;
        self.judged[i] = true;
        let heap = &mut self.kept[i];
        if heap.len() >= self.cap {
            match heap.peek() {
                Some(latest) if latest.start_ns > start_ns => {
                    heap.pop();
                }
                _ => return,
            }
        }
        let mut anomaly = make();
        anomaly.kind = p.name().to_string();
        self.seq += 1;
        heap.push(Kept {
            start_ns,
            seq: self.seq,
            anomaly,
        });
    }

    pub fn count(&self, p: Property) -> u64 {
        self.counts[p.index()]
    }

    pub fn was_judged(&self, p: Property) -> bool {
        self.judged[p.index()]
    }

    /// The kept examples of `p`, earliest first.
    pub fn take_examples(&mut self, p: Property) -> Vec<Anomaly> {
        let heap = std::mem::take(&mut self.kept[p.index()]);
        heap.into_sorted_vec()
            .into_iter()
            .map(|k| k.anomaly)
            .collect()
    }
}

/// `1.204 s`: a point in run time, for explanations; with microseconds (`1.204312 s`) when it
/// is not a whole millisecond, so that two events of a race never print the same.
pub fn secs(ns: u64) -> String {
    if ns % 1_000_000 == 0 {
        format!("{:.3} s", ns as f64 / 1e9)
    } else {
        format!("{:.6} s", ns as f64 / 1e9)
    }
}

/// `24.000 ms`: a duration, for explanations (microsecond resolution).
pub fn millis(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_count_fields() {
        let json = serde_json::to_value(AnomalyCounts::default()).unwrap();
        for p in Property::ALL {
            assert_eq!(Property::from_name(p.name()), Some(p));
            assert!(json.get(p.name()).is_some(), "{}", p.name());
        }
    }

    #[test]
    fn keeps_the_earliest_examples_and_counts_all() {
        let opts = CheckOptions {
            max_examples_per_kind: 2,
            ..Default::default()
        };
        let mut f = Findings::new(&opts);
        for t in [50u64, 10, 40, 30, 20] {
            f.flag(Property::DirtyReads, t, || Anomaly {
                start_ns: t,
                ..Default::default()
            });
        }
        assert_eq!(f.count(Property::DirtyReads), 5);
        let ex = f.take_examples(Property::DirtyReads);
        let starts: Vec<u64> = ex.iter().map(|a| a.start_ns).collect();
        assert_eq!(starts, vec![10, 20]);
        assert_eq!(ex[0].kind, "dirty_reads");
    }

    #[test]
    fn times_print_in_seconds_with_the_precision_they_need() {
        assert_eq!(secs(1_204_000_000), "1.204 s");
        assert_eq!(secs(6_002_500_000), "6.002500 s");
        assert_eq!(millis(24_000_100), "24.000 ms");
    }

    #[test]
    fn zero_means_the_default_number_of_examples() {
        let mut f = Findings::new(&CheckOptions::default());
        for t in 0..100 {
            f.flag(Property::LostWrites, t, Anomaly::default);
        }
        assert_eq!(
            f.take_examples(Property::LostWrites).len(),
            DEFAULT_MAX_EXAMPLES
        );
    }
}
