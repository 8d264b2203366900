//! Stage 2 of a strategy's run: the clients, one task each, and beside them the nemesis and the
//! resource sampler. It ends with every fault healed — the nemesis is finished on every path,
//! also when a client task fails — and every operation completed: the driver completes an
//! operation cut short as `info` ([`crate::driver`]).

use super::prepare::Prepared;
use super::{ClientCounts, RunCtx};
use crate::config::{FillFrom, StrategyRun};
use crate::conn::Conns;
use crate::driver::{run_client, Stop};
use crate::generator::{Generator, KeyDist, Values};
use crate::history::recorder::Recorder;
use crate::history::{process, EventType};
use crate::nemesis::fault::FaultCtx;
use crate::nemesis::{FaultRecord, Nemesis};
use crate::progress::{Progress, StrategyBar};
use crate::register;
use crate::resources::{HarnessResources, Sampler};
use crate::session::Session;
use anyhow::{Context, Result};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What driving produced.
pub(super) struct Driven {
    pub counts: ClientCounts,
    pub harness: HarnessResources,
    /// Every fault interval, healed.
    pub faults: Vec<FaultRecord>,
    pub bar: StrategyBar,
    /// With read replicas: their lag while the clients ran.
    pub replica_lag: Option<crate::checker::Percentiles>,
    /// With read replicas: whether each holds the primary's commits after catching up.
    pub replicas: Option<serde_json::Value>,
}

pub(super) async fn drive(
    cx: &RunCtx<'_>,
    p: &Prepared,
    s: &StrategyRun,
    progress: &Progress,
) -> Result<Driven> {
    let cfg = cx.cfg;
    let op_timeout = cfg.op_timeout();
    let stop = Stop {
        deadline: Instant::now() + Duration::from_secs_f64(cfg.duration_s),
        budget: (cfg.ops > 0).then(|| Arc::new(AtomicI64::new(cfg.ops as i64))),
        cancel: cx.shutdown.clone(),
        started: Arc::default(),
    };
    let interval = (cfg.rate > 0.0).then(|| Duration::from_secs_f64(cfg.clients as f64 / cfg.rate));
    let keys = KeyDist::from_config(cfg);
    let values = Values::starting_at(register::first_write_value(cfg.keys));
    // Every client's connections before anything runs: nothing below can fail half-way.
    let clients = (0..cfg.clients as i64)
        .map(|i| {
            let conns = Conns::new(&p.addrs, op_timeout)?;
            let replica = p.addrs.replica_opts(super::replication::pick(
                cfg.seed,
                i,
                p.addrs.replicas.len(),
            ));
            let session = Session::new(i, conns, p.rec.clone(), p.ttl_ms, cfg.trace_steps)
                .with_replica(
                    replica
                        .filter(|_| s.common.fill_from == FillFrom::Replica)
                        .map(|o| crate::conn::DbConn::new(o, op_timeout)),
                );
            let gen = Generator::new(cfg.seed, i, keys.clone(), cfg.read_fraction, values.clone());
            Ok((session, gen))
        })
        .collect::<Result<Vec<_>>>()?;

    let bar = progress.strategy(&s.name, cfg, stop.started.clone());
    phase(&p.rec, "clients-start");
    let sampler = Sampler::start(p.rec.clone());
    let replicas = cx.stack.lock().await.replica_endpoints();
    let lag_sampler = super::replica_lag::LagSampler::start(&cx.ep.db, replicas);
    let nemesis = Nemesis::spawn(
        &cfg.faults,
        FaultCtx {
            proxy: cx.proxy.clone(),
            stack: cx.stack.clone(),
            strategy: p.strategy.clone(),
            injected: p.addrs.injected.clone(),
            seed: cfg.seed,
        },
        p.rec.clone(),
    );
    let clients_start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (session, gen) in clients {
        let strategy = p.strategy.clone();
        tasks.spawn(run_client(
            session,
            strategy,
            gen,
            stop.clone(),
            op_timeout,
            interval,
        ));
    }
    let mut failed = None;
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            failed.get_or_insert(e);
        }
    }
    let counts = ClientCounts {
        ops: p.rec.ops_done(),
        read_hits: p.rec.read_hits(),
        seconds: clients_start.elapsed().as_secs_f64(),
    };

    // Quiescence begins: writers stopped; every fault healed whatever happened above.
    bar.stage("quiescence, then checking");
    phase(&p.rec, "quiescence");
    let harness = sampler.finish().await;
    let faults = nemesis.finish().await;
    let replica_lag = match lag_sampler {
        Some(l) => Some(l.finish().await),
        None => None,
    };
    // Every replica caught up, so the final state is judged on a converged database.
    let replicas = {
        let stack = cx.stack.lock().await;
        if stack.replica_endpoints().is_empty() {
            None
        } else {
            if let Err(e) = super::replication::catch_up(&stack, cx.ep).await {
                tracing::warn!("at quiescence: {e:#}");
                eprintln!("cachecheck: warning: at quiescence: {e:#}");
            }
            Some(super::replication::compare(&stack, cx.ep).await)
        }
    };
    if let Some(e) = failed {
        return Err(e).context("a client task panicked");
    }
    Ok(Driven {
        counts,
        harness,
        faults,
        bar,
        replica_lag,
        replicas,
    })
}

/// Records a phase of the run in the history (`process: -2`, `f: "phase"`).
pub(super) fn phase(rec: &Recorder, name: &str) {
    rec.internal(
        process::HARNESS,
        "phase",
        EventType::Info,
        None,
        None,
        Some(serde_json::json!({ "phase": name })),
    );
}
