//! `matrix.json`: a suite's strategies × workloads, one cell per strategy that ran in a
//! workload, over the suite's repeats. Schema-versioned like summary.json:
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "tool_version": "0.1.0",
//!   "started_at": "2026-12-01T12:00:00Z",
//!   "elapsed_s": 612.4,
//!   "repeat": 3,                    // --repeat: runs planned per workload
//!   "runs_planned": 24, "runs_done": 24,
//!   "interrupted": false,           // Ctrl-C: only the runs done are in the cells
//!   "failed": false,                // an expectation failed in some run (exit code 1)
//!   "workloads": ["cache-then-db-dirty", "..."],     // column order
//!   "strategies": ["cache-then-db", "db-only", "..."], // row order (first appearance)
//!   "runs": [{"workload": "cache-then-db-dirty", "repeat": 1, "seed": 31,
//!             "dir": "cache-then-db-dirty/20261201-120000-cache-then-db-dirty",
//!             "interrupted": false}],
//!   "cells": [{
//!     "workload": "cache-then-db-dirty", "strategy": "cache-then-db",
//!     "runs": 3,                    // complete runs of this strategy in this workload
//!     "anomalies": {"dirty_reads": {"median": 41.0, "found_in": 3}},  // kinds found in any run
//!     "expectations": [{"expr": "dirty_reads > 0", "held": 3}],       // held in how many runs
//!     "failed_runs": 0,             // runs in which an expectation failed (or that were incomplete)
//!     "agreed": 3,                  // runs with the most common outcome (kinds found + verdicts)
//!     "verdict": "anomalies",       // "clean" | "anomalies" | "expectation_failed"
//!     "seeds": [31, 32, 33],
//!     "dirs": ["cache-then-db-dirty/20261201-120000-cache-then-db-dirty/cache-then-db", "..."]
//!   }]
//! }
//! ```
//!
//! Paths are relative to the suite directory (where matrix.json is). A median over an even
//! number of runs is the mean of the two middle counts. `schema_version` changes when a field
//! changes meaning or disappears; new fields may appear without a change.

