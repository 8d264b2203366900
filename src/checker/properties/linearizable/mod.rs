//! **Linearizable** (per key, P-compositionally): every operation can be given a point within
//! its interval `[invoke, completion]` so that the points, in order, are a legal run of a
//! register; an `info` operation may take effect any time after its invoke, or never.
//!
//! On cachecheck's histories the commit log gives each key's version order, so this is
//! decided without search in time linear in the history ([`crate::linearizability::linear`]).
//! It catches what the stale-read rule cannot: two reads in real-time order that observe
//! versions in the opposite order while the newer write was still in flight. The count is the
//! number of keys that are not linearizable, each with the evidence of its first violation; a
//! key that cannot be judged (no `ok` operation, a value written twice) is left out, with a
//! warning.

pub mod linear;
pub mod verdict;

pub use linear::{check_key, check_run};
pub use verdict::{KeyVerdict, LinearViolation, RunVerdict, PROPERTY};

use crate::checker::findings::Findings;
use crate::checker::property::Checker;
use crate::checker::{Input, Verdict};
use crate::history::files::FileError;
use std::path::Path;

pub static CHECKER: Checker =
    Checker::property(PROPERTY, "non-linearizable keys", check).shorthand("linearizable");

pub fn check(input: &Input<'_>) -> Result<Findings, String> {
    let mut out = Findings::new(input.opts);
    let r = check_run(input.run);
    if r.valid + r.invalid > 0 {
        out.judged();
    }
    for a in r.anomalies() {
        out.flag(a.start_ns, || a.clone());
    }
    let unknown: Vec<_> = r
        .keys
        .iter()
        .filter(|k| k.verdict == Verdict::Unknown)
        .collect();
    if let Some(first) = unknown.first() {
        out.warnings.push(format!(
            "linearizable: {} key(s) could not be judged (first: key {}: {})",
            unknown.len(),
            first.key,
            first.why_unknown.as_deref().unwrap_or("unknown")
        ));
    }
    Ok(out)
}

/// Linearizability of every key of the strategy directory `dir`.
pub fn check_dir(dir: &Path) -> Result<RunVerdict, FileError> {
    Ok(check_run(&crate::checker::load_run(dir)?))
}

#[cfg(test)]
pub(crate) mod tests;
