//! What a suite runs, decided and validated before any server starts: the workload files (the
//! arguments, a directory meaning every `*.toml` in it, by name; default `workloads/races/`),
//! each loaded `--repeat` times through [`config::load`] with its own seed (the workload's
//! seed plus the repeat's index, or `--seed` plus it), with its own strategies or the
//! `--strategy` list (`all`: every registered strategy).

use crate::config::{self, Overrides, RunConfig};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The workload directory a suite runs when given none.
pub const DEFAULT_DIR: &str = "workloads/races";

/// One run of one workload: a repeat with its own seed.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// The workload's `name`.
    pub workload: String,
    /// 1..=N.
    pub repeat: u32,
    pub cfg: RunConfig,
}

/// Every run of a suite, in order: workload by workload, each repeat of a workload in turn.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The workloads' names, in run order.
    pub workloads: Vec<String>,
    pub repeat: u32,
    pub runs: Vec<PlannedRun>,
}

/// The workload files of `inputs` (files as given, directories as their `*.toml` by name).
pub fn workload_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let default = [PathBuf::from(DEFAULT_DIR)];
    let inputs = if inputs.is_empty() {
        &default[..]
    } else {
        inputs
    };
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("cannot read the directory {}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                bail!(
                    "{} holds no workload file (*.toml) (fix: give a directory of workload files or the files themselves)",
                    input.display()
                );
            }
            files.extend(found);
        } else if input.is_file() {
            files.push(input.clone());
        } else if inputs == default {
            bail!("{DEFAULT_DIR} not found (fix: run from the repository's root, or give the workload files or directories to run)");
        } else {
            bail!(
                "{}: no such workload file or directory (fix: give a workload file (TOML) or a directory of them)",
                input.display()
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    Ok(files)
}

/// The `--strategy` list with `all` expanded to every registered strategy.
pub fn strategies(given: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for s in given {
        if s == "all" {
            out.extend(crate::strategy::REGISTRY.iter().map(|r| r.name.to_string()));
        } else {
            out.push(s.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| seen.insert(s.clone()));
    out
}

/// Loads and validates every run; `base` carries the command line's overrides (its
/// `strategies` already expanded, its `seed` the base seed if given).
pub fn plan(inputs: &[PathBuf], repeat: u32, base: &Overrides) -> Result<Plan> {
    if repeat == 0 {
        bail!("--repeat 0: a suite needs at least one run per workload (fix: --repeat 1 or more)");
    }
    let files = workload_files(inputs)?;
    let mut workloads: Vec<String> = Vec::new();
    let mut runs = Vec::new();
    for file in &files {
        let first = config::load(file, base)?;
        if workloads.contains(&first.name) {
            bail!(
                "{}: a second workload named `{}` (fix: give each workload of a suite its own `name`)",
                file.display(),
                first.name
            );
        }
        workloads.push(first.name.clone());
        for i in 0..repeat {
            let seed = base.seed.unwrap_or(first.seed).wrapping_add(i as u64);
            let cfg = load_with_seed(file, base, seed)?;
            runs.push(PlannedRun {
                workload: first.name.clone(),
                repeat: i + 1,
                cfg,
            });
        }
    }
    Ok(Plan {
        workloads,
        repeat,
        runs,
    })
}

fn load_with_seed(file: &Path, base: &Overrides, seed: u64) -> Result<RunConfig> {
    let o = Overrides {
        seed: Some(seed),
        ..base.clone()
    };
    Ok(config::load(file, &o)?)
}

/// A rough length of one run, for the time left before any run has finished: the servers'
/// start, then per strategy its duration, its settle time and its check.
pub fn estimate_s(cfg: &RunConfig) -> f64 {
    let per = if cfg.ops > 0 { 5.0 } else { cfg.duration_s } + cfg.settle_ms as f64 / 1000.0 + 1.5;
    3.0 + per * cfg.strategies.len() as f64
}
