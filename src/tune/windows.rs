//! The windows `tune-delay` measures, from a strategy's history file.
//!
//! * [`fill_windows`] (built-in strategies): `detail.window_ns` of every acknowledged
//!   `cache-fill` step, from the start of the reader's database read to the fill's
//!   acknowledgement.
//! * [`miss_latencies`] (strategy `service`, whose steps cachecheck cannot see): from the
//!   outside, the latency (invoke to `ok`) of every read that missed, i.e. whose completion's
//!   `source` is not `cache` (a service that gives no source has every read counted as `db`,
//!   see `strategy::service::http`). A miss's latency contains its database read and its fill,
//!   so it bounds the read-to-fill window from above.

use crate::checker::Percentiles;
use crate::history::{Event, EventType, Source, F_READ};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

fn histogram() -> Result<hdrhistogram::Histogram<u64>> {
    hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3)
        .map_err(|e| anyhow::anyhow!("histogram: {e}"))
}

/// The windows measured in one history.
pub struct Fills {
    pub hist: hdrhistogram::Histogram<u64>,
    /// Fills (reads, for [`miss_latencies`]) that failed or whose outcome is unknown (not in
    /// `hist`).
    pub failed: u64,
}

impl Fills {
    pub fn percentiles(&self) -> Percentiles {
        let h = &self.hist;
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1e6;
        Percentiles {
            count: h.len(),
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1e6,
        }
    }
}

#[derive(serde::Deserialize)]
struct FillEvent {
    #[serde(rename = "type")]
    kind: String,
    f: String,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

/// Collects `detail.window_ns` of every acknowledged `cache-fill` in `history`.
pub fn fill_windows(history: &Path) -> Result<Fills> {
    let file = crate::history::files::open_history(history)?;
    let mut hist = histogram()?;
    let mut failed = 0;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("{}: cannot read", history.display()))?;
        if !line.contains("\"cache-fill\"") {
            continue;
        }
        let Ok(ev) = serde_json::from_str::<FillEvent>(&line) else {
            continue; // a torn last line
        };
        if ev.f != "cache-fill" {
            continue;
        }
        let window = ev
            .detail
            .as_ref()
            .and_then(|d| d.get("window_ns"))
            .and_then(|v| v.as_u64());
        match (ev.kind.as_str(), window) {
            ("ok", Some(w)) => hist.saturating_record(w.max(1)),
            _ => failed += 1,
        }
    }
    Ok(Fills { hist, failed })
}

/// The latency of every read that missed (see the module doc); reads that failed or whose
/// outcome is unknown are counted in `failed`.
pub fn miss_latencies(history: &Path) -> Result<Fills> {
    let file = crate::history::files::open_history(history)?;
    let mut hist = histogram()?;
    let mut failed = 0;
    // Per client, the time of its read in flight.
    let mut invoked: HashMap<i64, u64> = HashMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("{}: cannot read", history.display()))?;
        if !line.contains("\"read\"") {
            continue;
        }
        let Ok(ev) = serde_json::from_str::<Event>(&line) else {
            continue; // a torn last line
        };
        if ev.f != F_READ || ev.process < 0 {
            continue;
        }
        if ev.kind == EventType::Invoke {
            invoked.insert(ev.process, ev.time);
            continue;
        }
        let Some(start) = invoked.remove(&ev.process) else {
            continue;
        };
        match (ev.kind, ev.source) {
            (EventType::Ok, Some(Source::Cache)) => {}
            (EventType::Ok, _) => hist.saturating_record(ev.time.saturating_sub(start).max(1)),
            _ => failed += 1,
        }
    }
    Ok(Fills { hist, failed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fill_windows_of_acknowledged_fills_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        std::fs::write(
            &p,
            concat!(
                "{\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":1,\"value\":null}\n",
                "{\"time\":2,\"process\":0,\"type\":\"ok\",\"f\":\"cache-fill\",\"key\":1,\"value\":5,\"detail\":{\"window_ns\":120000000}}\n",
                "{\"time\":3,\"process\":1,\"type\":\"info\",\"f\":\"cache-fill\",\"key\":1,\"value\":5,\"detail\":{\"window_ns\":900000000,\"error\":\"timeout\"}}\n",
                "{\"time\":4,\"process\":1,\"type\":\"ok\",\"f\":\"cache-fill\",\"key\":2,\"val"
            ),
        )
        .unwrap();
        let f = fill_windows(&p).unwrap();
        assert_eq!(f.hist.len(), 1);
        assert_eq!(f.failed, 1);
        assert!((f.percentiles().max - 120.0).abs() < 0.2);
    }

    #[test]
    fn miss_latencies_are_reads_not_served_by_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        std::fs::write(
            &p,
            concat!(
                // A miss of 150 ms, a hit of 1 ms, a miss without source (counted: db) of
                // 80 ms, a failed read, and a write (ignored).
                "{\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":1,\"value\":null}\n",
                "{\"time\":10,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":1,\"value\":null}\n",
                "{\"time\":1000010,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":1,\"value\":3,\"source\":\"cache\"}\n",
                "{\"time\":150000000,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":1,\"value\":3,\"source\":\"db\"}\n",
                "{\"time\":200000000,\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":2,\"value\":null}\n",
                "{\"time\":280000000,\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":2,\"value\":null}\n",
                "{\"time\":300000000,\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":2,\"value\":9}\n",
                "{\"time\":900000000,\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":2,\"value\":9}\n",
                "{\"time\":300000000,\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"key\":2,\"value\":null}\n",
                "{\"time\":310000000,\"process\":2,\"type\":\"fail\",\"f\":\"read\",\"key\":2,\"value\":null}\n",
            ),
        )
        .unwrap();
        let m = miss_latencies(&p).unwrap();
        assert_eq!(m.hist.len(), 2);
        assert_eq!(m.failed, 1);
        let p = m.percentiles();
        assert!((p.max - 150.0).abs() < 0.2, "{p:?}");
        assert!((p.p50 - 80.0).abs() < 0.2, "{p:?}");
    }
}
