//! `latency`: Toxiproxy's latency toxic on a role's proxy, removed when healed.
//!
//! ```toml
//! fault = "latency"
//! role = "cache-fill"      # db | cache-read | cache-fill | cache-write | binlog
//! latency_ms = 200         # added to every chunk of data
//! jitter_ms = 0            # ± random variation
//! stream = "downstream"    # upstream (client -> server) | downstream (server -> client)
//! toxicity = 1.0           # share of connections it applies to
//! ```

use super::{one, share};
use crate::infra::Role;
use crate::nemesis::actions::ToxicFault;
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use crate::nemesis::spec::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const KIND: Kind = Kind {
    name: "latency",
    parse: parse::<Latency>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub role: Role,
    pub latency_ms: u32,
    #[serde(default)]
    pub jitter_ms: u32,
    #[serde(default)]
    pub stream: Stream,
    #[serde(default = "one")]
    pub toxicity: f64,
}

impl FaultKind for Latency {
    fn check(&self) -> Result<(), String> {
        share(self.toxicity, "toxicity")
    }
    fn needs_proxy(&self) -> bool {
        true
    }
    fn instance(&self, name: String) -> Box<dyn Fault> {
        let attrs = json!({"latency": self.latency_ms, "jitter": self.jitter_ms});
        ToxicFault::boxed(
            name,
            self.role,
            "latency",
            self.stream,
            self.toxicity,
            attrs,
        )
    }
}
