//! `cachecheck timeline DIR`: a run's course over time from its history: completed operations
//! per second, info/fail completions, and the harness's resident memory and file descriptors
//! (the `resources` samples), per interval. What a soak run is read with.

use crate::history::events::for_each_event_with_line;
use crate::history::files::history_path;
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
    let path = history_path(dir);
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
    let mut last_ns = 0u64;
    for_each_event_with_line(&path, |_, ev, line| {
        last_ns = last_ns.max(ev.time);
        let i = (ev.time / step) as usize;
        grow(&mut buckets, i);
        let b = &mut buckets[i];
        let f = ev.f.as_ref();
        if ev.process >= 0 && (f == "read" || f == "write") {
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
        } else if f == "resources" || f == "fault" {
            // These few carry `detail`, which the reader skips: parse their line in full.
            let Ok(full) = serde_json::from_slice::<crate::history::Event>(line) else {
                return Ok(());
            };
            let d = full.detail.unwrap_or_default();
            if f == "resources" {
                b.rss_kb = d["rss_kb"].as_u64().unwrap_or(0);
                b.fds = d["fds"].as_u64().unwrap_or(0);
            } else if d["phase"] == "start" {
                b.faults += 1;
            }
        }
        Ok(())
    })?;
    // The last interval ends with the history: its rate is over the time it covers, and a
    // sliver under a tenth of an interval (the final reads) is no interval worth a row.
    let n = buckets.len();
    for (i, b) in buckets.iter_mut().enumerate() {
        let covered = if i + 1 == n {
            (last_ns as f64 / 1e9 - b.t_s).clamp(0.0, every_s)
        } else {
            every_s
        };
        b.ops_per_s = if covered > 0.0 {
            b.ops_per_s / covered
        } else {
            0.0
        };
    }
    if n > 1 && last_ns as f64 / 1e9 - buckets[n - 1].t_s < every_s / 10.0 {
        buckets.pop();
    }
    Ok(buckets)
}

/// The timeline as a table.
pub fn render(buckets: &[Bucket]) -> String {
    let mut out =
        String::from("     t_s     ops/s   fail   info   rss_MiB   fds  faults started\n");
    for b in buckets {
        // No resource sample in the interval: no figure rather than a zero.
        let (rss, fds) = if b.rss_kb == 0 {
            ("-".to_string(), "-".to_string())
        } else {
            (
                format!("{:.1}", b.rss_kb as f64 / 1024.0),
                b.fds.to_string(),
            )
        };
        let _ = writeln!(
            out,
            "{:>8.1}  {:>8.0}  {:>5}  {:>5}  {:>8}  {:>4}  {:>6}",
            b.t_s, b.ops_per_s, b.fail, b.info, rss, fds, b.faults
        );
    }
    out
}

/// The command: prints the timeline of every strategy under `dir`.
pub fn run(dir: &Path, every_s: f64, json: bool) -> Result<u8> {
    let dirs = crate::results::strategy_dirs(dir)?;
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
    Ok(crate::exit::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::files::{write_jsonl, HISTORY_FILE};
    use crate::history::Event;

    fn ev(t_ms: u64, process: i64, kind: EventType, f: &str, detail: Option<&str>) -> Event {
        Event {
            time: t_ms * 1_000_000,
            process,
            kind,
            f: f.into(),
            key: Some(0),
            value: None,
            source: None,
            error: None,
            detail: detail.map(|d| serde_json::from_str(d).unwrap()),
        }
    }

    #[test]
    fn buckets_count_rates_samples_faults_and_trim_the_last_sliver() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = Vec::new();
        // Interval 0: 4 reads, one of them failed; a sample; a fault starts.
        for i in 0..4 {
            h.push(ev(i * 100, 0, EventType::Invoke, "read", None));
            let kind = if i == 3 {
                EventType::Fail
            } else {
                EventType::Ok
            };
            h.push(ev(i * 100 + 50, 0, kind, "read", None));
        }
        h.push(ev(
            500,
            -2,
            EventType::Info,
            "resources",
            Some(r#"{"rss_kb": 2048, "fds": 9}"#),
        ));
        h.push(ev(
            600,
            -1,
            EventType::Info,
            "fault",
            Some(r#"{"id": "0-0", "phase": "start"}"#),
        ));
        h.push(ev(
            700,
            -1,
            EventType::Info,
            "fault",
            Some(r#"{"id": "0-0", "phase": "stop"}"#),
        ));
        // Interval 1: 2 writes (one info), the history ends at 1.5 s: a half interval.
        h.push(ev(1000, 1, EventType::Invoke, "write", None));
        h.push(ev(1100, 1, EventType::Ok, "write", None));
        h.push(ev(1200, 1, EventType::Invoke, "write", None));
        h.push(ev(1500, 1, EventType::Info, "write", None));
        write_jsonl(&dir.path().join(HISTORY_FILE), &h).unwrap();

        let b = timeline(dir.path(), 1.0).unwrap();
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!((b[0].ops_per_s, b[0].fail, b[0].info), (4.0, 1, 0));
        assert_eq!((b[0].rss_kb, b[0].fds, b[0].faults), (2048, 9, 1));
        // 2 completions over the 0.5 s the last interval covers.
        assert_eq!((b[1].ops_per_s, b[1].fail, b[1].info), (4.0, 0, 1));
        let text = render(&b);
        assert!(text.lines().nth(2).unwrap().contains(" - "), "{text}");

        // A last interval under a tenth of the step is dropped, not shown as a rate over nothing.
        let b = timeline(dir.path(), 0.75).unwrap();
        assert_eq!(b.len(), 2, "{b:?}");
        assert!(timeline(dir.path(), 0.0).is_err());
    }
}
