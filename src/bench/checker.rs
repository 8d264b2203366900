//! `cachecheck bench checker [--ops N] [--shape NAME]...`: for every history shape
//! ([`super::shapes::SHAPES`]) generates a synthetic history of N operations into a run directory,
//! then runs `cachecheck check DIR --json` on it as a child process, as a user would, once with
//! one thread and once with `--threads` (default: the cores available), asserts that the
//! injected anomaly counts were found and that both reports are identical, and reports per
//! shape:
//!
//! * events/s: history events of client operations (invoke and completion lines) per second
//!   of the check's wall time (the whole process: reading the three files, checking, printing);
//! * the ratio of that wall time to one `wc -l` pass over the same history, measured in the
//!   same run (the reference that carries over between machines);
//! * the check process's peak resident memory per operation (B/op);
//! * with `--linearity`, time(10 N) / time(N) from a second history ten times as long.
//!
//! `--history-dir DIR` adds a run directory that was not generated (a real run's), measured
//! the same way; its counts are not known, so only the two reports' identity is asserted.
//!
//! Exit 0 when every count matches, 1 when one does not, 2 on bad input.

use super::measure::{self, Took};
use super::shapes::{self, Shape, SHAPES};
use super::si;
use super::sim::{self, Expected};
use crate::checker::AnomalyCounts;
use crate::exit::{EXIT_FAILED, EXIT_OK};
use crate::history::files::{history_path, HISTORY_FILE};
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of `bench checker`.
#[derive(Debug, Clone, Default)]
pub struct CheckerBench {
    /// Operations per history (default 1 000 000).
    pub ops: Option<u64>,
    /// Shapes to measure (default: all).
    pub shapes: Vec<String>,
    /// Replaces every shape's key count.
    pub keys: Option<u64>,
    pub seed: u64,
    /// Write the run directories here and keep them (one per shape and size; they must not
    /// exist yet); default: a temporary directory, removed afterwards.
    pub dir: Option<PathBuf>,
    pub json: bool,
    /// `--threads` of the multi-threaded check (default: the cores available).
    pub threads: Option<usize>,
    /// Also measure every shape at 10 N.
    pub linearity: bool,
    /// The binary whose `check` is measured (default: this one), e.g. an older build.
    pub check_with: Option<PathBuf>,
    /// Run directories not generated here (real runs) to measure as well.
    pub history_dirs: Vec<PathBuf>,
    /// Measurements per history (default 1); the medians are reported.
    pub rounds: Option<u32>,
}

/// How the checks are run: which binary, with how many threads, how often.
struct How {
    bin: PathBuf,
    threads: usize,
    /// `--check-with` an older build: its `check` may not know `--threads`, so it runs as it
    /// is (once per round; the 1-thread figure is the same run).
    plain: bool,
    rounds: u32,
}

/// One history measured. `--json` prints `{"schema_version":2,"threads":2,"rows":[...]}`, a
/// row being:
///
/// ```json
/// {"shape":"uniform-10k","ops":1000000,"keys":10000,"clients":64,"events":2000000,
///  "history_bytes":180000000,"generate_s":0.6,"wc_l_s":0.03,"check_s":0.3,"check_cpu_s":0.5,
///  "check_1t_s":0.45,"ratio_to_wc_l":10.0,"events_per_s":6.6e6,"peak_rss_bytes":9e7,
///  "rss_bytes_per_op":90.0,"reports_identical":true,"counts_match":true,
///  "expected":{"stale_reads":...},"found":{"stale_reads":...},"time_10x_ratio":null}
/// ```
///
/// `expected` and `counts_match` are null for a `--history-dir`; `time_10x_ratio` is
/// check_s(10 N) / check_s(N) with `--linearity`.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub shape: String,
    pub ops: u64,
    pub keys: u64,
    pub clients: u32,
    pub events: u64,
    pub history_bytes: u64,
    pub generate_s: f64,
    pub wc_l_s: f64,
    pub check_s: f64,
    pub check_cpu_s: f64,
    pub check_1t_s: f64,
    pub ratio_to_wc_l: f64,
    pub events_per_s: f64,
    pub peak_rss_bytes: u64,
    pub rss_bytes_per_op: f64,
    pub reports_identical: bool,
    pub counts_match: Option<bool>,
    pub expected: Option<AnomalyCounts>,
    pub found: AnomalyCounts,
    pub time_10x_ratio: Option<f64>,
}

#[derive(Serialize)]
struct Output<'a> {
    schema_version: u32,
    threads: usize,
    rows: &'a [Row],
}

const DEFAULT_OPS: u64 = 1_000_000;

