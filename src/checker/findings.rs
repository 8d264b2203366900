//! What one checker hands back: the count of its property, whether it had anything to judge, a
//! bounded set of examples with their evidence, and the distributions it measured.

use super::{Anomaly, CheckOptions, Divergence, Staleness, Window};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Examples kept per anomaly kind when [`CheckOptions::max_examples_per_kind`] is 0.
pub const DEFAULT_MAX_EXAMPLES: usize = 20;

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

/// The result of one checker: the count of its property and its earliest examples.
pub struct Findings {
    count: u64,
    judged: bool,
    cap: usize,
    seq: u64,
    /// A max-heap, so the latest kept example is the one to evict.
    kept: BinaryHeap<Kept>,
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
            count: 0,
            judged: false,
            cap,
            seq: 0,
            kept: BinaryHeap::new(),
            staleness: None,
            window: None,
            divergent: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Records that the property had something to judge (so a zero count means valid, not
    /// unknown).
    pub fn judged(&mut self) {
        self.judged = true;
    }

    /// Counts one anomaly. `make` builds its evidence; it is called only when the example is
    /// kept (the earliest `cap` examples by `start_ns` are kept), so flagging is cheap. `make`
    /// leaves `kind` empty: the composition fills in the checker's name.
    pub fn flag(&mut self, start_ns: u64, make: impl FnOnce() -> Anomaly) {
        self.count += 1;
        self.judged = true;
        if self.kept.len() >= self.cap {
            match self.kept.peek() {
                Some(latest) if latest.start_ns > start_ns => {
                    self.kept.pop();
                }
                _ => return,
            }
        }
        let anomaly = make();
        self.seq += 1;
        self.kept.push(Kept {
            start_ns,
            seq: self.seq,
            anomaly,
        });
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn was_judged(&self) -> bool {
        self.judged
    }

    /// The kept examples, earliest first, each with `kind` set.
    pub fn take_examples(&mut self, kind: &str) -> Vec<Anomaly> {
        let heap = std::mem::take(&mut self.kept);
        heap.into_sorted_vec()
            .into_iter()
            .map(|k| Anomaly {
                kind: kind.to_string(),
                ..k.anomaly
            })
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
    fn keeps_the_earliest_examples_and_counts_all() {
        let opts = CheckOptions {
            max_examples_per_kind: 2,
            ..Default::default()
        };
        let mut f = Findings::new(&opts);
        for t in [50u64, 10, 40, 30, 20] {
            f.flag(t, || Anomaly {
                start_ns: t,
                ..Default::default()
            });
        }
        assert_eq!(f.count(), 5);
        let ex = f.take_examples("dirty_reads");
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
            f.flag(t, Anomaly::default);
        }
        assert_eq!(f.take_examples("lost_writes").len(), DEFAULT_MAX_EXAMPLES);
    }
}
