//! `cachecheck suite`: the strategy × workload matrix. Every workload given (default
//! `workloads/races/`) is run `--repeat` times with different seeds, each run through the
//! ordinary run pipeline into the suite's directory, and the runs' summaries become one matrix:
//! per strategy and workload, the anomaly kinds found with their median counts, the
//! expectations' verdicts, how many runs agreed, and each run's directory.
//!
//! * [`plan`]: the workloads and their runs, validated before any server starts;
//! * [`run`]: the runs, one after the other, with the suite's progress; Ctrl-C keeps what
//!   finished;
//! * [`matrix`]: `matrix.json` (its schema is documented there);
//! * [`render`]: table, Markdown, JSON and the HTML page.
//!
//! The suite's directory, `<out>/<timestamp>-suite/` (`<out>/latest` points at it):
//! `<workload>/<run>/<strategy>/` for every run (ordinary run directories: `compare`, `report`
//! and `check` work on any of them), `matrix.json`, `matrix.md` and `matrix.html`.

pub mod matrix;
pub mod plan;
pub mod render;
pub mod run;

use crate::results::{create_run_dir, replace_file, update_latest};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub use matrix::Matrix;
pub use plan::Plan;
pub use render::Format;

/// The files a suite writes beside its runs.
pub const MARKDOWN_FILE: &str = "matrix.md";
pub const HTML_FILE: &str = "matrix.html";

/// What a suite did.
pub struct SuiteOutcome {
    pub dir: PathBuf,
    pub matrix: Matrix,
    /// The error that stopped it early, if one did (the matrix covers the runs before it).
    pub error: Option<anyhow::Error>,
}

/// Runs `plan` into a new suite directory under `out` and writes its matrix (also when Ctrl-C
/// or an error stopped it: then for the runs that finished).
pub async fn suite(
    plan: &Plan,
    out: &Path,
    quiet: bool,
    shutdown: CancellationToken,
) -> Result<SuiteOutcome> {
    let dir = create_run_dir(out, "suite")?;
    let started_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let t0 = Instant::now();
    let mut executed = run::execute(plan, &dir, quiet, shutdown).await;
    let m = matrix::build(
        &executed,
        &dir,
        matrix::Meta {
            started_at,
            elapsed_s: t0.elapsed().as_secs_f64(),
            repeat: plan.repeat,
            runs_planned: plan.runs.len(),
            workloads: plan.workloads.clone(),
        },
    );
    write_all(&m, &dir)?;
    update_latest(out, &dir);
    Ok(SuiteOutcome {
        dir,
        matrix: m,
        error: executed.error.take(),
    })
}

/// Writes matrix.json, matrix.md and matrix.html into `dir`.
pub fn write_all(m: &Matrix, dir: &Path) -> Result<()> {
    for (name, f) in [
        (matrix::MATRIX_FILE, Format::Json),
        (MARKDOWN_FILE, Format::Markdown),
        (HTML_FILE, Format::Html),
    ] {
        let text = render::render(m, f);
        replace_file(dir, name, |d| std::fs::write(d.join(name), &text))?;
    }
    Ok(())
}
