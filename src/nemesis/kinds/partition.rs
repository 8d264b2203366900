//! `partition`: a role cut off (its proxy disabled: connections refused and closed), or, on
//! Docker, a service cut off (its container leaves the compose network). Healed by enabling or
//! reconnecting it.
//!
//! ```toml
//! fault = "partition"
//! role = "db"              # either a role ...
//! # service = "redis"      # ... or a service (db | redis), Docker only
//! ```

use crate::infra::{Role, Service};
use crate::nemesis::actions::{RoleDisabled, ServiceDisconnected};
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use serde::{Deserialize, Serialize};

pub const KIND: Kind = Kind {
    name: "partition",
    parse: parse::<Partition>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub service: Option<Service>,
}

impl FaultKind for Partition {
    fn check(&self) -> Result<(), String> {
        match (self.role, self.service) {
            (Some(_), None) => Ok(()),
            (None, Some(Service::Proxy)) => Err("`service` must be db or redis".into()),
            (None, Some(_)) => Ok(()),
            _ => Err("give either `role` (a proxy partition) or `service` (a container partition, Docker only)".into()),
        }
    }
    fn needs_proxy(&self) -> bool {
        self.role.is_some()
    }
    fn instance(&self, _: String) -> Box<dyn Fault> {
        match self.role {
            Some(role) => Box::new(RoleDisabled { role }),
            None => Box::new(ServiceDisconnected {
                service: self.service.unwrap_or(Service::Redis),
            }),
        }
    }
}
