//! `kill`: a server is killed (SIGKILL / docker kill) and restarted when healed. Redis loses the
//! cache; the database recovers from its logs.
//!
//! ```toml
//! fault = "kill"
//! service = "redis"        # db | redis | app (the service strategy `service` started)
//! ```

use crate::nemesis::actions::ServerKilled;
use crate::nemesis::app::{AppKilled, Target};
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
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
        if self.service == Target::Proxy {
            return Err("`service` must be db, redis or app".into());
        }
        Ok(())
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        match self.service.server() {
            Some(service) => Box::new(ServerKilled { service }),
            None => Box::new(AppKilled),
        }
    }
}
