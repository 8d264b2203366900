//! One streaming pass over a history for the report: latency over time (bucketed, so memory
//! does not grow with the run) and the operations of the keys around each
//! anomaly (for the timelines). Reads history.jsonl with the checker's reader.

use crate::checker::Anomaly;
use crate::history::events::for_each_event;
use crate::history::files::FileError;
use crate::history::{EventType, Source, F_READ, F_WRITE};
use std::collections::HashMap;
use std::path::Path;

/// Log-spaced latency bins: bin `i` holds latencies below `2^(i/4)` µs.
const BINS: usize = 100;

fn bin_of(ns: u64) -> usize {
    let us = ns as f64 / 1000.0;
    ((4.0 * (us + 1.0).log2()) as usize).min(BINS - 1)
}

fn bin_upper_ms(i: usize) -> f64 {
    (2f64.powf((i + 1) as f64 / 4.0) - 1.0) / 1000.0
}

/// Latencies of the operations that completed `ok` within one time bucket.
#[derive(Clone)]
pub struct Bucket {
    pub count: u64,
    pub max_ns: u64,
    bins: Box<[u32; BINS]>,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            count: 0,
            max_ns: 0,
            bins: Box::new([0; BINS]),
        }
    }
}

impl Bucket {
    fn add(&mut self, ns: u64) {
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        self.bins[bin_of(ns)] += 1;
    }

    /// The `q` quantile (0..1) in ms, to the bin's resolution (about 19 %).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let want = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, n) in self.bins.iter().enumerate() {
            seen += *n as u64;
            if seen >= want {
                return bin_upper_ms(i).min(self.max_ns as f64 / 1e6);
            }
        }
        self.max_ns as f64 / 1e6
    }
}

/// A client operation: invoke and completion.
#[derive(Debug, Clone)]
pub struct Op {
    pub process: i64,
    pub write: bool,
    pub key: i64,
    /// The value written, or the value read (`None`: absent or unknown).
    pub value: Option<i64>,
    pub inv_ns: u64,
    /// `None`: never completed (open to the end).
    pub end_ns: Option<u64>,
    pub outcome: Option<EventType>,
    pub source: Option<Source>,
    pub inv_idx: u64,
    pub end_idx: Option<u64>,
}

/// An internal step (cache-fill, cache-del, db-commit...) of a key.
#[derive(Debug, Clone)]
pub struct Step {
    pub process: i64,
    pub f: String,
    pub kind: EventType,
    pub value: Option<i64>,
    pub time_ns: u64,
}

/// The time window of one anomaly's timeline, and what happened in it.
#[derive(Debug, Clone)]
pub struct Window {
    pub key: i64,
    pub t0: u64,
    pub t1: u64,
    pub ops: Vec<Op>,
    pub steps: Vec<Step>,
}

/// Most operations drawn in one timeline (the nearest to the anomaly are kept).
pub const MAX_OPS: usize = 160;

/// What the report needs from a history.
pub struct Scan {
    pub bucket_ns: u64,
    pub reads: Vec<Bucket>,
    pub writes: Vec<Bucket>,
    /// One per anomaly given to [`scan`], in the same order.
    pub windows: Vec<Window>,
    pub last_ns: u64,
}

/// The window drawn around an anomaly: its evidence span, padded by half of it (at least 20 ms).
pub fn window_of(a: &Anomaly) -> (u64, u64) {
    let span = a.end_ns.saturating_sub(a.start_ns);
    let pad = (span / 2).max(20_000_000);
    (a.start_ns.saturating_sub(pad), a.end_ns + pad)
}

