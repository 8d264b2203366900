//! `pause`: a server is paused (SIGSTOP / docker pause) and resumed when healed.
//!
//! ```toml
//! fault = "pause"
//! service = "redis"        # db | redis | app (the service strategy `service` started)
//!                          # | replica (every replica) | replica-N (see nemesis::replica)
//! ```

use crate::nemesis::app::Target;
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use crate::nemesis::replica::Action;
use serde::{Deserialize, Serialize};

pub const KIND: Kind = Kind {
    name: "pause",
    parse: parse::<Pause>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub service: Target,
}

impl FaultKind for Pause {
    fn check(&self) -> Result<(), String> {
        self.service.check()
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        self.service.fault(Action::Pause)
    }
}
