//! `cachecheck report RESULT [-o FILE]`: one self-contained HTML file (inline SVG and CSS, no
//! scripts, nothing fetched) for a run or strategy directory. Per strategy: the summary, latency
//! over time with fault intervals shaded, the staleness and inconsistency-window
//! distributions, and a timeline of the key around each anomaly the checker kept evidence for.
//! Reads result files only.
//!
//! * [`scan`]: one pass over history.jsonl (latency buckets, the timelines' operations);
//! * [`svg`]: chart primitives; [`key_timeline`]: the per-anomaly timeline; [`html`]: the page;
//! * [`layout`]: the layout every HTML page of cachecheck shares (maud).

pub mod html;
pub mod key_timeline;
pub mod layout;
pub mod linearizability;
pub mod scan;
pub mod svg;
pub mod violation;

use crate::checker::Anomaly;
use crate::history::files::history_path;
use crate::recheck::check_one;
use crate::results::strategy_dirs;
use crate::summary::{Summary, SUMMARY_FILE};
use anyhow::Result;
use key_timeline::Shade;
use std::path::{Path, PathBuf};

/// Timelines drawn per anomaly kind and strategy (the checker keeps up to 20 examples each).
pub const TIMELINES_PER_KIND: usize = 6;

/// Everything the page shows of one strategy.
pub struct StrategyPage {
    pub dir: PathBuf,
    pub summary: Summary,
    /// The summary was computed now: the directory had no summary.json.
    pub computed: bool,
    pub scan: scan::Scan,
    pub shades: Vec<Shade>,
    /// The anomalies drawn (a timeline each, same order as `scan.windows`).
    pub drawn: Vec<Anomaly>,
    pub not_drawn: usize,
    /// The linearizability section (verdict, pictures of violations), if the files read.
    pub linearizability: Option<maud::Markup>,
}

/// Fault intervals from summary.json's `faults`.
fn shades(s: &Summary, last_ns: u64) -> Vec<Shade> {
    s.faults
        .iter()
        .filter_map(|f| {
            let start_ns = f.get("start_ns")?.as_u64()?;
            let end_ns = f.get("end_ns").and_then(|v| v.as_u64()).unwrap_or(last_ns);
            let name = f.get("fault").and_then(|v| v.as_str()).unwrap_or("fault");
            let target = f.get("target").and_then(|v| v.as_str()).unwrap_or("");
            Some(Shade {
                start_ns,
                end_ns,
                label: format!("{name} {target}").trim().to_string(),
            })
        })
        .collect()
}

/// Loads one strategy directory: its summary (computed by the checker when the file is
/// missing), and a scan of its history.
pub fn load_strategy(dir: &Path) -> Result<StrategyPage> {
    let file = dir.join(SUMMARY_FILE);
    let (summary, computed) = if file.exists() {
        (Summary::read(&file).map_err(anyhow::Error::msg)?, false)
    } else {
        (check_one(dir, &[])?, true)
    };
    let mut drawn = Vec::new();
    let mut not_drawn = 0;
    let mut per_kind = std::collections::BTreeMap::<&str, usize>::new();
    for a in &summary.check.examples {
        let n = per_kind.entry(a.kind.as_str()).or_default();
        *n += 1;
        if *n <= TIMELINES_PER_KIND {
            drawn.push(a.clone());
        } else {
            not_drawn += 1;
        }
    }
    let bucket_ns = ((summary.check.duration_s * 1e9) as u64 / 200).max(2_000_000);
    let scan = scan::scan(&history_path(dir), bucket_ns, &drawn)?;
    let shades = shades(&summary, scan.last_ns);
    Ok(StrategyPage {
        dir: dir.to_path_buf(),
        summary,
        computed,
        scan,
        shades,
        drawn,
        not_drawn,
        linearizability: linearizability::run_section(dir),
    })
}

/// Runs `cachecheck report`: writes the page, prints its path. A strategy that cannot be read
/// is a one-line error (exit 2); the page still shows the others.
pub fn run(result: &Path, out: Option<&Path>) -> Result<u8> {
    run_with(result, out, &Default::default())
}

/// [`run`], or for a foreign history file (Jepsen EDN, Porcupine's formats) its own page.
pub fn run_with(
    result: &Path,
    out: Option<&Path>,
    foreign: &crate::foreign_cmd::ForeignArgs,
) -> Result<u8> {
    if result.is_file()
        || foreign
            .format
            .is_some_and(|f| f != crate::formats::Format::Cachecheck)
    {
        return linearizability::report_file(result, out, foreign);
    }
    let dirs = strategy_dirs(result)?;
    let mut pages = Vec::new();
    let mut errors = Vec::new();
    for d in &dirs {
        match load_strategy(d) {
            Ok(p) => pages.push(p),
            Err(e) => {
                let msg = format!("{e:#}").replace('\n', " ");
                eprintln!("cachecheck: error: {msg}");
                errors.push(msg);
            }
        }
    }
    anyhow::ensure!(
        !pages.is_empty(),
        "{}: no strategy could be read, no report written",
        result.display()
    );
    let path = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| result.join("report.html"));
    let page = html::page(result, &pages, &errors);
    std::fs::write(&path, page).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot write the report: {e} (fix: -o FILE with a writable path)",
            path.display()
        )
    })?;
    println!("report: {}", path.display());
    Ok(if errors.is_empty() {
        crate::exit::EXIT_OK
    } else {
        crate::exit::EXIT_ERROR
    })
}
