//! Replication lag while the clients run (summary.json `replica_lag_ms`): every 10 ms the
//! primary's `@@gtid_binlog_pos` and each replica's `@@gtid_slave_pos` are read; a primary
//! sequence number is stamped with the time it was first seen (its commit time, to the sampling
//! interval), and a replica's lag at a sample is the age of the oldest commit it has not applied
//! (0 when it has applied everything the primary had).

use crate::checker::Percentiles;
use crate::infra::replicas::seq_no;
use crate::infra::DbEndpoint;
use mysql_async::prelude::Queryable;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The running sampler; [`LagSampler::finish`] ends it and gives the figures.
pub struct LagSampler {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Vec<f64>>,
}

impl LagSampler {
    /// Starts sampling; None without replicas.
    pub fn start(primary: &DbEndpoint, replicas: Vec<DbEndpoint>) -> Option<LagSampler> {
        if replicas.is_empty() {
            return None;
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample(primary.clone(), replicas, stop.clone()));
        Some(LagSampler { stop, task })
    }

    pub async fn finish(self) -> Percentiles {
        self.stop.cancel();
        let samples = self.task.await.unwrap_or_default();
        percentiles(samples)
    }
}

async fn pos(c: &mut Option<mysql_async::Conn>, ep: &DbEndpoint, sql: &str) -> Option<u64> {
    if c.is_none() {
        *c = tokio::time::timeout(
            Duration::from_secs(1),
            mysql_async::Conn::new(ep.opts(false)),
        )
        .await
        .ok()?
        .ok();
    }
    let conn = c.as_mut()?;
    match tokio::time::timeout(Duration::from_secs(1), conn.query_first::<String, _>(sql)).await {
        Ok(Ok(v)) => Some(seq_no(&v.unwrap_or_default())),
        _ => {
            *c = None;
            None
        }
    }
}

async fn sample(
    primary: DbEndpoint,
    replicas: Vec<DbEndpoint>,
    stop: CancellationToken,
) -> Vec<f64> {
    let t0 = Instant::now();
    let mut pc = None;
    let mut rc: Vec<Option<mysql_async::Conn>> = replicas.iter().map(|_| None).collect();
    // Sequence number -> when the primary was first seen at or past it (ms since t0).
    let mut seen: BTreeMap<u64, f64> = BTreeMap::new();
    let mut last_p = None;
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => break,
        }
        let Some(p) = pos(&mut pc, &primary, "SELECT @@gtid_binlog_pos").await else {
            continue;
        };
        let now = t0.elapsed().as_secs_f64() * 1000.0;
        match last_p {
            // The first sample: what the primary had before is taken as committed long ago.
            None => {}
            Some(lp) if p > lp => {
                seen.insert(lp + 1, now);
            }
            _ => {}
        }
        last_p = Some(last_p.map_or(p, |lp: u64| lp.max(p)));
        let mut min_applied = u64::MAX;
        for (ep, c) in replicas.iter().zip(rc.iter_mut()) {
            let Some(r) = pos(c, ep, "SELECT @@gtid_slave_pos").await else {
                continue;
            };
            min_applied = min_applied.min(r);
            let lag = if r >= p {
                0.0
            } else {
                // The oldest commit not applied: the first stamped range starting after r
                // (ranges are stamped at their first sequence number).
                match seen.range(..=r + 1).next_back() {
                    Some((_, t)) => now - t,
                    None => seen.values().next().map_or(0.0, |t| now - t),
                }
            };
            out.push(lag.max(0.0));
        }
        // Forget ranges every replica is past (keep the one containing min_applied + 1).
        if min_applied != u64::MAX {
            if let Some((&k, _)) = seen.range(..=min_applied + 1).next_back() {
                seen = seen.split_off(&k);
            }
        }
    }
    out
}

/// Exact percentiles of the samples (ms).
pub fn percentiles(mut v: Vec<f64>) -> Percentiles {
    if v.is_empty() {
        return Percentiles::default();
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| {
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        (v[i] * 10.0).round() / 10.0
    };
    Percentiles {
        count: v.len() as u64,
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        p999: at(0.999),
        max: (v[v.len() - 1] * 10.0).round() / 10.0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_of_samples() {
        let p = super::percentiles((1..=100).map(f64::from).collect());
        assert_eq!((p.count, p.p50, p.p99, p.max), (100, 50.0, 99.0, 100.0));
        assert_eq!(super::percentiles(vec![]).count, 0);
    }
}
