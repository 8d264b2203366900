//! `toxic`: any Toxiproxy toxic by type, with its attributes as Toxiproxy names them.
//!
//! ```toml
//! fault = "toxic"
//! role = "db"
//! type = "bandwidth"
//! attributes = { rate = 100 }
//! stream = "downstream"
//! toxicity = 1.0
//! ```

use super::{one, share};
use crate::infra::Role;
use crate::nemesis::actions::ToxicFault;
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use crate::nemesis::spec::Stream;
use serde::{Deserialize, Serialize};

pub const KIND: Kind = Kind {
    name: "toxic",
    parse: parse::<AnyToxic>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnyToxic {
    pub role: Role,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub stream: Stream,
    #[serde(default = "one")]
    pub toxicity: f64,
    #[serde(default)]
    pub attributes: toml::Table,
}

impl FaultKind for AnyToxic {
    fn check(&self) -> Result<(), String> {
        share(self.toxicity, "toxicity")
    }
    fn needs_proxy(&self) -> bool {
        true
    }
    fn instance(&self, name: String) -> Box<dyn Fault> {
        let attrs = serde_json::to_value(&self.attributes).unwrap_or_default();
        ToxicFault::boxed(
            name,
            self.role,
            &self.kind,
            self.stream,
            self.toxicity,
            attrs,
        )
    }
}
