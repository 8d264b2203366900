//! `cachecheck bench harness WORKLOAD`: what recording the history costs the clients, and how
//! close the harness's read path comes to the raw Redis server.
//!
//! 1. The workload's first strategy runs on local servers, clients connecting directly (no
//!    fault proxy), with the history recorded: completed operations per second of the clients'
//!    run, and `ok` reads served by the cache per second.
//! 2. The same run with recording off ([`RunOptions::no_history`]): the clients do the same
//!    work; the recorder only counts.
//! 3. While the second run's servers are still up, `redis-benchmark -t get` with as many
//!    connections as the workload has clients, on loopback, against the same Redis.
//!
//! Each step is repeated `--rounds` times (default 3), alternating which of the two runs goes
//! first (on-off, off-on, ...), so that warm-up and drift fall on both alike; the medians are
//! reported (per run kind: the round with the median ops/s).
//!
//! Reported: both throughputs and their ratio (target: recording costs at most 5 %), and the
//! harness's read-hit throughput as a share of redis-benchmark's GET/s (target: at least 60 %).
//! Nothing is asserted about the figures; the exit code is 0 when every step ran, 2 otherwise.

use super::si;
use crate::config::{self, Overrides, RunConfig};
use crate::exit::EXIT_OK;
use crate::infra::{Endpoints, InfraKind};
use crate::run::{self, ClientCounts, RunOptions};
use crate::runtime::{runtime, shutdown_on_signals};
use anyhow::{bail, ensure, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of `bench harness`.
#[derive(Debug, Clone)]
pub struct HarnessBench {
    pub workload: PathBuf,
    /// Seconds per run (overrides the workload's).
    pub duration_s: Option<f64>,
    /// Requests of redis-benchmark (default 200000).
    pub requests: u64,
    /// Pairs of runs, alternating which goes first; medians are reported.
    pub rounds: u32,
    pub json: bool,
    /// Record the history compressed (history.jsonl.zst) in the recording-on runs.
    pub compress: bool,
}

/// One run's throughput.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RunFigures {
    pub ops: u64,
    pub read_hits: u64,
    pub seconds: f64,
    pub ops_per_s: f64,
    pub read_hits_per_s: f64,
}

impl From<ClientCounts> for RunFigures {
    fn from(c: ClientCounts) -> Self {
        let s = c.seconds.max(1e-9);
        RunFigures {
            ops: c.ops,
            read_hits: c.read_hits,
            seconds: c.seconds,
            ops_per_s: c.ops as f64 / s,
            read_hits_per_s: c.read_hits as f64 / s,
        }
    }
}

/// The figures, as `--json` prints them:
///
/// ```json
/// {"schema_version":1,"workload":"bench","strategy":"db-then-delete","clients":8,"rounds":3,
///  "recording_on":{"ops":120000,"read_hits":100000,"seconds":10.0,"ops_per_s":12000.0,"read_hits_per_s":10000.0},
///  "recording_off":{...},"recording_cost":0.02,
///  "redis_benchmark_get_per_s":40000.0,"read_hit_share_of_redis":0.25}
/// ```
///
/// `recording_cost` is `1 - on.ops_per_s / off.ops_per_s`; `read_hit_share_of_redis` is
/// `on.read_hits_per_s / redis_benchmark_get_per_s`.
#[derive(Debug, Clone, Serialize)]
pub struct HarnessFigures {
    pub schema_version: u32,
    pub workload: String,
    pub strategy: String,
    pub clients: u32,
    /// Pairs of runs the medians are taken over.
    pub rounds: u32,
    pub recording_on: RunFigures,
    pub recording_off: RunFigures,
    pub recording_cost: f64,
    pub redis_benchmark_get_per_s: f64,
    pub read_hit_share_of_redis: f64,
}

pub fn run(b: &HarnessBench) -> Result<u8> {
    ensure!(b.requests > 0, "--requests: must be at least 1");
    which("redis-benchmark").context(
        "redis-benchmark is not on PATH (fix: install redis-tools, e.g. apt-get install redis-tools)",
    )?;
    let out = tempfile::Builder::new()
        .prefix("cachecheck-bench-harness-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let base = RunOptions {
        out: out.path().to_path_buf(),
        quiet: true,
        ..Default::default()
    };
    let overrides = Overrides {
        compress: b.compress,
        duration_s: b.duration_s,
        infra: Some(InfraKind::Local),
        direct: Some(true),
        ..Default::default()
    };
    let mut w = config::load(&b.workload, &overrides)?;
    ensure!(
        !w.strategies.is_empty(),
        "{}: no strategy to run",
        b.workload.display()
    );
    w.strategies.truncate(1);
    ensure!(
        w.faults.is_empty(),
        "{}: a benchmark workload must not inject faults (fix: remove its [[nemesis]] entries)",
        b.workload.display()
    );
    let strategy = w.strategies[0].name.clone();
    let clients = w.clients;
    ensure!(b.rounds > 0, "--rounds: must be at least 1");
    let rt = runtime()?;
    let (mut ons, mut offs, mut gets) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..b.rounds {
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for no_history in order {
            if !no_history {
                ons.push(RunFigures::from(one_run(&rt, &w, &base, false, None)?));
                continue;
            }
            let mut redis = None;
            let off = one_run(
                &rt,
                &w,
                &base,
                true,
                Some((&mut redis, clients, b.requests)),
            )?;
            offs.push(RunFigures::from(off));
            gets.push(match redis {
                Some(Ok(x)) => x,
                Some(Err(e)) => return Err(e),
                None => bail!("redis-benchmark did not run (the run ended early)"),
            });
        }
    }
    let (on, off) = (median_run(&mut ons), median_run(&mut offs));
    gets.sort_by(f64::total_cmp);
    let get_per_s = gets[gets.len() / 2];
    let fig = HarnessFigures {
        schema_version: 1,
        workload: w.name.clone(),
        strategy,
        clients,
        rounds: b.rounds,
        recording_on: on,
        recording_off: off,
        recording_cost: 1.0 - on.ops_per_s / off.ops_per_s.max(1e-9),
        redis_benchmark_get_per_s: get_per_s,
        read_hit_share_of_redis: on.read_hits_per_s / get_per_s.max(1e-9),
    };
    if b.json {
        println!("{}", serde_json::to_string_pretty(&fig)?);
    } else {
        print!("{}", text(&fig));
    }
    Ok(EXIT_OK)
}

