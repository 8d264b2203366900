//! Faults injected in the application rather than the network: a cache invalidation that fails
//! with a probability (`delete-failure` with `mode = "error"`).
//!
//! One [`Injected`] handle per strategy run: the nemesis sets and clears it, every cache
//! connection made for that run carries it (see [`crate::conn::RoleAddrs::cache_conn`]), and
//! the cache primitives consult it before an invalidation ([`crate::cache::del`]). Nothing is
//! process-global: two runs in one process do not share it. The sequence of failures is seeded.

use std::sync::atomic::{AtomicU64, Ordering};

/// The injected faults of one strategy run.
#[derive(Debug, Default)]
pub struct Injected {
    /// Probability in parts per million that an invalidation fails (0: off).
    delete_fail_ppm: AtomicU64,
    seed: AtomicU64,
    counter: AtomicU64,
}

impl Injected {
    /// Makes invalidations fail with `probability` (0..=1), in a sequence seeded by `seed`.
    pub fn set_delete_failure(&self, probability: f64, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
        self.delete_fail_ppm.store(
            (probability.clamp(0.0, 1.0) * 1e6) as u64,
            Ordering::Relaxed,
        );
    }

    /// Turns the injected delete failure off.
    pub fn clear_delete_failure(&self) {
        self.delete_fail_ppm.store(0, Ordering::Relaxed);
    }

    /// Whether this invalidation should fail.
    pub fn delete_should_fail(&self) -> bool {
        let ppm = self.delete_fail_ppm.load(Ordering::Relaxed);
        if ppm == 0 {
            return false;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        splitmix64(self.seed.load(Ordering::Relaxed) ^ n) % 1_000_000 < ppm
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_at_the_set_rate_until_cleared_and_handles_are_independent() {
        let a = Injected::default();
        let b = Injected::default();
        assert!(!a.delete_should_fail());
        a.set_delete_failure(0.5, 7);
        let failed = (0..10_000).filter(|_| a.delete_should_fail()).count();
        assert!((4_500..5_500).contains(&failed), "{failed}");
        assert!(!b.delete_should_fail(), "another run's handle is untouched");
        a.clear_delete_failure();
        assert!((0..100).all(|_| !a.delete_should_fail()));
        a.set_delete_failure(1.0, 7);
        assert!(a.delete_should_fail());
    }
}
