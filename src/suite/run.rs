//! Runs a [`Plan`]: every planned run through the run pipeline ([`crate::run::run`]) into
//! `<suite dir>/<workload>/`, one after the other, with the suite's progress between them. A
//! cancelled shutdown token (Ctrl-C) stops it after the run in progress: what finished is kept.

use super::plan::{estimate_s, Plan};
use crate::progress::SuiteProgress;
use crate::run::{self, RunOptions};
use crate::summary::Summary;
use anyhow::Result;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// One finished (or interrupted) run of the suite.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub workload: String,
    pub repeat: u32,
    pub seed: u64,
    /// The run's directory (a normal run directory: `compare`, `report`, `check` read it).
    pub run_dir: PathBuf,
    /// Its strategies' summaries, in run order.
    pub summaries: Vec<Summary>,
    /// Ctrl-C cut this run short: its summaries are incomplete and left out of the matrix.
    pub interrupted: bool,
}

/// What the suite did.
pub struct Executed {
    pub records: Vec<RunRecord>,
    /// Ctrl-C stopped the suite (the run in progress cut short, the rest not started).
    pub interrupted: bool,
    /// The error that stopped the suite (a run that could not start its servers, ...).
    pub error: Option<anyhow::Error>,
}

/// Runs every run of `plan` under `suite_dir`.
pub async fn execute(
    plan: &Plan,
    suite_dir: &Path,
    quiet: bool,
    shutdown: CancellationToken,
) -> Executed {
    let estimates: Vec<f64> = plan.runs.iter().map(|r| estimate_s(&r.cfg)).collect();
    let mut progress = SuiteProgress::new(quiet, estimates);
    let mut records = Vec::new();
    let mut error = None;
    for (i, p) in plan.runs.iter().enumerate() {
        if shutdown.is_cancelled() {
            break;
        }
        progress.start(
            i,
            &format!(
                "{} (repeat {}/{}, seed {})",
                p.workload, p.repeat, plan.repeat, p.cfg.seed
            ),
        );
        let opts = RunOptions {
            out: suite_dir.join(&p.workload),
            quiet,
            no_history: false,
        };
        match run_one(&p.cfg, &opts, shutdown.clone()).await {
            Ok(o) => {
                progress.done(i, &o.summaries);
                records.push(RunRecord {
                    workload: p.workload.clone(),
                    repeat: p.repeat,
                    seed: p.cfg.seed,
                    run_dir: o.run_dir,
                    summaries: o.summaries,
                    interrupted: o.interrupted,
                });
            }
            // Ctrl-C while the servers started: nothing of this run to keep.
            Err(_) if shutdown.is_cancelled() => break,
            Err(e) => {
                error = Some(e.context(format!(
                    "{} (repeat {}/{})",
                    p.workload, p.repeat, plan.repeat
                )));
                break;
            }
        }
    }
    let interrupted = shutdown.is_cancelled();
    Executed {
        records,
        interrupted,
        error,
    }
}

async fn run_one(
    cfg: &crate::config::RunConfig,
    opts: &RunOptions,
    shutdown: CancellationToken,
) -> Result<run::RunOutcome> {
    run::run(cfg, opts, shutdown).await
}
