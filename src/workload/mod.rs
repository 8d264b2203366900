//! The workload file (TOML) as written: the first of the configuration's two stages (the second,
//! [`crate::config::RunConfig`], merges it with the command line and is what a run reads).
//!
//! Every field, with its default:
//!
//! ```toml
//! name = "smoke"              # required: names the workload in results
//! description = ""            # free text
//! seed = 1                    # drives every random choice (op mix, keys, fault schedule)
//! keys = 16                   # number of keys in the register table (>= 1)
//! distribution = "uniform"    # "uniform" | "zipf" | "hotspot"
//! zipf_exponent = 1.0         # zipf only (> 0)
//! hot_keys = 1                # hotspot only: the first `hot_keys` keys are hot
//! hot_fraction = 0.9          # hotspot only: share of operations on hot keys
//! read_fraction = 0.8         # share of reads (0..=1); the rest are writes
//! clients = 8                 # concurrent clients (tokio tasks), 1..=10000
//! duration_s = 5.0            # run length per strategy; or:
//! ops = 0                     # total operations per strategy (0: use duration_s)
//! rate = 0                    # max ops/s over all clients (0: unlimited)
//! ttl_ms = 60000              # TTL of cache entries (0: none)
//! op_timeout_ms = 1000        # per-operation timeout: a timed-out op completes as `info`
//! settle_ms = 500             # wait after quiescence before the final state is read
//! trace_steps = true          # record strategies' internal steps (cache-del, fill...) in the history
//! compress = false            # write history.jsonl.zst (zstd, flushed every second) instead of
//!                             # history.jsonl; `cachecheck run --compress` sets it
//! strategies = ["db-only"]    # strategies to run, in order (`--strategy` replaces the list)
//!
//! [strategy.NAME]             # per-strategy settings (see each strategy) and expectations:
//! expect = ["converges", "dirty_reads == 0", "stale_p99_ms < 50"]
//!
//! [infra]                     # see `infra::InfraConfig`
//!
//! [[nemesis]]                 # see `nemesis` (faults on a schedule)
//! ```
//!
//! Unknown fields are errors; every error names the field and the file.

use crate::infra::InfraConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A workload error: names the file, the field or line, and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {msg}")]
pub struct WorkloadError {
    pub file: String,
    pub msg: String,
}

/// Key distribution of operations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    #[default]
    Uniform,
    Zipf,
    Hotspot,
}

/// The workload file as written (see the module doc for every field and default).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "d_seed")]
    pub seed: u64,
    #[serde(default = "d_keys")]
    pub keys: u64,
    #[serde(default)]
    pub distribution: Distribution,
    #[serde(default = "d_one")]
    pub zipf_exponent: f64,
    #[serde(default = "d_hot_keys")]
    pub hot_keys: u64,
    #[serde(default = "d_hot_fraction")]
    pub hot_fraction: f64,
    #[serde(default = "d_read_fraction")]
    pub read_fraction: f64,
    #[serde(default = "d_clients")]
    pub clients: u32,
    #[serde(default = "d_duration")]
    pub duration_s: f64,
    #[serde(default)]
    pub ops: u64,
    #[serde(default)]
    pub rate: f64,
    #[serde(default = "d_ttl")]
    pub ttl_ms: u64,
    #[serde(default = "d_op_timeout")]
    pub op_timeout_ms: u64,
    #[serde(default = "d_settle")]
    pub settle_ms: u64,
    #[serde(default = "d_true")]
    pub trace_steps: bool,
    #[serde(default)]
    pub compress: bool,
    #[serde(default = "d_strategies")]
    pub strategies: Vec<String>,
    #[serde(default)]
    pub strategy: BTreeMap<String, toml::Table>,
    #[serde(default)]
    pub infra: InfraConfig,
    #[serde(default)]
    pub nemesis: Vec<toml::Table>,
}

