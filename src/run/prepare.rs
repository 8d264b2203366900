//! Stage 1 of a strategy's run: fresh data (the register loaded at version 1, an empty cache, no
//! toxics), the strategy's directory with the loaded data as a partial ground truth, the
//! recorder streaming `history.jsonl`, and the strategy built from its settings and started.

use super::{admin_conn, RunCtx};
use crate::config::StrategyRun;
use crate::conn::{CacheConn, RoleAddrs};
use crate::history::files::{write_jsonl, HISTORY_FILE, HISTORY_ZST_FILE, PARTIAL_COMMITS_FILE};
use crate::history::recorder::{Clock, HistoryWriter, Recorder};
use crate::history::Commit;
use crate::infra::Role;
use crate::injected::Injected;
use crate::register;
use crate::strategy::{Env, Strategy};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A strategy ready to be driven.
pub(super) struct Prepared {
    /// The strategy's result directory.
    pub dir: PathBuf,
    pub rec: Recorder,
    /// Owns the history file; taken when the history is finished ([`super::collect`]).
    pub writer: std::sync::Mutex<Option<HistoryWriter>>,
    pub strategy: Arc<dyn Strategy>,
    /// Where this run's clients connect, with this run's own injected faults.
    pub addrs: RoleAddrs,
    pub ttl_ms: u64,
}

pub(super) async fn prepare(cx: &RunCtx<'_>, s: &StrategyRun) -> Result<Prepared> {
    let cfg = cx.cfg;
    let ttl_ms = cfg.ttl_for(s);
    let mut admin = admin_conn(cx.ep, false).await?;
    register::reset(&mut admin, &cx.ep.db.database, cfg.keys)
        .await
        .context("cannot create the register table")?;
    let _ = admin.disconnect().await;
    // Every replica has the fresh data before a client reads it.
    super::replication::catch_up(&*cx.stack.lock().await, cx.ep).await?;
    // With Sentinel: the first primary primary again, the replicas in sync through the
    // `redis-replication` proxy, so every strategy starts on the same topology.
    let redis_url = {
        let stack = cx.stack.lock().await;
        super::sentinel::reset(&stack, cx.proxy.as_ref()).await?;
        super::sentinel::admin_url(&stack, cx.ep).await?
    };
    let mut cache_admin = CacheConn::new(&redis_url, Duration::from_secs(10))?;
    cache_admin
        .query::<()>(&redis::cmd("FLUSHDB"))
        .await
        .map_err(|e| anyhow::anyhow!("cannot flush redis: {}", e.msg()))?;
    if let Some(set) = cx.stack.lock().await.sentinel() {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        super::sentinel::wait_in_sync(set, cx.ep.redis_port, deadline).await?;
    }
    if let Some(p) = cx.proxy.clone() {
        tokio::task::spawn_blocking(move || p.reset()).await??;
    }

    let dir = cx.run_dir.join(&s.name);
    std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The loaded data, so that a run that dies can still be checked (see PARTIAL_COMMITS_FILE).
    let initial: Vec<Commit> = (0..cfg.keys as i64)
        .map(|k| Commit {
            key: k,
            version: 1,
            value: register::initial_value(k),
            initial: true,
        })
        .collect();
    write_jsonl(&dir.join(PARTIAL_COMMITS_FILE), &initial)?;
    let clock = Clock::start();
    let (rec, writer) = if cx.no_history {
        Recorder::disabled(clock)
    } else if cfg.compress {
        Recorder::to_compressed_file(&dir.join(HISTORY_ZST_FILE), clock)?
    } else {
        Recorder::to_file(&dir.join(HISTORY_FILE), clock)?
    };
    let mut addrs = RoleAddrs {
        injected: Arc::new(Injected::default()),
        wait_replicas: (s.common.wait_replicas > 0)
            .then_some((s.common.wait_replicas, s.common.wait_timeout_ms.max(1))),
        ..cx.addrs.clone()
    };
    // `cache_read_from = "replica"`: the cache reads go through the `cache-read-replica`
    // proxy (a Redis replica) instead of `cache-read`'s.
    if s.common.cache_read_from == crate::config::FillFrom::Replica {
        let replica = addrs
            .addrs
            .get(&Role::CacheReadReplica)
            .cloned()
            .context("cache_read_from = \"replica\" needs the `cache-read-replica` proxy")?;
        addrs.addrs.insert(Role::CacheRead, replica);
    }
    let env = Env {
        rec: rec.clone(),
        addrs: addrs.clone(),
        ttl_ms,
        op_timeout: cfg.op_timeout(),
        keys: cfg.keys,
        trace: cfg.trace_steps,
        seed: cfg.seed,
        shutdown: cx.shutdown.clone(),
        dir: dir.clone(),
        workload_dir: workload_dir(&cfg.path),
    };
    let strategy = s.setup.build(&env)?;
    if let Some(t) = strategy.own_table() {
        let mut admin = admin_conn(cx.ep, true).await?;
        t.install(&mut admin, cfg.keys)
            .await
            .with_context(|| format!("cannot prepare the service's table `{}`", t.name))?;
        let _ = admin.disconnect().await;
    }
    strategy.start().await?;
    Ok(Prepared {
        dir,
        rec,
        writer: std::sync::Mutex::new(Some(writer)),
        strategy,
        addrs,
        ttl_ms,
    })
}

/// The directory of the workload file (a service's `command` runs there).
fn workload_dir(path: &std::path::Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
