//! `kill`: a server is killed (SIGKILL / docker kill) and restarted when healed. Redis loses the
//! cache; the database recovers from its logs.
//!
//! ```toml
//! fault = "kill"
//! service = "redis"        # db | redis | app (the service strategy `service` started)
//!                          # | replica (every replica) | replica-N (see nemesis::replica)
//! ```

use crate::nemesis::app::Target;
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use crate::nemesis::replica::Action;
use serde::{Deserialize, Serialize};

pub const KIND: Kind = Kind {
    name: "kill",
    parse: parse::<Kill>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kill {
    pub service: Target,
}

impl FaultKind for Kill {
    fn check(&self) -> Result<(), String> {
        self.service.check()
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        self.service.fault(Action::Kill)
    }
}
