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
//! * The linear path for cachecheck's own histories, where the commit log gives each key's
//!   version order (decided without search, in linear time), is the checker's property
//!   [`linearizable`](crate::checker::linearizable).
//! * [`history`]: the foreign-history model (operations per key from Jepsen EDN, Porcupine's
//!   formats; see [`crate::formats`]), [`model`]: the sequential specifications `register`,
//!   `cas-register`, `kv`.
//! * [`search`]: the Wing–Gong/Lowe search with [`memo`]isation and a budget;
//!   [`foreign`]: one search per key, keys in parallel, the verdicts.
//! * The picture of a violation and the page of a foreign history's check are the report's
//!   ([`crate::report::violation`], [`crate::report::linearizability`]).
//!

pub mod foreign;
pub mod history;
pub mod memo;
pub mod model;
pub mod search;

pub use model::ModelKind;

#[cfg(test)]
mod agreement_tests;
