//! `pause`: a server is paused (SIGSTOP / docker pause) and resumed when healed.
//!
//! ```toml
//! fault = "pause"
//! service = "redis"        # db | redis | app (the service strategy `service` started)
//! ```

use crate::nemesis::actions::ServerPaused;
use crate::nemesis::app::{AppPaused, Target};
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
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
        if self.service == Target::Proxy {
            return Err("`service` must be db, redis or app".into());
        }
        Ok(())
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        match self.service.server() {
            Some(service) => Box::new(ServerPaused { service }),
            None => Box::new(AppPaused),
        }
    }
}