use super::run::{Executed, RunRecord};
use crate::summary::Summary;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const SCHEMA_VERSION: u32 = 1;
pub const MATRIX_FILE: &str = "matrix.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matrix {
    pub schema_version: u32,
    pub tool_version: String,
    pub started_at: String,
    pub elapsed_s: f64,
    pub repeat: u32,
    pub runs_planned: usize,
    pub runs_done: usize,
    pub interrupted: bool,
    pub failed: bool,
    pub workloads: Vec<String>,
    pub strategies: Vec<String>,
    pub runs: Vec<RunEntry>,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEntry {
    pub workload: String,
    pub repeat: u32,
    pub seed: u64,
    pub dir: String,
    pub interrupted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub workload: String,
    pub strategy: String,
    pub runs: u32,
    pub anomalies: BTreeMap<String, KindCount>,
    pub expectations: Vec<ExpectationCount>,
    pub failed_runs: u32,
    pub agreed: u32,
    pub verdict: CellVerdict,
    pub seeds: Vec<u64>,
    pub dirs: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct KindCount {
    pub median: f64,
    pub found_in: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ExpectationCount {
    pub expr: String,
    pub held: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CellVerdict {
    Clean,
    Anomalies,
    ExpectationFailed,
}

impl Cell {
    pub fn get<'a>(m: &'a Matrix, workload: &str, strategy: &str) -> Option<&'a Cell> {
        m.cells
            .iter()
            .find(|c| c.workload == workload && c.strategy == strategy)
    }
}

/// What the suite knows besides its runs.
pub struct Meta {
    pub started_at: String,
    pub elapsed_s: f64,
    pub repeat: u32,
    pub runs_planned: usize,
    pub workloads: Vec<String>,
}

/// The matrix of the runs `ex` finished; paths relative to `suite_dir`.
pub fn build(ex: &Executed, suite_dir: &Path, meta: Meta) -> Matrix {
    let rel = |p: &Path| p.strip_prefix(suite_dir).unwrap_or(p).display().to_string();
    let mut strategies: Vec<String> = Vec::new();
    // (workload, strategy) -> its complete runs' (record, summary)
    let mut groups: BTreeMap<(String, String), Vec<(&RunRecord, &Summary)>> = BTreeMap::new();
    for r in &ex.records {
        for s in &r.summaries {
            if r.interrupted && s.incomplete {
                continue; // cut short by Ctrl-C: not a result
            }
            if !strategies.contains(&s.strategy) {
                strategies.push(s.strategy.clone());
            }
            groups
                .entry((r.workload.clone(), s.strategy.clone()))
                .or_default()
                .push((r, s));
        }
    }
    let mut cells = Vec::new();
    for w in &meta.workloads {
        for st in &strategies {
            if let Some(g) = groups.get(&(w.clone(), st.clone())) {
                cells.push(cell(w, st, g, &rel));
            }
        }
    }
    Matrix {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        started_at: meta.started_at,
        elapsed_s: meta.elapsed_s,
        repeat: meta.repeat,
        runs_planned: meta.runs_planned,
        runs_done: ex.records.iter().filter(|r| !r.interrupted).count(),
        interrupted: ex.interrupted,
        failed: cells.iter().any(|c| c.failed_runs > 0),
        workloads: meta.workloads,
        strategies,
        runs: ex
            .records
            .iter()
            .map(|r| RunEntry {
                workload: r.workload.clone(),
                repeat: r.repeat,
                seed: r.seed,
                dir: rel(&r.run_dir),
                interrupted: r.interrupted,
            })
            .collect(),
        cells,
    }
}

fn cell(
    workload: &str,
    strategy: &str,
    runs: &[(&RunRecord, &Summary)],
    rel: &dyn Fn(&Path) -> String,
) -> Cell {
    let mut kinds: Vec<String> = Vec::new();
    for (_, s) in runs {
        for (k, n) in s.check.anomalies.iter() {
            if n > 0 && !kinds.iter().any(|x| x == k) {
                kinds.push(k.to_string());
            }
        }
    }
    let anomalies = kinds
        .iter()
        .map(|k| {
            let counts: Vec<u64> = runs.iter().map(|(_, s)| s.check.anomalies.get(k)).collect();
            let found_in = counts.iter().filter(|&&n| n > 0).count() as u32;
            (
                k.clone(),
                KindCount {
                    median: median(&counts),
                    found_in,
                },
            )
        })
        .collect();
    let mut expectations: Vec<ExpectationCount> = Vec::new();
    for (_, s) in runs {
        for e in &s.expectations {
            match expectations.iter_mut().find(|x| x.expr == e.expr) {
                Some(x) => x.held += e.held as u32,
                None => expectations.push(ExpectationCount {
                    expr: e.expr.clone(),
                    held: e.held as u32,
                }),
            }
        }
    }
    let failed_runs = runs.iter().filter(|(_, s)| !s.valid).count() as u32;
    let verdict = if failed_runs > 0 {
        CellVerdict::ExpectationFailed
    } else if kinds.is_empty() {
        CellVerdict::Clean
    } else {
        CellVerdict::Anomalies
    };
    Cell {
        workload: workload.to_string(),
        strategy: strategy.to_string(),
        runs: runs.len() as u32,
        anomalies,
        expectations,
        failed_runs,
        agreed: agreed(runs.iter().map(|(_, s)| *s)),
        verdict,
        seeds: runs.iter().map(|(r, _)| r.seed).collect(),
        dirs: runs
            .iter()
            .map(|(r, s)| rel(&r.run_dir.join(&s.strategy)))
            .collect(),
    }
}

/// The median of `counts` (the mean of the two middle ones for an even number; 0 for none).
pub fn median(counts: &[u64]) -> f64 {
    let mut v = counts.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2] as f64,
        n => (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0,
    }
}

/// A run's outcome as the matrix shows it: the anomaly kinds found, each expectation's verdict
/// and the run's own.
type Outcome = (Vec<String>, Vec<(String, bool)>, bool);

fn outcome(s: &Summary) -> Outcome {
    let kinds = s
        .check
        .anomalies
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, _)| k.to_string())
        .collect();
    let exps = s
        .expectations
        .iter()
        .map(|e| (e.expr.clone(), e.held))
        .collect();
    (kinds, exps, s.valid)
}

/// How many runs share the most common outcome.
pub fn agreed<'a>(runs: impl Iterator<Item = &'a Summary>) -> u32 {
    let mut seen: Vec<(Outcome, u32)> = Vec::new();
    for s in runs {
        let o = outcome(s);
        match seen.iter_mut().find(|(x, _)| *x == o) {
            Some((_, n)) => *n += 1,
            None => seen.push((o, 1)),
        }
    }
    seen.iter().map(|(_, n)| *n).max().unwrap_or(0)
}

/// The JSON text of `matrix.json`.
pub fn to_json(m: &Matrix) -> String {
    let mut text = serde_json::to_string_pretty(m).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads a `matrix.json`.
pub fn read(path: &Path) -> Result<Matrix, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a cachecheck matrix ({e})", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[5]), 5.0);
        assert_eq!(median(&[9, 1, 4]), 4.0);
        assert_eq!(median(&[1, 4, 9, 2]), 3.0);
    }

    #[test]
    fn agreement_counts_the_most_common_outcome() {
        let mut a = Summary::unnamed("x".into());
        a.valid = true;
        let mut b = a.clone();
        b.check.anomalies.set("stale_reads", 3);
        let mut c = a.clone();
        c.check.anomalies.set("stale_reads", 7); // same kinds as b: same outcome
        assert_eq!(agreed([&a, &b, &c].into_iter()), 2);
        assert_eq!(agreed([&a].into_iter()), 1);
    }
}
