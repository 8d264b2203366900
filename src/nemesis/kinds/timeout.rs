//! `timeout`: Toxiproxy's timeout toxic: data on the role stops; connections close after
//! `timeout_ms` (0: never).
//!
//! ```toml
//! fault = "timeout"
//! role = "cache-write"
//! timeout_ms = 0
//! stream = "downstream"
//! toxicity = 1.0
//! ```

use super::{one, share};
use crate::infra::Role;
use crate::nemesis::actions::ToxicFault;
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use crate::nemesis::spec::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const KIND: Kind = Kind {
    name: "timeout",
    parse: parse::<Timeout>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeout {
    pub role: Role,
    #[serde(default)]
    pub timeout_ms: u32,
    #[serde(default)]
    pub stream: Stream,
    #[serde(default = "one")]
    pub toxicity: f64,
}

impl FaultKind for Timeout {
    fn check(&self) -> Result<(), String> {
        share(self.toxicity, "toxicity")
    }
    fn needs_proxy(&self) -> bool {
        true
    }
    fn instance(&self, name: String) -> Box<dyn Fault> {
        let attrs = json!({"timeout": self.timeout_ms});
        ToxicFault::boxed(
            name,
            self.role,
            "timeout",
            self.stream,
            self.toxicity,
            attrs,
        )
    }
}
