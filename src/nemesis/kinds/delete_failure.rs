//! `delete-failure`: cache deletes (and sets) on a role fail: Toxiproxy's `reset_peer` (the
//! delete fails at once, known not to have reached Redis), `timeout` (its outcome unknown), or
//! an error injected in the application (`mode = "error"`, no proxy needed).
//!
//! ```toml
//! fault = "delete-failure"
//! role = "cache-write"     # a cache role
//! mode = "reset_peer"      # reset_peer | timeout | error
//! probability = 1.0        # share of connections (proxy modes) or of deletes (error)
//! ```

use super::{one, share};
use crate::infra::Role;
use crate::nemesis::actions::{InjectedDeleteFailure, ToxicFault};
use crate::nemesis::fault::{parse, Fault, FaultKind, Kind};
use crate::nemesis::spec::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const KIND: Kind = Kind {
    name: "delete-failure",
    parse: parse::<DeleteFailure>,
};

/// How a delete failure is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Toxiproxy `reset_peer` on the role: connections are reset (TCP RST), so the delete
    /// fails at once and is known to have failed or not reached Redis.
    #[default]
    ResetPeer,
    /// Toxiproxy `timeout`: data stops; the delete times out (its outcome unknown).
    Timeout,
    /// No proxy: the application's cache delete fails with `probability` (an injected error).
    Error,
}

fn cache_write() -> Role {
    Role::CacheWrite
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteFailure {
    #[serde(default = "cache_write")]
    pub role: Role,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default = "one")]
    pub probability: f64,
}

impl FaultKind for DeleteFailure {
    fn check(&self) -> Result<(), String> {
        if self.role.is_db() {
            return Err("delete-failure acts on a cache role (cache-write by default)".into());
        }
        share(self.probability, "probability")
    }
    fn needs_proxy(&self) -> bool {
        self.mode != Mode::Error
    }
    fn instance(&self, name: String) -> Box<dyn Fault> {
        // Broken on the request path: the delete never reaches Redis.
        let (role, p) = (self.role, self.probability);
        let attrs = json!({"timeout": 0});
        match self.mode {
            Mode::ResetPeer => {
                ToxicFault::boxed(name, role, "reset_peer", Stream::Upstream, p, attrs)
            }
            Mode::Timeout => ToxicFault::boxed(name, role, "timeout", Stream::Upstream, p, attrs),
            Mode::Error => Box::new(InjectedDeleteFailure { probability: p }),
        }
    }
}