/// Scans `history`; `bucket_ns` is the width of a latency bucket; `anomalies` are the ones to
/// draw timelines for.
pub fn scan(history: &Path, bucket_ns: u64, anomalies: &[Anomaly]) -> Result<Scan, FileError> {
    let bucket_ns = bucket_ns.max(1_000_000);
    let mut s = Scan {
        bucket_ns,
        reads: Vec::new(),
        writes: Vec::new(),
        windows: anomalies
            .iter()
            .map(|a| {
                let (t0, t1) = window_of(a);
                Window {
                    key: a.key,
                    t0,
                    t1,
                    ops: Vec::new(),
                    steps: Vec::new(),
                }
            })
            .collect(),
        last_ns: 0,
    };
    let mut by_key: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, w) in s.windows.iter().enumerate() {
        by_key.entry(w.key).or_default().push(i);
    }
    let mut open: HashMap<i64, Op> = HashMap::new();
    for_each_event(history, |idx, ev| {
        s.last_ns = s.last_ns.max(ev.time);
        let client_op = ev.process >= 0 && (ev.f == F_READ || ev.f == F_WRITE);
        if client_op {
            let Some(key) = ev.key else { return Ok(()) };
            if ev.kind == EventType::Invoke {
                open.insert(
                    ev.process,
                    Op {
                        process: ev.process,
                        write: ev.f == F_WRITE,
                        key,
                        value: ev.value,
                        inv_ns: ev.time,
                        end_ns: None,
                        outcome: None,
                        source: None,
                        inv_idx: idx as u64,
                        end_idx: None,
                    },
                );
            } else if let Some(mut op) = open.remove(&ev.process) {
                op.end_ns = Some(ev.time);
                op.outcome = Some(ev.kind);
                op.end_idx = Some(idx as u64);
                op.source = ev.source;
                if !op.write || ev.value.is_some() {
                    op.value = if op.write { op.value } else { ev.value };
                }
                if ev.kind == EventType::Ok {
                    let b = (ev.time / bucket_ns) as usize;
                    let v = if op.write {
                        &mut s.writes
                    } else {
                        &mut s.reads
                    };
                    if v.len() <= b {
                        v.resize(b + 1, Bucket::default());
                    }
                    v[b].add(ev.time - op.inv_ns);
                }
                keep(&mut s.windows, &by_key, op);
            }
        } else if let Some(key) = ev.key {
            if let Some(ws) = by_key.get(&key) {
                for &i in ws {
                    let w = &mut s.windows[i];
                    if ev.time >= w.t0 && ev.time <= w.t1 {
                        w.steps.push(Step {
                            process: ev.process,
                            f: ev.f.to_string(),
                            kind: ev.kind,
                            value: ev.value,
                            time_ns: ev.time,
                        });
                    }
                }
            }
        }
        Ok(())
    })?;
    for (_, op) in open.drain() {
        keep(&mut s.windows, &by_key, op);
    }
    for w in &mut s.windows {
        w.ops.sort_by_key(|o| o.inv_ns);
        w.steps.truncate(MAX_OPS * 4);
    }
    Ok(s)
}

/// Keeps `op` in every window of its key that it overlaps.
fn keep(windows: &mut [Window], by_key: &HashMap<i64, Vec<usize>>, op: Op) {
    let Some(ws) = by_key.get(&op.key) else {
        return;
    };
    for &i in ws {
        let w = &mut windows[i];
        let end = op.end_ns.unwrap_or(u64::MAX);
        if op.inv_ns <= w.t1 && end >= w.t0 && w.ops.len() < MAX_OPS * 4 {
            w.ops.push(op.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_quantiles_are_close() {
        let mut b = Bucket::default();
        for i in 1..=100u64 {
            b.add(i * 1_000_000); // 1..100 ms
        }
        let p50 = b.quantile_ms(0.5);
        let p99 = b.quantile_ms(0.99);
        assert!((40.0..=62.0).contains(&p50), "{p50}");
        assert!((80.0..=100.0).contains(&p99), "{p99}");
        assert_eq!(b.quantile_ms(1.0), 100.0);
    }

    #[test]
    fn pairs_ops_and_keeps_those_around_an_anomaly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("history.jsonl");
        let ev = |t: u64, pr: i64, ty: &str, f: &str, k: i64, v: &str| {
            format!("{{\"time\":{t},\"process\":{pr},\"type\":\"{ty}\",\"f\":\"{f}\",\"key\":{k},\"value\":{v}}}\n")
        };
        let ms = 1_000_000;
        let text = [
            ev(0, 0, "invoke", "write", 1, "8"),
            ev(5 * ms, 0, "ok", "write", 1, "8"),
            ev(6 * ms, 1, "invoke", "read", 1, "null"),
            ev(7 * ms, 1, "ok", "cache-fill", 1, "3"),
            ev(8 * ms, 1, "ok", "read", 1, "3"),
            ev(9 * ms, 0, "invoke", "read", 2, "null"),
            ev(10 * ms, 0, "ok", "read", 2, "2"),
            ev(500 * ms, 2, "invoke", "write", 1, "9"),
        ]
        .concat();
        std::fs::write(&p, text).unwrap();
        let a = Anomaly {
            kind: "stale_reads".into(),
            key: 1,
            events: vec![1, 2, 4],
            start_ns: 5 * ms,
            end_ns: 8 * ms,
            explanation: String::new(),
        };
        let s = scan(&p, 2 * ms, &[a]).unwrap();
        let w = &s.windows[0];
        assert_eq!(w.ops.len(), 2, "{:?}", w.ops);
        assert_eq!(w.ops[1].value, Some(3));
        assert_eq!(w.ops[1].end_idx, Some(4));
        assert_eq!(w.steps.len(), 1);
        assert_eq!(s.reads.iter().map(|b| b.count).sum::<u64>(), 2);
        assert_eq!(s.writes.iter().map(|b| b.count).sum::<u64>(), 1);
    }
}
