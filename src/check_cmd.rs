//! `cachecheck check DIR`: re-checks stored or hand-built histories and prints the figures.
//! Reads only; writes `summary.json` only with `--write`.

use crate::checker::{self, CheckOptions};
use crate::cli::{EXIT_ERROR, EXIT_FAILED, EXIT_OK};
use crate::history::files::{
    find_history, history_path, open_history, read_commits, write_jsonl, COMMITS_FILE, FINAL_FILE,
    HISTORY_FILE, PARTIAL_COMMITS_FILE,
};
use crate::history::Commit;
use crate::summary::{Summary, SCHEMA_VERSION, SUMMARY_FILE};
use crate::workload::expect::Expectation;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// The strategy directories under `dir`: `dir` itself if it holds a history, else its
/// subdirectories that do (a run directory), in name order.
pub fn strategy_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    if find_history(dir).is_some() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read directory: {e} (fix: give a result directory such as results/latest)",
            dir.display()
        )
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| find_history(p).is_some())
        .collect();
    out.sort();
    anyhow::ensure!(
        !out.is_empty(),
        "{}: no {HISTORY_FILE} here or in its subdirectories (fix: give a strategy or run directory)",
        dir.display()
    );
    Ok(out)
}

/// How `check` runs: `--threads` (default: the cores available) and `--stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Speed {
    pub threads: Option<usize>,
    /// Print events, seconds, events/s and peak memory on stderr.
    pub stats: bool,
}

/// Checks one strategy directory; metadata and expectations come from its summary.json if any.
pub fn check_one(dir: &Path, extra_expect: &[Expectation]) -> Result<Summary> {
    check_one_with(dir, extra_expect, checker::default_threads()).map(|(s, _)| s)
}

/// [`check_one`] on `threads` threads, with the number of history events read.
pub fn check_one_with(
    dir: &Path,
    extra_expect: &[Expectation],
    threads: usize,
) -> Result<(Summary, u64)> {
    let stored = dir.join(SUMMARY_FILE);
    let base = if stored.is_file() {
        Summary::read(&stored).ok()
    } else {
        None
    };
    let ttl_set = base
        .as_ref()
        .and_then(|b| b.settings.get("ttl_ms"))
        .and_then(|v| v.as_u64())
        .map(|t| t > 0);
    let opts = CheckOptions {
        ttl_set,
        max_examples_per_kind: 20,
    };
    let (report, recovered, events) =
        if !dir.join(COMMITS_FILE).exists() && dir.join(PARTIAL_COMMITS_FILE).is_file() {
            let (r, events) = recover(dir, &opts, threads)?;
            (r, true, events)
        } else {
            let (r, read) = checker::check_dir_with(dir, &opts, threads)?;
            (r, false, read.events)
        };
    let mut s = base.unwrap_or_else(|| Summary {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        strategy: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..Default::default()
    });
    let mut expect = s.expectations_as_written();
    expect.extend(extra_expect.iter().cloned());
    s.check = report;
    if recovered {
        s.incomplete = true;
    }
    s.evaluate(&expect);
    Ok((s, events))
}

