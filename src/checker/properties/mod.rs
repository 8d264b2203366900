//! The checker's properties, one file each, and their list: [`CHECKERS`] (see
//! [`registry`](super::registry) for what an entry declares and who reads the list). Adding a
//! property: a file here, its `pub mod` line and its line in [`CHECKERS`].
//!
//! [`values`] is not a property: what the value checkers share.

pub mod dirty;
pub mod divergence;
pub mod failed_writes_committed;
pub mod impossible;
pub mod linearizable;
pub mod lost;
pub mod monotonic;
pub mod read_your_writes;
pub mod stale;
pub mod values;
pub mod window;

use super::property::Checker;

/// Every checker, in report order (the order of `anomalies`, of the table's columns, of the
/// compare rows and of the examples).
pub static CHECKERS: &[&Checker] = &[
    &stale::CHECKER,
    &window::CHECKER,
    &divergence::CHECKER,
    &dirty::CHECKER,
    &lost::CHECKER,
    &monotonic::CHECKER,
    &read_your_writes::CHECKER,
    &impossible::CHECKER,
    &linearizable::CHECKER,
    &failed_writes_committed::CHECKER,
];
