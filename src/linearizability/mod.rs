//! Linearizability per key, for cachecheck's own histories and for the Jepsen world's.
//!
//! A history is linearizable when every operation can be given a point within its interval
//! such that the points, in order, are a legal sequential run of the model. Linearizability is
//! P-compositional: a history is linearizable iff each key's sub-history is, so every check
//! here is per key. `info` operations follow Jepsen: they may take effect at any time after
//! their invoke, or never.
//!
//! # Layout
//!
//! * [`linear`]: cachecheck's histories, where the commit log gives each key's version order:
//!   decided without search in linear time. [`check_run`] is the entry point over a paired
//!   run; its results are [`verdict`]s with evidence in the checker's style.
//! * [`history`]: the foreign-history model (operations per key from Jepsen EDN, Porcupine's
//!   formats; see [`crate::formats`]), [`model`]: the sequential specifications `register`,
//!   `cas-register`, `kv`.
//! * [`search`]: the Wing–Gong/Lowe search with [`memo`]isation and a budget;
//!   [`foreign`]: one search per key, keys in parallel, the verdicts.
//! * [`picture`]: the picture of a violation (operations on client rows against time, the
//!   longest linearizable prefix, the operation that cannot be placed), as SVG;
//!   [`page`]: the HTML page of a foreign history's check.
//!
//! Registering the linear path as a checker property is one file under `src/checker/`:
//!
//! ```ignore
//! pub fn check(input: &Input<'_>) -> Result<Findings, String> {
//!     let mut out = Findings::new(input.opts);
//!     let r = crate::linearizability::check_run(input.run);
//!     if r.valid + r.invalid > 0 { out.judged(Property::Linearizable) }
//!     for a in r.anomalies() { out.flag(Property::Linearizable, a.start_ns, || a.clone()) }
//!     Ok(out)
//! }
//! ```

pub mod files;
pub mod foreign;
pub mod history;
pub mod linear;
pub mod memo;
pub mod model;
pub mod page;
pub mod picture;
pub mod search;
pub mod verdict;

pub use linear::{check_key, check_run};
pub use model::ModelKind;
pub use verdict::{KeyVerdict, LinearViolation, RunVerdict, PROPERTY};

#[cfg(test)]
mod agreement_tests;
#[cfg(test)]
mod linear_tests;
