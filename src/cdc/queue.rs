//! The consumer's retry queue: failed cache deletes wait here, with exponential backoff, until
//! they succeed or run out of attempts (seed 4.3: "if the deletion fails, the message is sent to
//! a queue; the deletion system fetches it again and deletes again").
//!
//! The queue lives in the consumer task's memory and dies with it (a kill loses it). So that a
//! restart from the saved position loses nothing, every entry holds the position of the start of
//! its transaction, and the saved position never passes the smallest one ([`RetryQueue::min_hold`]).

use super::position::Position;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

/// How failed deletes are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry; doubles with every further attempt.
    pub backoff: Duration,
    /// Upper bound of the delay.
    pub backoff_max: Duration,
    /// Attempts in all (the first included) before giving up; 0: never give up.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: Duration::from_millis(10),
            backoff_max: Duration::from_millis(1000),
            max_attempts: 0,
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(20);
        self.backoff
            .saturating_mul(1u32 << shift)
            .min(self.backoff_max)
    }

    /// Whether another attempt follows failed attempt number `attempt`.
    pub fn retries_after(&self, attempt: u32) -> bool {
        self.max_attempts == 0 || attempt < self.max_attempts
    }
}

/// A delete waiting to be retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub key: i64,
    /// The after-image value whose write this delete invalidates (for lag and the history).
    pub value: Option<i64>,
    /// The attempt this retry will be (2 for the first retry).
    pub attempt: u32,
    /// Start of the delete's transaction: the saved position must not pass it.
    pub hold: Position,
    pub due: Instant,
}

#[derive(Debug)]
struct Entry {
    seq: u64,
    p: Pending,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.p.due, self.seq).cmp(&(o.p.due, o.seq))
    }
}

/// Pending deletes ordered by due time, with the positions they hold back.
#[derive(Debug, Default)]
pub struct RetryQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    holds: BTreeMap<Position, usize>,
    seq: u64,
}

impl RetryQueue {
    pub fn push(&mut self, p: Pending) {
        *self.holds.entry(p.hold.clone()).or_default() += 1;
        self.seq += 1;
        self.heap.push(Reverse(Entry { seq: self.seq, p }));
    }

    /// When the next entry is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.0.p.due)
    }

    /// Takes the earliest entry if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Pending> {
        if self.next_due()? > now {
            return None;
        }
        let p = self.heap.pop()?.0.p;
        if let Some(n) = self.holds.get_mut(&p.hold) {
            *n -= 1;
            if *n == 0 {
                self.holds.remove(&p.hold);
            }
        }
        Some(p)
    }

    /// The smallest position held back by a pending delete.
    pub fn min_hold(&self) -> Option<&Position> {
        self.holds.keys().next()
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let r = RetryPolicy {
            backoff: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            max_attempts: 3,
        };
        let d: Vec<u128> = (1..=5).map(|a| r.delay(a).as_millis()).collect();
        assert_eq!(d, vec![10, 20, 40, 50, 50]);
        assert!(r.retries_after(2) && !r.retries_after(3));
        assert!(RetryPolicy::default().retries_after(1_000_000));
    }

    #[test]
    fn pops_in_due_order_and_releases_holds() {
        let t0 = Instant::now();
        let mut q = RetryQueue::default();
        let pend = |key, ms, hold: u64| Pending {
            key,
            value: Some(key * 10),
            attempt: 2,
            hold: Position::new("b.1", hold),
            due: t0 + Duration::from_millis(ms),
        };
        q.push(pend(1, 30, 200));
        q.push(pend(2, 10, 300));
        q.push(pend(3, 20, 200));
        assert_eq!(q.min_hold(), Some(&Position::new("b.1", 200)));
        assert_eq!(q.pop_due(t0), None);
        let later = t0 + Duration::from_millis(25);
        assert_eq!(q.pop_due(later).unwrap().key, 2);
        assert_eq!(q.pop_due(later).unwrap().key, 3);
        assert_eq!(q.pop_due(later), None);
        assert_eq!(q.min_hold(), Some(&Position::new("b.1", 200)));
        assert_eq!(q.pop_due(t0 + Duration::from_secs(1)).unwrap().key, 1);
        assert!(q.is_empty() && q.min_hold().is_none());
    }
}
