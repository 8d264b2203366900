//! Seeded random choices of a strategy (fault knobs, expiry jitter), drawn from the workload's
//! seed so that a run can be repeated.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;

pub struct Chance {
    rng: Mutex<ChaCha8Rng>,
}

impl Chance {
    /// A generator for `seed`, distinct per `salt` (the strategy's name).
    pub fn new(seed: u64, salt: &str) -> Self {
        let salt = salt.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        Chance {
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ salt)),
        }
    }

    /// True with probability `p` (0 never draws).
    pub fn hit(&self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// A uniform number in [0, 1).
    pub fn unit(&self) -> f64 {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gen::<f64>()
    }
}

/// Checks that a probability setting lies in 0..=1.
pub fn check_probability(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("`{name}` must be between 0 and 1 (got {p})"))
    }
}
