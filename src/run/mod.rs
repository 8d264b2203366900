//! The run pipeline of `cachecheck run`, top to bottom: a validated [`RunConfig`] → the servers
//! and their fault proxies ([`servers`]) → for each strategy, four stages on freshly loaded
//! data:
//!
//! 1. [`prepare`]: the register loaded, the Redis topology put back ([`sentinel`]), the cache
//!    flushed, the strategy's directory, the
//!    recorder, the strategy built and started;
//! 2. [`drive`]: the clients and, beside them, the nemesis; it ends with every fault healed
//!    and every operation completed (as `info` if cut short), also when a client fails;
//! 3. [`collect`]: quiescence and settle, then the final state and the ground truth into the
//!    strategy's files (a server error here is a warning, never an abort);
//! 4. [`judge`]: the checker over those files, and `summary.json`;
//!
//! → the results directory (`--out`), with `latest` pointing at it.

mod collect;
mod drive;
mod judge;
mod prepare;
mod replica_lag;
pub(crate) mod replication;
mod sentinel;
mod servers;

use crate::config::{RunConfig, StrategyRun};
use crate::conn::RoleAddrs;
use crate::infra::{Endpoints, Stack};
use crate::nemesis::proxy::FaultProxy;
use crate::progress::Progress;
use crate::results::{create_run_dir, update_latest};
use crate::summary::Summary;
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub use servers::admin_conn;

/// How `cachecheck run` runs a [`RunConfig`] (what it runs is all in the config).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Where result directories go (`--out`).
    pub out: PathBuf,
    /// Only the final table: no per-strategy lines, no progress bars.
    pub quiet: bool,
    /// Do not record the history (clients do the same work; nothing is checked): for
    /// measuring what recording costs (`bench harness`).
    pub no_history: bool,
}

/// What the clients did, counted by the recorder whether or not it wrote the history.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientCounts {
    /// Completed client operations.
    pub ops: u64,
    /// `ok` reads served by the cache.
    pub read_hits: u64,
    /// From the clients' start to the last client's end.
    pub seconds: f64,
}

/// Decides which strategy runs come next once every planned one has run, from the summaries
/// so far and the run directory (`tune-delay` plans its sweep from its measurement); an empty
/// list ends the run.
/// It also sees the servers' endpoints (`bench harness` measures Redis beside the harness).
pub type Plan<'a> =
    dyn FnMut(&RunConfig, &[Summary], &Path, &Endpoints) -> Result<Vec<StrategyRun>> + 'a;

/// What a run produced.
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub summaries: Vec<Summary>,
    /// Per summary, what its clients did.
    pub clients: Vec<ClientCounts>,
    pub interrupted: bool,
}

impl RunOutcome {
    pub fn all_valid(&self) -> bool {
        !self.interrupted && self.summaries.iter().all(|s| s.valid)
    }
}

/// Runs every strategy of `cfg`; see the module doc.
pub async fn run(
    cfg: &RunConfig,
    opts: &RunOptions,
    shutdown: CancellationToken,
) -> Result<RunOutcome> {
    run_planned(cfg, opts, shutdown, &mut |_, _, _, _| Ok(Vec::new())).await
}

/// What every strategy's run shares.
struct RunCtx<'a> {
    cfg: &'a RunConfig,
    ep: &'a Endpoints,
    /// Where clients connect per role (each strategy run gets its own injected faults).
    addrs: RoleAddrs,
    proxy: Option<Arc<FaultProxy>>,
    stack: Arc<tokio::sync::Mutex<Stack>>,
    run_dir: &'a Path,
    shutdown: &'a CancellationToken,
    no_history: bool,
}

/// Runs the strategies of `cfg`, then those `plan` adds, on one set of servers.
pub async fn run_planned(
    cfg: &RunConfig,
    opts: &RunOptions,
    shutdown: CancellationToken,
    plan: &mut Plan<'_>,
) -> Result<RunOutcome> {
    servers::raise_fd_limit();
    let progress = Progress::new(opts.quiet);
    let run_dir = create_run_dir(&opts.out, &cfg.name)?;
    std::fs::write(
        run_dir.join("workload.toml"),
        crate::infra::external::without_passwords(&cfg.text, &cfg.infra),
    )?;
    let t0 = Instant::now();
    let servers = match servers::start(cfg, &run_dir, &shutdown).await {
        Ok(s) => s,
        Err(e) => {
            // Nothing ran: leave no empty run directory behind.
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e);
        }
    };
    progress.note(&format!(
        "started {} in {:.2} s",
        servers.stack.describe(),
        t0.elapsed().as_secs_f64()
    ));
    let ep = servers.stack.endpoints().clone();
    let follower = servers.follower;
    let cx = RunCtx {
        cfg,
        ep: &ep,
        addrs: servers.addrs.clone(),
        proxy: servers.proxy.clone(),
        stack: Arc::new(tokio::sync::Mutex::new(servers.stack)),
        run_dir: &run_dir,
        shutdown: &shutdown,
        no_history: opts.no_history,
    };
    let result = run_strategies(&cx, &progress, plan).await;
    if let Some(f) = follower {
        f.stop().await;
    }
    servers::stop(cx.proxy, cx.stack).await;
    let (summaries, clients) = result?.into_iter().unzip();
    update_latest(&opts.out, &run_dir);
    Ok(RunOutcome {
        run_dir,
        interrupted: shutdown.is_cancelled(),
        summaries,
        clients,
    })
}

async fn run_strategies(
    cx: &RunCtx<'_>,
    progress: &Progress,
    plan: &mut Plan<'_>,
) -> Result<Vec<(Summary, ClientCounts)>> {
    let mut out: Vec<Summary> = Vec::new();
    let mut counts = Vec::new();
    let mut queue: std::collections::VecDeque<StrategyRun> =
        cx.cfg.strategies.iter().cloned().collect();
    while !cx.shutdown.is_cancelled() {
        if queue.is_empty() {
            queue.extend(plan(cx.cfg, &out, cx.run_dir, cx.ep)?);
        }
        let Some(s) = queue.pop_front() else { break };
        let (summary, c) = run_strategy(cx, &s, progress).await?;
        out.push(summary);
        counts.push(c);
    }
    Ok(out.into_iter().zip(counts).collect())
}

/// Runs one strategy on freshly loaded data and writes its directory: the four stages.
async fn run_strategy(
    cx: &RunCtx<'_>,
    s: &StrategyRun,
    progress: &Progress,
) -> Result<(Summary, ClientCounts)> {
    let prepared = prepare::prepare(cx, s).await?;
    let driven = drive::drive(cx, &prepared, s, progress).await?;
    prepared.strategy.ensure_alive().await?;
    let collected = collect::collect(cx, &prepared).await?;
    let summary = judge::judge(cx, s, &prepared, &driven, collected)?;
    driven.bar.finish(&summary);
    Ok((summary, driven.counts))
}
