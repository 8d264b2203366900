//! `kill-workers`: the strategy's background workers die as if the application were killed (its
//! in-memory queues and buffers lost; durable ones survive), and restart when healed.
//!
//! ```toml
//! fault = "kill-workers"
//! ```

use crate::nemesis::actions::WorkersKilled;
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use serde::{Deserialize, Serialize};

pub const KIND: Kind = Kind {
    name: "kill-workers",
    parse: parse::<KillWorkers>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillWorkers {}

impl FaultKind for KillWorkers {
    fn instance(&self, _: String) -> Box<dyn Fault> {
        Box::new(WorkersKilled)
    }
}