pub fn run(
    dir: &Path,
    json: bool,
    write: bool,
    expect: &[String],
    junit: Option<&Path>,
    speed: Speed,
) -> Result<u8> {
    let started = std::time::Instant::now();
    let threads = speed.threads.unwrap_or_else(checker::default_threads);
    anyhow::ensure!(threads >= 1, "--threads: must be at least 1");
    let mut events = 0u64;
    let expect: Vec<Expectation> = expect
        .iter()
        .map(|e| Expectation::parse(e).map_err(|m| anyhow::anyhow!("--expect: {m}")))
        .collect::<Result<_>>()?;
    let dirs = strategy_dirs(dir)?;
    let mut summaries = Vec::new();
    let mut errors = 0;
    for d in &dirs {
        match check_one_with(d, &expect, threads) {
            Ok((s, n)) => {
                events += n;
                if write {
                    write_replacing(d, &s)?;
                }
                summaries.push(s);
            }
            Err(e) => {
                errors += 1;
                eprintln!("cachecheck: error: {}", format!("{e:#}").replace('\n', " "));
            }
        }
    }
    if json {
        let v = if dirs.len() == 1 && summaries.len() == 1 {
            serde_json::to_value(&summaries[0])?
        } else {
            serde_json::to_value(&summaries)?
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if !summaries.is_empty() {
        print!("{}", crate::output::table(&summaries));
    }
    if let Some(path) = junit {
        crate::junit::write(path, &summaries)?;
    }
    if speed.stats {
        eprintln!(
            "{}",
            stats_line(events, started.elapsed().as_secs_f64(), threads)
        );
    }
    Ok(if errors > 0 {
        EXIT_ERROR
    } else if summaries.iter().all(|s| s.valid) {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

/// Checks the directory of a run that died before writing `commits.jsonl`: the ground truth is
/// rebuilt (in a temporary directory; the input is not touched) from the loaded data in
/// `commits.jsonl.partial` and the history's `db-commit` events. Writes whose commit was never
/// recorded count as uncommitted, so the result is marked incomplete and warns.
fn recover(dir: &Path, opts: &CheckOptions, threads: usize) -> Result<(checker::CheckReport, u64)> {
    let mut commits = read_commits(&dir.join(PARTIAL_COMMITS_FILE))?;
    let mut seen = 0u64;
    let history = history_path(dir);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut open_history(&history)?, &mut text)?;
    for line in text.lines().filter(|l| l.contains("\"db-commit\"")) {
        let Ok(ev) = serde_json::from_str::<crate::history::Event>(line) else {
            continue;
        };
        let version = ev
            .detail
            .as_ref()
            .and_then(|d| d.get("version"))
            .and_then(|v| v.as_i64());
        if let (Some(key), Some(value), Some(version)) = (ev.key, ev.value, version) {
            seen += 1;
            commits.push(Commit {
                key,
                version,
                value,
                initial: false,
            });
        }
    }
    commits.sort_by_key(|c| (c.key, c.version));
    let tmp = tempfile::tempdir()?;
    write_jsonl(&tmp.path().join(COMMITS_FILE), &commits)?;
    let (mut report, read) = checker::check_files_with(
        &history,
        &tmp.path().join(COMMITS_FILE),
        &dir.join(FINAL_FILE),
        opts,
        threads,
    )?;
    report.warnings.insert(
        0,
        format!(
            "the run died before writing {COMMITS_FILE}: ground truth rebuilt from {PARTIAL_COMMITS_FILE} and {seen} db-commit events of the history; writes whose commit was not recorded count as uncommitted (dirty and lost counts may be too high)"
        ),
    );
    Ok((report, read.events))
}

/// `check --stats`: `stats: 4000015 events, 0.412 s, 9.71 M events/s, peak memory 410.2 MB, 2 threads`.
fn stats_line(events: u64, seconds: f64, threads: usize) -> String {
    let peak = crate::bench::peak_rss_bytes();
    format!(
        "stats: {events} events, {seconds:.3} s, {} events/s, peak memory {:.1} MB, {threads} thread{}",
        crate::bench::si(events as f64 / seconds.max(1e-9)),
        peak as f64 / 1e6,
        if threads == 1 { "" } else { "s" }
    )
}

/// Replaces summary.json atomically (write to a temporary file, then rename).
fn write_replacing(dir: &Path, s: &Summary) -> Result<()> {
    let tmp = dir.join(format!(".{SUMMARY_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let tmpdir = tempfile::Builder::new()
        .prefix(".summary")
        .tempdir_in(dir)?;
    s.write(tmpdir.path())?;
    std::fs::rename(tmpdir.path().join(SUMMARY_FILE), dir.join(SUMMARY_FILE))?;
    Ok(())
}
