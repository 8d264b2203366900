//! `cachecheck bench checker --ops N [--keys K] [--seed S]`: generates a synthetic history of
//! N operations ([`super::sim`]) into a run directory, checks it from the files exactly as
//! `cachecheck check` does, asserts that the injected anomaly counts were found, and reports:
//!
//! * events/s: history events of client operations (invoke and completion lines) checked per
//!   second of wall time, reading the files included;
//! * wall and CPU time of the check (the checker is single-threaded: one core);
//! * peak resident memory of the process per operation (the generator streams to disk and holds
//!   only per-key state, so the peak is the checker's).
//!
//! Exit 0 when every count matches, 1 when one does not, 2 on bad input.

use super::sim::{self, Expected, SimConfig};
use super::{current_rss_bytes, peak_rss_bytes, si};
use crate::checker::{check_dir, AnomalyCounts, CheckOptions};
use crate::exit::{EXIT_FAILED, EXIT_OK};
use crate::history::files::HISTORY_FILE;
use anyhow::{ensure, Context, Result};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `bench checker`.
#[derive(Debug, Clone)]
pub struct CheckerBench {
    pub ops: u64,
    /// Default: 100 000, at most `ops`.
    pub keys: Option<u64>,
    pub seed: u64,
    /// Write the run directory here and keep it (it must not hold history files yet);
    /// default: a temporary directory, removed afterwards.
    pub dir: Option<PathBuf>,
    pub json: bool,
}

/// The figures, as `--json` prints them:
///
/// ```json
/// {"schema_version":1,"ops":1000000,"keys":100000,"events":2000000,"lines":2000002,
///  "history_bytes":171000000,"generate_s":0.6,"check_s":0.35,"check_cpu_s":0.35,
///  "events_per_s":5.7e6,"peak_rss_bytes":75000000,"rss_bytes_per_op":75.0,
///  "expected":{"stale_reads":...},"found":{"stale_reads":...},"counts_match":true}
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct CheckerFigures {
    pub schema_version: u32,
    pub ops: u64,
    pub keys: u64,
    pub events: u64,
    pub lines: u64,
    pub history_bytes: u64,
    pub generate_s: f64,
    pub check_s: f64,
    pub check_cpu_s: f64,
    pub events_per_s: f64,
    pub peak_rss_bytes: u64,
    pub rss_bytes_per_op: f64,
    pub expected: AnomalyCounts,
    pub found: AnomalyCounts,
    pub counts_match: bool,
}

const DEFAULT_KEYS: u64 = 100_000;

pub fn run(b: &CheckerBench) -> Result<u8> {
    ensure!(b.ops > 0, "--ops: must be at least 1");
    let keys = b.keys.unwrap_or(DEFAULT_KEYS.min(b.ops));
    ensure!(
        (1..=1 << 31).contains(&keys),
        "--keys: must be between 1 and 2147483648, got {keys}"
    );
    let tmp;
    let dir = match &b.dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .with_context(|| format!("{}: cannot create", d.display()))?;
            ensure!(
                !d.join(HISTORY_FILE).exists(),
                "{}: already holds a {HISTORY_FILE} (fix: give an empty directory)",
                d.display()
            );
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
    let cfg = SimConfig::new(b.ops, keys, b.seed);
    let t0 = Instant::now();
    let exp = sim::write_dir(&cfg, &dir)
        .with_context(|| format!("{}: cannot write the history", dir.display()))?;
    let generate_s = t0.elapsed().as_secs_f64();
    let history_bytes = std::fs::metadata(dir.join(HISTORY_FILE))
        .map(|m| m.len())
        .unwrap_or(0);

    let opts = CheckOptions {
        ttl_set: Some(true),
        max_examples_per_kind: 20,
    };
    let cpu0 = cpu_seconds();
    let t1 = Instant::now();
    let report = check_dir(&dir, &opts)?;
    let check_s = t1.elapsed().as_secs_f64();
    let check_cpu_s = cpu_seconds() - cpu0;
    let peak = peak_rss_bytes().max(current_rss_bytes());

    let found_ops = report.ops.read.invoke + report.ops.write.invoke;
    let counts_match = report.anomalies == exp.anomalies
        && found_ops == exp.ops
        && report.fault_events == exp.fault_events;
    let fig = CheckerFigures {
        schema_version: 1,
        ops: exp.ops,
        keys,
        events: exp.events,
        lines: exp.lines,
        history_bytes,
        generate_s,
        check_s,
        check_cpu_s,
        events_per_s: exp.events as f64 / check_s.max(1e-9),
        peak_rss_bytes: peak,
        rss_bytes_per_op: peak as f64 / exp.ops as f64,
        expected: exp.anomalies.clone(),
        found: report.anomalies.clone(),
        counts_match,
    };
    if b.json {
        println!("{}", serde_json::to_string_pretty(&fig)?);
    } else {
        print!("{}", text(&fig, &exp, found_ops, report.fault_events));
        if let Some(d) = &b.dir {
            println!("run directory: {}", d.display());
        }
    }
    if !counts_match {
        eprintln!("cachecheck: bench checker: the checker's counts differ from the injected ones");
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn text(f: &CheckerFigures, exp: &Expected, found_ops: u64, found_faults: u64) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<22} {v}\n"));
    line("operations", format!("{} ({} keys)", f.ops, f.keys));
    line(
        "history",
        format!(
            "{} events of operations, {} lines, {:.1} MB",
            f.events,
            f.lines,
            f.history_bytes as f64 / 1e6
        ),
    );
    line("generate", format!("{:.2} s", f.generate_s));
    line(
        "check wall",
        format!("{:.3} s (cpu {:.3} s)", f.check_s, f.check_cpu_s),
    );
    line(
        "events/s",
        format!("{}  (target >= 5 M)", si(f.events_per_s)),
    );
    line(
        "peak rss",
        format!(
            "{:.1} MB = {:.1} B/op  (target <= 150 B/op)",
            f.peak_rss_bytes as f64 / 1e6,
            f.rss_bytes_per_op
        ),
    );
    let mut rows: Vec<(&str, u64, u64)> = vec![
        ("operations", exp.ops, found_ops),
        ("fault events", exp.fault_events, found_faults),
    ];
    rows.extend(
        crate::checker::registry::properties()
            .map(|p| (p.name, f.expected.get(p.name), f.found.get(p.name))),
    );
    s.push_str(&format!(
        "{:<29} {:>10} {:>10}\n",
        "injected / found", "expected", "found"
    ));
    for (name, e, got) in rows {
        let mark = if e == got { "" } else { "  MISMATCH" };
        s.push_str(&format!("{name:<29} {e:>10} {got:>10}{mark}\n"));
    }
    s.push_str(if f.counts_match {
        "counts: all found\n"
    } else {
        "counts: MISMATCH\n"
    });
    s
}
