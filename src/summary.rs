//! `summary.json`: every figure of one strategy's run, schema-versioned.
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "tool_version": "0.1.0",
//!   "run_id": "20261127-101500-smoke",
//!   "strategy": "db-then-delete",
//!   "workload": "smoke",
//!   "workload_file": "workloads/smoke.toml",
//!   "seed": 42,
//!   "started_at": "2026-11-27T10:15:00Z",
//!   "infra": "local",
//!   "settings": {"clients": 8, "keys": 16, "ttl_ms": 60000, "...": "..."},
//!   "valid": true,
//!   "incomplete": false,
//!   "expectations": [{"expr": "converges", "held": true, "actual": 0}],
//!   "ops": {"read": {"invoke": 9000, "ok": 8990, "fail": 0, "info": 10}, "write": {"...": 0}},
//!   "duration_s": 3.0, "throughput_ops_s": 4200.5,
//!   "latency_ms": {"read": {"count": 8990, "p50": 0.2, "p90": 0.4, "p99": 1.1, "p999": 3.0, "max": 9.0},
//!                  "write": {"...": 0}},
//!   "anomalies": {"stale_reads": 0, "divergent_keys": 0, "dirty_reads": 0, "lost_writes": 0,
//!                 "monotonic_read_violations": 0, "read_your_writes_violations": 0,
//!                 "impossible_reads": 0},
//!   "staleness": {"time_ms": {"...": 0}, "versions": {"...": 0}},
//!   "inconsistency_window": {"writes": 2000, "ms": {"...": 0},
//!                            "nines": {"1ms": 0.99, "10ms": 1.0, "100ms": 1.0, "1s": 1.0, "10s": 1.0}},
//!   "verdicts": {"stale_reads": "valid", "...": "..."}, "verdict": "valid",
//!   "divergent": [], "examples": [], "warnings": [],
//!   "faults": [],
//!   "binlog_lag_ms": null,
//!   "extra": null
//! }
//! ```
//!
//! The README documents every field. `schema_version` changes when a field changes meaning or
//! disappears; new fields may appear without a change.

use crate::checker::{CheckReport, Percentiles};
use crate::expect::{Expectation, ExpectationResult};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const SCHEMA_VERSION: u32 = 1;
pub const SUMMARY_FILE: &str = "summary.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub schema_version: u32,
    pub tool_version: String,
    pub run_id: String,
    pub strategy: String,
    pub workload: String,
    #[serde(default)]
    pub workload_file: String,
    pub seed: u64,
    #[serde(default)]
    pub started_at: String,
    #[serde(default)]
    pub infra: String,
    /// The settings the strategy ran with (workload-level and its own).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// All expectations held (true when there are none) and the run completed.
    pub valid: bool,
    /// The run was interrupted (Ctrl-C) or could not finish: figures cover what was recorded.
    #[serde(default)]
    pub incomplete: bool,
    #[serde(default)]
    pub expectations: Vec<ExpectationResult>,
    #[serde(flatten)]
    pub check: CheckReport,
    /// The fault proxy server the run went through (absent when it connected directly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<crate::nemesis::proxy::ProxyIdentity>,
    /// Fault intervals applied during the run (also in the history as `f: "fault"` events).
    #[serde(default)]
    pub faults: Vec<serde_json::Value>,
    /// For binlog-driven invalidation: lag from the writer's acknowledgement to the delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binlog_lag_ms: Option<Percentiles>,
    /// With read replicas: how far the replicas were behind the primary while the clients ran
    /// (ms; sampled every 10 ms from their applied GTID positions against the primary's commit
    /// times, see `run::replica_lag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_lag_ms: Option<Percentiles>,
    /// With read replicas, after they caught up at quiescence: whether each holds exactly the
    /// primary's commits, e.g. `{"replica-1": {"commits": 2104, "matches_primary": true}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<serde_json::Value>,
    /// The harness's resident memory and file descriptors while the clients ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub harness: Option<crate::resources::HarnessResources>,
    /// Strategy-specific figures (retry counts, queue sizes...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

impl Summary {
    /// The metadata of a strategy directory without summary.json (a hand-built history).
    pub fn unnamed(strategy: String) -> Summary {
        Summary {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").into(),
            strategy,
            ..Default::default()
        }
    }

    /// The one way a summary gets its figures and its verdict, for `run` and `check` alike:
    /// `self` carries what the run knew (metadata, settings, faults, the strategy's own
    /// figures), `check` is the checker's report, `incomplete` says the history ended early,
    /// and the expectations are evaluated on the result.
    pub fn with_check(
        mut self,
        check: CheckReport,
        incomplete: bool,
        expect: &[Expectation],
    ) -> Summary {
        self.schema_version = SCHEMA_VERSION;
        self.check = check;
        self.incomplete |= incomplete;
        self.evaluate(expect);
        self
    }

    /// Evaluates expectations and sets `expectations` and `valid`.
    pub fn evaluate(&mut self, expect: &[Expectation]) {
        let json = serde_json::to_value(&*self).unwrap_or_default();
        self.expectations = expect.iter().map(|e| e.evaluate(&json)).collect();
        self.valid = !self.incomplete && self.expectations.iter().all(|r| r.held);
    }

    /// The expectations as written, parsed back from the results (for `check`).
    pub fn expectations_as_written(&self) -> Vec<Expectation> {
        self.expectations
            .iter()
            .filter_map(|r| Expectation::parse(&r.expr).ok())
            .collect()
    }

    /// Writes `summary.json` into `dir` (a new file; fails if one exists).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let path = dir.join(SUMMARY_FILE);
        let mut f = std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(path)?;
        serde_json::to_writer_pretty(&mut f, self)?;
        use std::io::Write;
        f.write_all(b"\n")?;
        f.sync_data()
    }

    /// Reads a `summary.json`, naming the file in the error.
    pub fn read(path: &Path) -> Result<Summary, String> {
        let fix = |what: &str| {
            let dir = path.parent().unwrap_or(Path::new("."));
            format!(
                "{}: {what} (fix: `cachecheck check {} --write` re-creates it from the history)",
                path.display(),
                dir.display()
            )
        };
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => fix("missing"),
            _ => fix(&format!("cannot read: {e}")),
        })?;
        serde_json::from_str(&text).map_err(|e| fix(&format!("not a cachecheck summary ({e})")))
    }
}
