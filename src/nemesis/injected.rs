//! Faults injected in the application rather than the network: a cache delete that fails with
//! a probability (`delete-failure` with `mode = "error"`). One setting for the whole process
//! (one strategy runs at a time); the sequence of failures is seeded.

use std::sync::atomic::{AtomicU64, Ordering};

/// Probability in parts per million that `cache::del` fails (0: off).
static DELETE_FAIL_PPM: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(0);
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Sets the delete failure probability (0..=1).
pub fn set_delete_failure(probability: f64, seed: u64) {
    SEED.store(seed, Ordering::Relaxed);
    DELETE_FAIL_PPM.store(
        (probability.clamp(0.0, 1.0) * 1e6) as u64,
        Ordering::Relaxed,
    );
}

/// Turns the injected delete failure off.
pub fn clear_delete_failure() {
    DELETE_FAIL_PPM.store(0, Ordering::Relaxed);
}

/// Whether this delete should fail.
pub fn delete_should_fail() -> bool {
    let ppm = DELETE_FAIL_PPM.load(Ordering::Relaxed);
    if ppm == 0 {
        return false;
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    splitmix64(SEED.load(Ordering::Relaxed) ^ n) % 1_000_000 < ppm
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
