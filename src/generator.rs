//! The operation generator: which operation, on which key, with which value. Seeded per
//! client from the workload's seed, so the op mix and key choices repeat run to run.

use crate::config::RunConfig;
use crate::workload::Distribution;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Zipf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// One client operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read(i64),
    Write(i64, i64),
}

/// Key choice.
#[derive(Debug, Clone)]
pub enum KeyDist {
    Uniform(u64),
    Zipf(Zipf<f64>),
    /// The first `hot` keys get `fraction` of the operations.
    Hotspot {
        keys: u64,
        hot: u64,
        fraction: f64,
    },
}

impl KeyDist {
    pub fn from_config(w: &RunConfig) -> KeyDist {
        match w.distribution {
            Distribution::Uniform => KeyDist::Uniform(w.keys),
            Distribution::Zipf => KeyDist::Zipf(
                Zipf::new(w.keys, w.zipf_exponent).expect("validated zipf parameters"),
            ),
            Distribution::Hotspot => KeyDist::Hotspot {
                keys: w.keys,
                hot: w.hot_keys,
                fraction: w.hot_fraction,
            },
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> i64 {
        match self {
            KeyDist::Uniform(n) => rng.gen_range(0..*n) as i64,
            // Zipf samples 1..=n; rank 1 (key 0) is the hottest.
            KeyDist::Zipf(z) => (z.sample(rng) as i64 - 1).max(0),
            KeyDist::Hotspot {
                keys,
                hot,
                fraction,
            } => {
                if *hot >= *keys || rng.gen_bool(*fraction) {
                    rng.gen_range(0..*hot) as i64
                } else {
                    rng.gen_range(*hot..*keys) as i64
                }
            }
        }
    }
}

/// Unique write values, shared by all clients of a run.
#[derive(Debug, Clone)]
pub struct Values(Arc<AtomicI64>);

impl Values {
    pub fn starting_at(first: i64) -> Values {
        Values(Arc::new(AtomicI64::new(first)))
    }

    pub fn next(&self) -> i64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// A client's generator.
pub struct Generator {
    rng: ChaCha8Rng,
    keys: KeyDist,
    read_fraction: f64,
    values: Values,
}

impl Generator {
    pub fn new(seed: u64, process: i64, keys: KeyDist, read_fraction: f64, values: Values) -> Self {
        let s = seed
            ^ (process as u64)
                .wrapping_add(1)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Generator {
            rng: ChaCha8Rng::seed_from_u64(s),
            keys,
            read_fraction,
            values,
        }
    }

    pub fn next_op(&mut self) -> Op {
        let k = self.keys.sample(&mut self.rng);
        if self.rng.gen_bool(self.read_fraction) {
            Op::Read(k)
        } else {
            Op::Write(k, self.values.next())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_ops_and_keys_in_range() {
        let mk = || {
            Generator::new(
                7,
                3,
                KeyDist::Hotspot {
                    keys: 10,
                    hot: 2,
                    fraction: 0.9,
                },
                0.5,
                Values::starting_at(100),
            )
        };
        let (mut a, mut b) = (mk(), mk());
        let mut hot = 0;
        for _ in 0..1000 {
            let (x, y) = (a.next_op(), b.next_op());
            assert_eq!(x, y);
            let k = match x {
                Op::Read(k) | Op::Write(k, _) => k,
            };
            assert!((0..10).contains(&k));
            hot += (k < 2) as u32;
        }
        assert!(hot > 800, "hot share {hot}");
    }

    #[test]
    fn zipf_keys_in_range() {
        let mut g = Generator::new(
            1,
            0,
            KeyDist::Zipf(Zipf::new(5, 1.2).unwrap()),
            1.0,
            Values::starting_at(0),
        );
        for _ in 0..1000 {
            match g.next_op() {
                Op::Read(k) => assert!((0..5).contains(&k)),
                Op::Write(..) => panic!("read_fraction 1 writes nothing"),
            }
        }
    }
}