/// The run with the median ops/s (the upper one of an even count).
fn median_run(runs: &mut [RunFigures]) -> RunFigures {
    runs.sort_by(|a, b| a.ops_per_s.total_cmp(&b.ops_per_s));
    runs[runs.len() / 2]
}

type RedisSlot<'a> = (&'a mut Option<Result<f64>>, u32, u64);

/// One run of the workload's strategy; with `redis`, redis-benchmark runs against its Redis
/// once the strategy's run is over and the servers are still up.
fn one_run(
    rt: &tokio::runtime::Runtime,
    w: &RunConfig,
    base: &RunOptions,
    no_history: bool,
    mut redis: Option<RedisSlot<'_>>,
) -> Result<ClientCounts> {
    let opts = RunOptions {
        no_history,
        ..base.clone()
    };
    let outcome = rt.block_on(async {
        let shutdown = shutdown_on_signals();
        let mut plan = |_: &RunConfig, _: &[crate::summary::Summary], _: &Path, ep: &Endpoints| {
            if let Some((slot, clients, requests)) = redis.as_mut() {
                if slot.is_none() {
                    **slot = Some(redis_benchmark(ep, *clients, *requests));
                }
            }
            Ok(Vec::new())
        };
        run::run_planned(w, &opts, shutdown, &mut plan).await
    })?;
    ensure!(!outcome.interrupted, "interrupted");
    outcome
        .clients
        .first()
        .copied()
        .context("the run produced no figures")
}

/// GET requests per second that `redis-benchmark` measures against the run's Redis.
fn redis_benchmark(ep: &Endpoints, clients: u32, requests: u64) -> Result<f64> {
    let out = Command::new("redis-benchmark")
        .args(["-h", &ep.redis_host, "-p", &ep.redis_port.to_string()])
        .args(["-t", "get", "-c", &clients.to_string()])
        .args(["-n", &requests.to_string(), "-r", "1000", "--csv"])
        .output()
        .context("cannot run redis-benchmark")?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "redis-benchmark failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    parse_csv_get(&text).with_context(|| {
        format!(
            "cannot read redis-benchmark's output: {}",
            text.replace('\n', " ")
        )
    })
}

/// The requests/s of the `GET` row of `redis-benchmark --csv`: `"GET","98039.22",...`.
fn parse_csv_get(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with("\"GET\""))
        .and_then(|l| l.split(',').nth(1))
        .and_then(|x| x.trim_matches('"').parse().ok())
}

fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

fn text(f: &HarnessFigures) -> String {
    let row = |name: &str, r: &RunFigures| {
        format!(
            "{name:<16} {:>10} ops in {:>6.2} s = {:>9} ops/s, read hits {:>9}/s\n",
            r.ops,
            r.seconds,
            si(r.ops_per_s),
            si(r.read_hits_per_s)
        )
    };
    let mut s = format!(
        "workload {} / strategy {} / {} clients, direct connections, local servers / medians of {} round(s)\n",
        f.workload, f.strategy, f.clients, f.rounds
    );
    s.push_str(&row("recording on", &f.recording_on));
    s.push_str(&row("recording off", &f.recording_off));
    s.push_str(&format!(
        "recording cost   {:.1} %  (target <= 5 %)\n",
        f.recording_cost * 100.0
    ));
    s.push_str(&format!(
        "redis-benchmark  GET {}/s with {} connections\n",
        si(f.redis_benchmark_get_per_s),
        f.clients
    ));
    s.push_str(&format!(
        "read hits        {:.1} % of redis-benchmark's GET/s  (target >= 60 %)\n",
        f.read_hit_share_of_redis * 100.0
    ));
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_get_row_of_redis_benchmark_csv() {
        let csv = "\"test\",\"rps\",\"avg_latency_ms\"\n\"GET\",\"98039.22\",\"0.279\"\n";
        assert_eq!(super::parse_csv_get(csv), Some(98039.22));
        assert_eq!(super::parse_csv_get("nothing"), None);
    }
}
