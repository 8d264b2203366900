//! `pause`: a server is paused (SIGSTOP / docker pause) and resumed when healed.
//!
//! ```toml
//! fault = "pause"
//! service = "redis"        # db | redis
//! ```

use crate::infra::Service;
use crate::nemesis::actions::ServerPaused;
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use serde::{Deserialize, Serialize};

pub const KIND: Kind = Kind {
    name: "pause",
    parse: parse::<Pause>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    pub service: Service,
}

impl FaultKind for Pause {
    fn check(&self) -> Result<(), String> {
        if self.service == Service::Proxy {
            return Err("`service` must be db or redis".into());
        }
        Ok(())
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        Box::new(ServerPaused {
            service: self.service,
        })
    }
}
