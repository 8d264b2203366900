//! Checkers: pure functions over a run directory's three files. (Placeholder: being written.)

use crate::history::files::FileError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Options of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Whether cache entries carried a TTL in this run (decides `ttl_repairs` of a divergent key
    /// when final.jsonl does not give `cache_ttl_ms`).
    pub ttl_set: Option<bool>,
    /// Evidence kept per anomaly kind in the report (counts are always exact).
    pub max_examples_per_kind: usize,
}

/// Three-valued verdict of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    #[default]
    Unknown,
    Valid,
    Invalid,
}

/// Distribution summary (milliseconds, or versions for staleness in versions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Completions {
    pub invoke: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpCounts {
    pub read: Completions,
    pub write: Completions,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyReport {
    pub read: Percentiles,
    pub write: Percentiles,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnomalyCounts {
    pub stale_reads: u64,
    pub divergent_keys: u64,
    pub dirty_reads: u64,
    pub lost_writes: u64,
    pub monotonic_read_violations: u64,
    pub read_your_writes_violations: u64,
    pub impossible_reads: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Staleness {
    pub time_ms: Percentiles,
    pub versions: Percentiles,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub writes: u64,
    pub ms: Percentiles,
    pub nines: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    pub key: i64,
    pub db: Option<i64>,
    pub cache: Option<i64>,
    pub ttl_repairs: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: String,
    pub key: i64,
    pub events: Vec<u64>,
    pub start_ns: u64,
    pub end_ns: u64,
    pub explanation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub ops: OpCounts,
    pub duration_s: f64,
    pub throughput_ops_s: f64,
    pub latency_ms: LatencyReport,
    pub anomalies: AnomalyCounts,
    pub staleness: Staleness,
    pub inconsistency_window: Window,
    pub verdicts: BTreeMap<String, Verdict>,
    pub verdict: Verdict,
    pub divergent: Vec<Divergence>,
    pub examples: Vec<Anomaly>,
    pub warnings: Vec<String>,
}

/// Checks the run directory `dir` (history.jsonl, commits.jsonl, final.jsonl).
pub fn check_dir(dir: &Path, _opts: &CheckOptions) -> Result<CheckReport, FileError> {
    let _ = dir;
    Ok(CheckReport::default())
}
