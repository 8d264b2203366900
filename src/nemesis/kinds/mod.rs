//! Every fault kind, one file each, registered by name in [`KINDS`]: the fields of its
//! `[[nemesis]]` entry and the fault of one interval.
//!
//! Adding a fault kind: a new file with a `pub const KIND: Kind` (a struct of its fields that
//! implements [`FaultKind`](super::fault::FaultKind)) and one line in [`KINDS`]. The actions
//! kinds share are in [`actions`](super::actions).

pub mod delete_failure;
pub mod failover;
pub mod kill;
pub mod kill_workers;
pub mod latency;
pub mod partition;
pub mod pause;
pub mod replica_lag;
pub mod timeout;
pub mod toxic;

use super::fault::Kind;

/// Every fault kind.
pub static KINDS: &[Kind] = &[
    latency::KIND,
    delete_failure::KIND,
    timeout::KIND,
    toxic::KIND,
    partition::KIND,
    kill::KIND,
    pause::KIND,
    kill_workers::KIND,
    replica_lag::KIND,
    failover::KIND,
];

/// The kind named `name`, or an error listing them.
pub fn lookup(name: &str) -> Result<&'static Kind, String> {
    KINDS.iter().find(|k| k.name == name).ok_or_else(|| {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        format!("unknown fault `{name}` (known: {})", names.join(", "))
    })
}

/// `1.0`: the default of `toxicity` and `probability`.
pub(super) fn one() -> f64 {
    1.0
}

/// Checks a share between 0 and 1.
pub(super) fn share(p: f64, field: &str) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("`{field}` must be between 0 and 1"))
    }
}