pub fn run(b: &CheckerBench) -> Result<u8> {
    let ops = b.ops.unwrap_or(DEFAULT_OPS);
    ensure!(ops > 0, "--ops: must be at least 1");
    if let Some(k) = b.keys {
        ensure!(
            (1..=1 << 31).contains(&k),
            "--keys: must be between 1 and 2147483648, got {k}"
        );
    }
    ensure!(b.threads != Some(0), "--threads: must be at least 1");
    let shapes: Vec<&Shape> = if b.shapes.is_empty() {
        SHAPES.iter().collect()
    } else {
        b.shapes
            .iter()
            .map(|n| {
                shapes::shape(n).with_context(|| {
                    let names: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
                    format!("--shape {n}: no such shape (one of: {})", names.join(", "))
                })
            })
            .collect::<Result<_>>()?
    };
    for d in &b.history_dirs {
        ensure!(
            crate::history::files::find_history(d).is_some(),
            "--history-dir {}: no {HISTORY_FILE} (or .zst) there (fix: give a strategy directory of a run)",
            d.display()
        );
    }
    let bin = match &b.check_with {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find this program's own binary")?,
    };
    let threads = b.threads.unwrap_or_else(crate::checker::default_threads);
    let rounds = b.rounds.unwrap_or(1);
    ensure!(rounds >= 1, "--rounds: must be at least 1");
    let how = How {
        bin,
        threads,
        plain: b.check_with.is_some(),
        rounds,
    };
    let tmp;
    let root = match &b.dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .with_context(|| format!("{}: cannot create", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("cachecheck-bench-")
                .tempdir()
                .context("cannot create a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let keep = b.dir.is_some();
    let mut rows = Vec::new();
    for shape in shapes {
        let mut row = generated(&how, &root, shape, ops, b, keep)?;
        if b.linearity {
            let big = generated(&how, &root, shape, ops * 10, b, keep)?;
            row.time_10x_ratio = Some(big.check_s / row.check_s.max(1e-9));
            rows.push(row);
            rows.push(big);
        } else {
            rows.push(row);
        }
        if !b.json {
            eprint!("."); // progress: a shape takes seconds
        }
    }
    if !b.json && !rows.is_empty() {
        eprintln!();
    }
    for d in &b.history_dirs {
        rows.push(measured(&how, d, "real run", None, 0.0)?);
    }
    if b.json {
        let out = Output {
            schema_version: 2,
            threads,
            rows: &rows,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", text(&rows, &how));
        if keep {
            println!("run directories: {}", root.display());
        }
    }
    let bad: Vec<&str> = rows
        .iter()
        .filter(|r| r.counts_match == Some(false) || !r.reports_identical)
        .map(|r| r.shape.as_str())
        .collect();
    if !bad.is_empty() {
        eprintln!(
            "cachecheck: bench checker: {}: the checker's counts differ from the injected ones, or the 1-thread and multi-thread reports differ",
            bad.join(", ")
        );
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

/// Generates one shape at `ops` operations and measures it.
fn generated(
    how: &How,
    root: &Path,
    shape: &Shape,
    ops: u64,
    b: &CheckerBench,
    keep: bool,
) -> Result<Row> {
    let dir = root.join(format!("{}-{ops}", shape.name));
    ensure!(
        !dir.exists(),
        "{}: already exists (fix: give an empty --dir)",
        dir.display()
    );
    std::fs::create_dir(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let cfg = shape.config(ops, b.keys, b.seed);
    let t0 = Instant::now();
    let exp = sim::write_dir(&cfg, &dir)
        .with_context(|| format!("{}: cannot write the history", dir.display()))?;
    let generate_s = t0.elapsed().as_secs_f64();
    let mut row = measured(how, &dir, shape.name, Some(&exp), generate_s)?;
    row.keys = cfg.keys;
    row.clients = cfg.processes;
    if !keep {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(row)
}

/// Measures `check` of one run directory against `wc -l` of its history.
fn measured(
    how: &How,
    dir: &Path,
    shape: &str,
    exp: Option<&Expected>,
    generate_s: f64,
) -> Result<Row> {
    let history = history_path(dir);
    let history_bytes = std::fs::metadata(&history).map(|m| m.len()).unwrap_or(0);
    let (mut wcs, mut ones, mut manys) = (Vec::new(), Vec::new(), Vec::new());
    let mut identical = true;
    let mut report = serde_json::Value::Null;
    for _ in 0..how.rounds {
        wcs.push(measure::wc_l(&history)?);
        let many = if how.plain {
            check(&how.bin, dir, None)?
        } else {
            check(&how.bin, dir, Some(how.threads))?
        };
        let one = if how.plain {
            many.clone()
        } else {
            check(&how.bin, dir, Some(1))?
        };
        let (m, o) = (json_of(&many)?, json_of(&one)?);
        identical &= m == o && (report.is_null() || report == m);
        report = m;
        ones.push(one);
        manys.push(many);
    }
    let wc_l_s = median(wcs);
    let one = median_took(ones);
    let many = median_took(manys);
    let found: AnomalyCounts = serde_json::from_value(report["anomalies"].clone())
        .context("check --json printed no anomaly counts")?;
    let ops_of = |k: &str| report["ops"][k]["invoke"].as_u64().unwrap_or(0);
    let found_ops = ops_of("read") + ops_of("write");
    let events = exp.map_or_else(|| count_events(&report), |e| e.events);
    let counts_match = exp.map(|e| {
        found == e.anomalies
            && found_ops == e.ops
            && report["fault_events"].as_u64() == Some(e.fault_events)
    });
    Ok(Row {
        shape: shape.to_string(),
        ops: found_ops,
        keys: 0,
        clients: 0,
        events,
        history_bytes,
        generate_s,
        wc_l_s,
        check_s: many.wall_s,
        check_cpu_s: many.cpu_s,
        check_1t_s: one.wall_s,
        ratio_to_wc_l: many.wall_s / wc_l_s.max(1e-9),
        events_per_s: events as f64 / many.wall_s.max(1e-9),
        peak_rss_bytes: many.peak_rss_bytes,
        rss_bytes_per_op: many.peak_rss_bytes as f64 / found_ops.max(1) as f64,
        reports_identical: identical,
        counts_match,
        expected: exp.map(|e| e.anomalies.clone()),
        found,
        time_10x_ratio: None,
    })
}

/// `cachecheck check DIR --json [--threads N]` as a child process.
fn check(bin: &Path, dir: &Path, threads: Option<usize>) -> Result<Took> {
    let n = threads.map(|t| t.to_string());
    let mut args: Vec<&OsStr> = vec!["check".as_ref(), dir.as_os_str(), "--json".as_ref()];
    if let Some(n) = &n {
        args.push(OsStr::new("--threads"));
        args.push(OsStr::new(n.as_str()));
    }
    let t = measure::run(bin, &args)?;
    // 1: an expectation failed (the generated histories have anomalies): still a report.
    if t.code != 0 && t.code != 1 {
        bail!(
            "{} check {}: exit {}: {}",
            bin.display(),
            dir.display(),
            t.code,
            t.stderr.trim()
        );
    }
    Ok(t)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The run of median wall time (its CPU time and memory with it).
fn median_took(mut v: Vec<Took>) -> Took {
    v.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    v.swap_remove(v.len() / 2)
}

fn json_of(t: &Took) -> Result<serde_json::Value> {
    serde_json::from_slice(&t.stdout).context("check --json printed no JSON")
}

/// Invoke and completion events of client operations in a report (an invoke that never
/// completed counts as `info` and so twice: a real run has a few of those at most).
fn count_events(report: &serde_json::Value) -> u64 {
    let mut n = 0;
    for f in ["read", "write"] {
        let c = &report["ops"][f];
        let get = |k: &str| c[k].as_u64().unwrap_or(0);
        n += get("invoke") + get("ok") + get("fail") + get("info");
    }
    n
}

fn text(rows: &[Row], how: &How) -> String {
    let mut s = format!(
        "{:<14} {:>9} {:>8} {:>5} {:>7} {:>7} {:>7} {:>6} {:>9} {:>6} {:>6} {:>5}  counts\n",
        "shape",
        "ops",
        "keys",
        "procs",
        "MB",
        "wc -l s",
        "check s",
        "ratio",
        "events/s",
        "B/op",
        "1t s",
        "10x",
    );
    for r in rows {
        let counts = match r.counts_match {
            Some(true) => "all found",
            Some(false) => "MISMATCH",
            None => "(not generated)",
        };
        let same = if r.reports_identical {
            ""
        } else {
            ", 1t/Nt reports DIFFER"
        };
        s.push_str(&format!(
            "{:<14} {:>9} {:>8} {:>5} {:>7.1} {:>7.3} {:>7.3} {:>6.1} {:>9} {:>6.1} {:>6.3} {:>5}  {counts}{same}\n",
            r.shape,
            r.ops,
            r.keys,
            r.clients,
            r.history_bytes as f64 / 1e6,
            r.wc_l_s,
            r.check_s,
            r.ratio_to_wc_l,
            si(r.events_per_s),
            r.rss_bytes_per_op,
            r.check_1t_s,
            r.time_10x_ratio.map_or("-".to_string(), |x| format!("{x:.1}")),
        ));
    }
    let run = if how.plain {
        format!("`{} check DIR --json`", how.bin.display())
    } else {
        format!("`cachecheck check DIR --json --threads {}`", how.threads)
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    s.push_str(&format!(
        "check s: {run} (wall, one process; median of {} round(s)); 1t s: with --threads 1; load average {load}\n\
         targets: ratio <= 8 (check within 8x one `wc -l` pass), 10x <= 11, B/op <= 150\n",
        how.rounds
    ));
    s
}
