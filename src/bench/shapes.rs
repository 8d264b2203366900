//! The history shapes `bench checker` measures: named variations of the generator's defaults
//! ([`SimConfig::new`]), one per concern of the checker's speed (few hot keys or many cold
//! ones, few or many clients, clean or anomaly-heavy, info-heavy, long-running keys).

use super::sim::SimConfig;

/// A named history shape of `bench checker`: how it differs from [`SimConfig::new`].
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub name: &'static str,
    pub about: &'static str,
    /// Keys for `ops` operations (shapes whose keys grow with the history compute them).
    pub keys: fn(u64) -> u64,
    pub processes: u32,
    pub anomaly_every: u64,
    pub read_fraction: f64,
    pub hot_share: f64,
    pub write_info: f64,
    pub divergent: bool,
}

impl Shape {
    /// The generator's configuration for `ops` operations (`keys` overrides the shape's).
    pub fn config(&self, ops: u64, keys: Option<u64>, seed: u64) -> SimConfig {
        SimConfig {
            ops,
            keys: keys.unwrap_or((self.keys)(ops)).max(1),
            processes: self.processes,
            seed,
            anomaly_every: self.anomaly_every,
            read_fraction: self.read_fraction,
            hot_share: self.hot_share,
            write_info: self.write_info,
            divergent: self.divergent,
        }
    }
}

const BASE: Shape = Shape {
    name: "",
    about: "",
    keys: |ops| ops.min(100_000),
    processes: 64,
    anomaly_every: 16,
    read_fraction: 0.9,
    hot_share: 0.0,
    write_info: 0.04,
    divergent: true,
};

/// Every shape `bench checker` measures, in its order.
pub const SHAPES: &[Shape] = &[
    Shape {
        name: "default",
        about: "the first bench's history: 32 clients, half the ops on a hot 1 % of 100k keys",
        processes: 32,
        hot_share: 0.5,
        ..BASE
    },
    Shape {
        name: "hot-16-keys",
        about: "16 keys, all hot; 64 clients",
        keys: |_| 16,
        ..BASE
    },
    Shape {
        name: "uniform-10k",
        about: "10^4 keys used uniformly; 64 clients",
        keys: |_| 10_000,
        ..BASE
    },
    Shape {
        name: "uniform-100k",
        about: "10^5 keys used uniformly; 64 clients",
        keys: |_| 100_000,
        ..BASE
    },
    Shape {
        name: "uniform-1m",
        about: "10^6 keys used uniformly; 64 clients",
        keys: |_| 1_000_000,
        ..BASE
    },
    Shape {
        name: "clients-8",
        about: "8 clients; 10^5 uniform keys",
        keys: |_| 100_000,
        processes: 8,
        ..BASE
    },
    Shape {
        name: "clients-1000",
        about: "1,000 clients; 10^5 uniform keys",
        keys: |_| 100_000,
        processes: 1000,
        ..BASE
    },
    Shape {
        name: "clean",
        about: "no anomaly at all; 10^5 uniform keys, 64 clients",
        keys: |_| 100_000,
        anomaly_every: 0,
        divergent: false,
        ..BASE
    },
    Shape {
        name: "anomaly-heavy",
        about: "an anomaly episode after every round (about 1 op in 22); 10^5 keys, 64 clients",
        keys: |_| 100_000,
        anomaly_every: 1,
        ..BASE
    },
    Shape {
        name: "info-heavy",
        about: "10 % of writes end info; 50 % writes; 10^5 keys, 64 clients",
        keys: |_| 100_000,
        read_fraction: 0.5,
        write_info: 0.10,
        ..BASE
    },
    Shape {
        name: "long-keys",
        about: "keys with 10^5 versions each (50 % writes, keys = writes / 10^5); 64 clients",
        keys: |ops| (ops / 2 / 100_000).max(1),
        read_fraction: 0.5,
        ..BASE
    },
];

/// The shape of this name.
pub fn shape(name: &str) -> Option<&'static Shape> {
    SHAPES.iter().find(|s| s.name == name)
}