fn d_seed() -> u64 {
    1
}
fn d_keys() -> u64 {
    16
}
fn d_one() -> f64 {
    1.0
}
fn d_hot_keys() -> u64 {
    1
}
fn d_hot_fraction() -> f64 {
    0.9
}
fn d_read_fraction() -> f64 {
    0.8
}
fn d_clients() -> u32 {
    8
}
fn d_duration() -> f64 {
    5.0
}
fn d_ttl() -> u64 {
    60_000
}
fn d_op_timeout() -> u64 {
    1000
}
fn d_settle() -> u64 {
    500
}
fn d_true() -> bool {
    true
}
fn d_strategies() -> Vec<String> {
    vec!["db-only".into()]
}

/// The strategy part of a name (`double-delete@50ms` -> `double-delete`).
pub fn base_name(name: &str) -> &str {
    name.split('@').next().unwrap_or(name)
}

/// Reads a workload file's text, naming the file in the error.
pub fn read(path: &Path) -> Result<String, WorkloadError> {
    std::fs::read_to_string(path).map_err(|e| WorkloadError {
        file: path.display().to_string(),
        msg: format!("cannot read workload file: {e} (fix: give the path of a .toml workload, e.g. workloads/smoke.toml)"),
    })
}

/// Parses workload text as written (syntax, types and unknown fields; values are validated by
/// [`validate`] once the command line's overrides are in). `fname` names the file in errors.
pub fn from_text(text: &str, fname: &str) -> Result<WorkloadFile, WorkloadError> {
    toml::from_str(text).map_err(|e| WorkloadError {
        file: fname.to_string(),
        msg: toml_error(text, &e),
    })
}

/// A field whose value is not allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name, e.g. `clients` or `infra.db_url`.
    pub field: String,
    pub what: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field `{}`: {}", self.field, self.what)
    }
}

/// Checks the values of the file's top-level fields and `[infra]`.
pub fn validate(f: &WorkloadFile) -> Result<(), FieldError> {
    fn check(ok: bool, field: &str, what: &str) -> Result<(), FieldError> {
        if ok {
            Ok(())
        } else {
            Err(FieldError {
                field: field.into(),
                what: what.into(),
            })
        }
    }
    check(!f.name.trim().is_empty(), "name", "must not be empty")?;
    check(f.keys >= 1, "keys", "must be at least 1")?;
    check(f.keys <= 100_000_000, "keys", "must be at most 100000000")?;
    check(
        f.zipf_exponent > 0.0 && f.zipf_exponent.is_finite(),
        "zipf_exponent",
        "must be a positive number",
    )?;
    check(
        f.hot_keys >= 1 && f.hot_keys <= f.keys,
        "hot_keys",
        "must be between 1 and `keys`",
    )?;
    check(
        (0.0..=1.0).contains(&f.hot_fraction),
        "hot_fraction",
        "must be between 0 and 1",
    )?;
    check(
        (0.0..=1.0).contains(&f.read_fraction),
        "read_fraction",
        "must be between 0 and 1",
    )?;
    check(
        (1..=10_000).contains(&f.clients),
        "clients",
        "must be between 1 and 10000",
    )?;
    check(
        f.duration_s.is_finite() && f.duration_s > 0.0 && f.duration_s <= 86_400.0,
        "duration_s",
        "must be a number of seconds between 0 and 86400",
    )?;
    check(
        f.rate.is_finite() && f.rate >= 0.0,
        "rate",
        "must be a non-negative number of ops/s (0: unlimited)",
    )?;
    check(f.op_timeout_ms >= 1, "op_timeout_ms", "must be at least 1")?;
    check(
        f.settle_ms <= 3_600_000,
        "settle_ms",
        "must be at most 3600000",
    )?;
    check(
        !f.strategies.is_empty(),
        "strategies",
        "must name at least one strategy",
    )?;
    let mut seen = std::collections::HashSet::new();
    for s in &f.strategies {
        check(seen.insert(s), "strategies", &format!("lists `{s}` twice"))?;
    }
    f.infra.validate().map_err(|msg| {
        // `[infra]` names its own field: "field `infra.db_url`: ...".
        match msg
            .strip_prefix("field `")
            .and_then(|r| r.split_once("`: "))
        {
            Some((field, what)) => FieldError {
                field: field.into(),
                what: what.into(),
            },
            None => FieldError {
                field: "infra".into(),
                what: msg,
            },
        }
    })?;
    Ok(())
}

/// Formats a TOML error as one line: `line L: message`.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}
