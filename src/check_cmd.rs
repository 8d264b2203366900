//! `cachecheck check DIR`: re-checks stored or hand-built histories and prints the figures.
//! Reads only; writes `summary.json` only with `--write`.

use crate::checker;
use crate::exit::{EXIT_ERROR, EXIT_FAILED, EXIT_OK};
use crate::expect::Expectation;
use crate::recheck::check_one_with;
use crate::results::{replace_file, strategy_dirs};
use crate::summary::SUMMARY_FILE;
use anyhow::Result;
use std::path::Path;

/// How `check` runs: `--threads` (default: the cores available) and `--stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Speed {
    pub threads: Option<usize>,
    /// Print events, seconds, events/s and peak memory on stderr.
    pub stats: bool,
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
                    replace_file(d, SUMMARY_FILE, |tmp| s.write(tmp))?;
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
