//! `cachecheck timeline DIR`: a run's course over time from its history: completed operations
//! per second, info/fail completions, and the harness's resident memory and file descriptors
//! (the `resources` samples), per interval. What a soak run is read with.

use crate::history::files::{for_each_event, HISTORY_FILE};
use crate::history::EventType;
use anyhow::Result;
use serde::Serialize;
use std::fmt::Write;
use std::path::Path;

/// One interval of the timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bucket {
    /// Start of the interval, seconds since the run started.
    pub t_s: f64,
    pub ops_per_s: f64,
    pub fail: u64,
    pub info: u64,
    /// Last sample in the interval (0 when none).
    pub rss_kb: u64,
    pub fds: u64,
    /// Faults that started in the interval.
    pub faults: u64,
}

/// Builds the timeline of a strategy directory's history in `every_s` intervals.
pub fn timeline(dir: &Path, every_s: f64) -> Result<Vec<Bucket>> {
    anyhow::ensure!(
        every_s > 0.0,
        "--every: must be a positive number of seconds"
    );
    let step = (every_s * 1e9) as u64;
    let path = dir.join(HISTORY_FILE);
    let mut buckets: Vec<Bucket> = Vec::new();
    let grow = |b: &mut Vec<Bucket>, i: usize| {
        while b.len() <= i {
            let t = b.len() as f64 * every_s;
            b.push(Bucket {
                t_s: t,
                ..Default::default()
            });
        }
    };
    for_each_event(&path, |_, ev| {
        let i = (ev.time / step) as usize;
        grow(&mut buckets, i);
        let b = &mut buckets[i];
        if ev.process >= 0 && (ev.f == "read" || ev.f == "write") {
            match ev.kind {
                EventType::Invoke => {}
                EventType::Ok => b.ops_per_s += 1.0,
                EventType::Fail => {
                    b.ops_per_s += 1.0;
                    b.fail += 1
                }
                EventType::Info => {
                    b.ops_per_s += 1.0;
                    b.info += 1
                }
            }
        }
        Ok(())
    })?;
    // Resource samples and faults carry `detail`: read those few lines in full.
    let text = std::fs::read_to_string(&path)?;
    for line in text
        .lines()
        .filter(|l| l.contains("\"resources\"") || l.contains("\"fault\""))
    {
        let Ok(ev) = serde_json::from_str::<crate::history::Event>(line) else {
            continue;
        };
        let i = (ev.time / step) as usize;
        grow(&mut buckets, i);
        let d = ev.detail.unwrap_or_default();
        match ev.f.as_str() {
            "resources" => {
                buckets[i].rss_kb = d["rss_kb"].as_u64().unwrap_or(0);
                buckets[i].fds = d["fds"].as_u64().unwrap_or(0);
            }
            "fault" if d["phase"] == "start" => buckets[i].faults += 1,
            _ => {}
        }
    }
    for b in &mut buckets {
        b.ops_per_s /= every_s;
    }
    Ok(buckets)
}

/// The timeline as a table.
pub fn render(buckets: &[Bucket]) -> String {
    let mut out =
        String::from("     t_s     ops/s   fail   info   rss_MiB   fds  faults started\n");
    for b in buckets {
        let _ = writeln!(
            out,
            "{:>8.1}  {:>8.0}  {:>5}  {:>5}  {:>8.1}  {:>4}  {:>6}",
            b.t_s,
            b.ops_per_s,
            b.fail,
            b.info,
            b.rss_kb as f64 / 1024.0,
            b.fds,
            b.faults
        );
    }
    out
}

/// The command: prints the timeline of every strategy under `dir`.
pub fn run(dir: &Path, every_s: f64, json: bool) -> Result<u8> {
    let dirs = crate::check_cmd::strategy_dirs(dir)?;
    let mut all = serde_json::Map::new();
    for d in &dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let t = timeline(d, every_s)?;
        if json {
            all.insert(name, serde_json::to_value(&t)?);
        } else {
            println!("{name}");
            print!("{}", render(&t));
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(crate::cli::EXIT_OK)
}
