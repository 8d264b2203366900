//! The run pipeline, top to bottom: workload → servers → per strategy (fresh data → clients →
//! quiescence → final state → ground truth → checker → summary) → results.

use crate::checker::{self, CheckOptions};
use crate::client::{run_client, Client, Stop};
use crate::conn::{CacheConn, Conns, RoleAddrs};
use crate::generator::{Generator, KeyDist, Values};
use crate::history::files::{
    write_jsonl, COMMITS_FILE, FINAL_FILE, HISTORY_FILE, HISTORY_ZST_FILE, PARTIAL_COMMITS_FILE,
};
use crate::history::recorder::{Clock, Recorder};
use crate::history::{process, EventType, FinalState};
use crate::infra::{Endpoints, InfraError, InfraKind, Role, Service, Stack};
use crate::nemesis::faults::FaultCtx;
use crate::nemesis::proxy::FaultProxy;
use crate::nemesis::Nemesis;
use crate::progress::Progress;
use crate::register;
use crate::strategy::{self, Env};
use crate::summary::{Summary, SCHEMA_VERSION};
use crate::workload::{self, StrategyRun, Workload};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What `cachecheck run` was asked to do, after argument parsing.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub workload: PathBuf,
    /// Replaces the workload's strategy list when not empty.
    pub strategies: Vec<String>,
    pub out: PathBuf,
    pub seed: Option<u64>,
    /// Per strategy, replaces `duration_s` (and clears `ops`).
    pub duration_s: Option<f64>,
    /// Replaces `clients`.
    pub clients: Option<u32>,
    pub infra: Option<InfraKind>,
    /// Docker only: leave the stack running at the end.
    pub keep: bool,
    /// External servers' URLs; any of them implies `infra = external`.
    pub db_url: Option<String>,
    pub redis_url: Option<String>,
    pub toxiproxy_url: Option<String>,
    /// Only the final table: no per-strategy lines, no progress bars.
    pub quiet: bool,
    /// Do not record the history (clients do the same work; nothing is checked): for
    /// measuring what recording costs (`bench harness`).
    pub no_history: bool,
    /// `--compress`: write history.jsonl.zst whatever the workload's `compress` says.
    pub compress: bool,
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
    dyn FnMut(&Workload, &[Summary], &Path, &Endpoints) -> Result<Vec<StrategyRun>> + 'a;

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

/// Loads the workload and applies the command line's overrides: one validated config.
pub fn resolve(opts: &RunOptions) -> Result<Workload> {
    let mut w = workload::load(&opts.workload)?;
    if let Some(seed) = opts.seed {
        w.file.seed = seed;
    }
    if let Some(d) = opts.duration_s {
        anyhow::ensure!(
            d.is_finite() && d > 0.0,
            "--duration: must be a positive number of seconds"
        );
        w.file.duration_s = d;
        w.file.ops = 0;
    }
    if let Some(c) = opts.clients {
        anyhow::ensure!(
            (1..=10_000).contains(&c),
            "--clients: must be between 1 and 10000"
        );
        w.file.clients = c;
    }
    let urls = [
        ("--db-url", &opts.db_url, &mut w.file.infra.db_url),
        ("--redis-url", &opts.redis_url, &mut w.file.infra.redis_url),
        (
            "--toxiproxy-url",
            &opts.toxiproxy_url,
            &mut w.file.infra.toxiproxy_url,
        ),
    ];
    let mut url_flag = None;
    for (flag, given, field) in urls {
        if let Some(u) = given {
            *field = Some(u.clone());
            url_flag = Some(flag);
        }
    }
    match (url_flag, opts.infra) {
        (Some(flag), Some(k)) if k != InfraKind::External => {
            anyhow::bail!("{flag}: only with --infra external (or without --infra)")
        }
        (Some(_), _) => w.file.infra.kind = InfraKind::External,
        (None, Some(k)) => w.file.infra.kind = k,
        (None, None) => {}
    }
    if url_flag.is_some() || opts.infra.is_some() {
        w.file
            .infra
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", opts.workload.display()))?;
    }
    if opts.keep {
        anyhow::ensure!(
            w.file.infra.kind == InfraKind::Docker,
            "--keep: only with --infra docker (local servers end with cachecheck; external ones are never stopped)"
        );
        w.file.infra.keep = true;
    }
    if opts.compress {
        w.file.compress = true;
    }
    if !opts.strategies.is_empty() {
        let mut seen = std::collections::HashSet::new();
        w.strategies = opts
            .strategies
            .iter()
            .filter(|s| seen.insert(s.as_str()))
            .map(|s| {
                workload::strategy_run(&w.file, s)
                    .map_err(|e| anyhow::anyhow!("--strategy {s}: {e}"))
            })
            .collect::<Result<_>>()?;
    }
    Ok(w)
}

/// Runs every strategy of the workload; see the module doc.
pub async fn run(opts: &RunOptions, shutdown: CancellationToken) -> Result<RunOutcome> {
    let w = resolve(opts)?;
    run_planned(w, opts, shutdown, &mut |_, _, _, _| Ok(Vec::new())).await
}

/// Runs the strategies of `w` (already resolved), then those `plan` adds, on one set of servers.
pub async fn run_planned(
    w: Workload,
    opts: &RunOptions,
    shutdown: CancellationToken,
    plan: &mut Plan<'_>,
) -> Result<RunOutcome> {
    raise_fd_limit();
    let progress = Progress::new(opts.quiet);
    let run_dir = create_run_dir(&opts.out, &w.file.name)?;
    std::fs::write(run_dir.join("workload.toml"), &w.text)?;
    let t0 = Instant::now();
    // Ctrl-C during start-up drops the start: what was started is removed on the way out.
    let started = tokio::select! {
        s = Stack::start(&w.file.infra, &run_dir) => s,
        _ = shutdown.cancelled() => Err(anyhow::anyhow!("interrupted while starting the servers")),
    };
    let stack = match started {
        Ok(s) => s,
        Err(e) => {
            // Nothing ran: leave no empty run directory behind.
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e);
        }
    };
    let ep = stack.endpoints().clone();
    let proxy = match setup_proxy(&stack, w.file.infra.direct).await {
        Ok(p) => p,
        Err(e) => {
            stack.stop().await;
            let _ = std::fs::remove_dir_all(&run_dir);
            return Err(e);
        }
    };
    progress.note(&format!(
        "started {} in {:.2} s",
        stack.describe(),
        t0.elapsed().as_secs_f64()
    ));
    let addrs = match &proxy {
        Some(p) => RoleAddrs {
            db: ep.db.clone(),
            addrs: p.listen.clone(),
        },
        None => RoleAddrs::direct(&ep.db, &ep.redis_host, ep.redis_port),
    };
    let ctx = RunCtx {
        w: &w,
        ep: &ep,
        addrs,
        proxy: proxy.clone(),
        stack: Arc::new(tokio::sync::Mutex::new(stack)),
        run_dir: &run_dir,
        shutdown: &shutdown,
    };
    let result = run_strategies(&ctx, &progress, plan, opts.no_history).await;
    if let Some(p) = proxy {
        let _ = tokio::task::spawn_blocking(move || {
            let _ = p.reset();
            p.delete_all()
        })
        .await;
    }
    match Arc::try_unwrap(ctx.stack) {
        Ok(m) => {
            let stack = m.into_inner();
            if let Some(note) = stack.kept() {
                eprintln!("cachecheck: {note}");
            }
            stack.stop().await
        }
        Err(_) => tracing::warn!("stack still in use at the end of the run"),
    }
    let (summaries, clients) = result?.into_iter().unzip();
    update_latest(&opts.out, &run_dir);
    Ok(RunOutcome {
        run_dir,
        interrupted: shutdown.is_cancelled(),
        summaries,
        clients,
    })
}

/// Connects to the fault proxy, if the stack has one (and the workload does not connect
/// directly), and creates one proxy per role: listening where the stack says clients can reach
/// it (a loopback port, or a container port published on 127.0.0.1), forwarding to the servers
/// as the proxy server reaches them.
async fn setup_proxy(stack: &Stack, direct: bool) -> Result<Option<Arc<FaultProxy>>> {
    let Some(api) = stack.endpoints().toxiproxy_api.clone() else {
        return Ok(None);
    };
    if direct {
        return Ok(None);
    }
    let mut spec: Vec<(Role, String, String)> = Vec::new();
    let mut client_addr = std::collections::BTreeMap::new();
    for (i, r) in Role::ALL.iter().enumerate() {
        let service = if r.is_db() {
            Service::Db
        } else {
            Service::Redis
        };
        let (listen, host) = stack.proxy_listen(i).with_context(|| {
            format!("the stack gives no address for the `{}` proxy (fix: set `direct = true` in [infra])", r.as_str())
        })?;
        let upstream = stack
            .proxy_upstream(service)
            .context("the stack gives no upstream for a proxy")?;
        spec.push((*r, listen, upstream));
        client_addr.insert(*r, (host.ip().to_string(), host.port()));
    }
    let p = tokio::task::spawn_blocking(move || -> Result<FaultProxy> {
        let mut p = FaultProxy::connect(&api).map_err(|e| {
            InfraError::Unreachable(format!(
                "{e:#} (fix: check that the fault proxy runs at {api}, or set `direct = true` in [infra])"
            ))
        })?;
        p.create(&spec, &|role, reported| {
            let (host, port) = client_addr
                .get(&role)
                .cloned()
                .context("no client address for a proxy")?;
            if port != 0 {
                return Ok((host, port));
            }
            // Asked for port 0: the port is the one the proxy server reports it bound.
            let bound: std::net::SocketAddr = reported.parse().with_context(|| {
                format!("the fault proxy reported listen address `{reported}`, not host:port")
            })?;
            anyhow::ensure!(
                bound.port() != 0,
                "the fault proxy did not report the port it bound for `{}` (fix: use Toxiproxy 2.1 or later, or the built-in proxy server)",
                role.as_str()
            );
            Ok((host, bound.port()))
        })?;
        Ok(p)
    })
    .await??;
    Ok(Some(Arc::new(p)))
}

/// What every strategy's run shares.
struct RunCtx<'a> {
    w: &'a Workload,
    ep: &'a Endpoints,
    addrs: RoleAddrs,
    proxy: Option<Arc<FaultProxy>>,
    stack: Arc<tokio::sync::Mutex<Stack>>,
    run_dir: &'a Path,
    shutdown: &'a CancellationToken,
}

async fn run_strategies(
    cx: &RunCtx<'_>,
    progress: &Progress,
    plan: &mut Plan<'_>,
    no_history: bool,
) -> Result<Vec<(Summary, ClientCounts)>> {
    let mut out: Vec<Summary> = Vec::new();
    let mut counts = Vec::new();
    let mut queue: std::collections::VecDeque<StrategyRun> =
        cx.w.strategies.iter().cloned().collect();
    while !cx.shutdown.is_cancelled() {
        if queue.is_empty() {
            queue.extend(plan(cx.w, &out, cx.run_dir, cx.ep)?);
        }
        let Some(s) = queue.pop_front() else { break };
        let (summary, c) = run_strategy(cx, &s, progress, no_history).await?;
        out.push(summary);
        counts.push(c);
    }
    Ok(out.into_iter().zip(counts).collect())
}

/// A database connection for the harness itself (never through a proxy), retried while the
/// database restarts.
async fn admin_conn(ep: &Endpoints, with_db: bool) -> Result<mysql_async::Conn> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match mysql_async::Conn::new(ep.db.opts(with_db)).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).context("cannot connect to the database")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn phase(rec: &Recorder, name: &str) {
    rec.internal(
        process::HARNESS,
        "phase",
        EventType::Info,
        None,
        None,
        Some(serde_json::json!({ "phase": name })),
    );
}

/// Runs one strategy on freshly loaded data and writes its directory.
async fn run_strategy(
    cx: &RunCtx<'_>,
    s: &StrategyRun,
    progress: &Progress,
    no_history: bool,
) -> Result<(Summary, ClientCounts)> {
    let (w, ep, shutdown) = (cx.w, cx.ep, cx.shutdown);
    let f = &w.file;
    let op_timeout = Duration::from_millis(f.op_timeout_ms);
    let ttl_ms = w.ttl_for(s);

    // Fresh data: the register loaded at version 1, an empty cache, no toxics.
    let mut admin = admin_conn(ep, false).await?;
    register::reset(&mut admin, &ep.db.database, f.keys)
        .await
        .context("cannot create the register table")?;
    let _ = admin.disconnect().await;
    let mut cache_admin = CacheConn::new(&ep.redis_url(), Duration::from_secs(10))?;
    cache_admin
        .query::<()>(&redis::cmd("FLUSHDB"))
        .await
        .map_err(|e| anyhow::anyhow!("cannot flush redis: {}", e.msg()))?;
    if let Some(p) = cx.proxy.clone() {
        tokio::task::spawn_blocking(move || p.reset()).await??;
    }
    crate::nemesis::injected::clear_delete_failure();

    let dir = cx.run_dir.join(&s.name);
    std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // The loaded data, so that a run that dies can still be checked (see PARTIAL_COMMITS_FILE).
    let initial: Vec<_> = (0..f.keys as i64)
        .map(|k| crate::history::Commit {
            key: k,
            version: 1,
            value: register::initial_value(k),
            initial: true,
        })
        .collect();
    write_jsonl(&dir.join(PARTIAL_COMMITS_FILE), &initial)?;
    let clock = Clock::start();
    let (rec, writer) = if no_history {
        Recorder::disabled(clock)
    } else if f.compress {
        Recorder::to_compressed_file(&dir.join(HISTORY_ZST_FILE), clock)?
    } else {
        Recorder::to_file(&dir.join(HISTORY_FILE), clock)?
    };
    let env = Env {
        rec: rec.clone(),
        addrs: cx.addrs.clone(),
        ttl_ms,
        op_timeout,
        keys: f.keys,
        trace: f.trace_steps,
        seed: f.seed,
        shutdown: shutdown.clone(),
    };
    let strategy = (strategy::lookup(s.base())
        .map_err(anyhow::Error::msg)?
        .build)(&s.settings, &env)?;
    strategy.start().await?;

    // Clients, and the nemesis beside them.
    let stop = Stop {
        deadline: Instant::now() + Duration::from_secs_f64(f.duration_s),
        budget: (f.ops > 0).then(|| Arc::new(AtomicI64::new(f.ops as i64))),
        cancel: shutdown.clone(),
        started: Arc::default(),
    };
    let bar = progress.strategy(&s.name, f, stop.started.clone());
    let interval = (f.rate > 0.0).then(|| Duration::from_secs_f64(f.clients as f64 / f.rate));
    let keys = KeyDist::from_workload(f);
    let values = Values::starting_at(register::first_write_value(f.keys));
    phase(&rec, "clients-start");
    let sampler = crate::resources::Sampler::start(rec.clone());
    let nemesis = Nemesis::spawn(
        &w.faults,
        FaultCtx {
            proxy: cx.proxy.clone(),
            stack: cx.stack.clone(),
            strategy: strategy.clone(),
            seed: f.seed,
        },
        rec.clone(),
    );
    let clients_start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for p in 0..f.clients as i64 {
        let conns = Conns::new(&cx.addrs, op_timeout)?;
        let client = Client::new(p, conns, rec.clone(), ttl_ms, f.trace_steps);
        let gen = Generator::new(f.seed, p, keys.clone(), f.read_fraction, values.clone());
        tasks.spawn(run_client(
            client,
            strategy.clone(),
            gen,
            stop.clone(),
            op_timeout,
            interval,
        ));
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a client task panicked")?;
    }
    let client_counts = ClientCounts {
        ops: rec.ops_done(),
        read_hits: rec.read_hits(),
        seconds: clients_start.elapsed().as_secs_f64(),
    };

    // Quiescence: writers stopped, every fault healed, queues drained; then settle.
    bar.stage("quiescence, then checking");
    phase(&rec, "quiescence");
    let harness = sampler.finish().await;
    let faults = nemesis.finish().await;
    crate::nemesis::injected::clear_delete_failure();
    strategy.quiesce().await;
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(f.settle_ms)) => {}
        _ = shutdown.cancelled() => {}
    }
    phase(&rec, "settled");

    // Final state and ground truth, read directly (never through a fault proxy).
    let mut admin = admin_conn(ep, true).await?;
    let mut cache_admin = CacheConn::new(&ep.redis_url(), Duration::from_secs(10))?;
    let db_values = register::db_values(&mut admin).await?;
    let mut finals = Vec::with_capacity(db_values.len());
    for (key, db) in db_values {
        let view = strategy
            .cache_view(&mut cache_admin, key)
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the final cache state: {}", e.msg()))?;
        finals.push(FinalState {
            key,
            db,
            cache: view.value,
            cache_ttl_ms: view.ttl_ms,
        });
    }
    let commits = register::commits(&mut admin).await?;
    let _ = admin.disconnect().await;
    writer.finish().context("cannot finish the history")?;
    write_jsonl(&dir.join(COMMITS_FILE), &commits)?;
    write_jsonl(&dir.join(FINAL_FILE), &finals)?;
    std::fs::remove_file(dir.join(PARTIAL_COMMITS_FILE))?;

    // Check, and write the summary.
    let report = if no_history {
        checker::CheckReport {
            warnings: vec!["the history was not recorded (no_history): nothing was checked".into()],
            ..Default::default()
        }
    } else {
        checker::check_dir(
            &dir,
            &CheckOptions {
                ttl_set: Some(ttl_ms > 0),
                max_examples_per_kind: 20,
            },
        )?
    };
    let mut summary = Summary {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        run_id: cx
            .run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        strategy: s.name.clone(),
        workload: f.name.clone(),
        workload_file: w.path.display().to_string(),
        seed: f.seed,
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        infra: f.infra.kind_name().into(),
        settings: settings_json(w, s, ttl_ms),
        incomplete: shutdown.is_cancelled(),
        check: report,
        faults: faults
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect(),
        extra: strategy.extra(),
        binlog_lag_ms: strategy.lag_ms(),
        harness: Some(harness),
        ..Default::default()
    };
    summary.evaluate(&s.common.expect);
    summary.write(&dir)?;
    bar.finish(&summary);
    Ok((summary, client_counts))
}

fn settings_json(w: &Workload, s: &StrategyRun, ttl_ms: u64) -> serde_json::Value {
    let f = &w.file;
    let own = serde_json::to_value(&s.settings).unwrap_or_default();
    serde_json::json!({
        "keys": f.keys,
        "distribution": f.distribution,
        "read_fraction": f.read_fraction,
        "clients": f.clients,
        "duration_s": f.duration_s,
        "ops": f.ops,
        "rate": f.rate,
        "ttl_ms": ttl_ms,
        "op_timeout_ms": f.op_timeout_ms,
        "settle_ms": f.settle_ms,
        "strategy": own,
    })
}

/// Raises the soft limit of open files to the hard limit: every client holds a connection per
/// role, so a thousand clients need thousands of descriptors.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// Creates `out/<timestamp>-<name>`, never reusing an existing directory.
fn create_run_dir(out: &Path, name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| {
        format!(
            "cannot create the output directory {} (fix: --out DIR with a writable directory)",
            out.display()
        )
    })?;
    // Fail before any server starts if the directory is not writable.
    let probe = out.join(format!(".cachecheck-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").with_context(|| {
        format!(
            "the output directory {} is not writable (fix: --out DIR with a writable directory)",
            out.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    check_free_space(out)?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    for i in 0..1000 {
        let id = if i == 0 {
            format!("{stamp}-{safe}")
        } else {
            format!("{stamp}-{safe}-{i}")
        };
        let p = out.join(id);
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", p.display())),
        }
    }
    anyhow::bail!("cannot find a free run directory name in {}", out.display())
}

/// Below this much free space in the output directory a run refuses to start: the history of a
/// busy strategy grows by a few MB/s, and a full disk mid-run would end in a torn history.
/// `CACHECHECK_MIN_FREE_MB` overrides it.
const MIN_FREE_MB: u64 = 256;

fn check_free_space(out: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let need = std::env::var("CACHECHECK_MIN_FREE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MIN_FREE_MB);
    let path = std::ffi::CString::new(out.as_os_str().as_bytes())?;
    // SAFETY: statvfs fills the struct it is given; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Ok(()); // no figure: let the writes say what is wrong
    }
    let free_mb = (st.f_bavail as u64).saturating_mul(st.f_frsize as u64) / (1024 * 1024);
    anyhow::ensure!(
        free_mb >= need,
        "only {free_mb} MB free in the output directory {} (fix: free some space, or --out DIR on a disk with at least {need} MB free)",
        out.display()
    );
    Ok(())
}

/// Points `out/latest` at the newest run (best effort).
fn update_latest(out: &Path, run_dir: &Path) {
    let link = out.join("latest");
    let target = run_dir.file_name().map(PathBuf::from).unwrap_or_default();
    let tmp = out.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::os::unix::fs::symlink(&target, &tmp).is_ok() {
        let _ = std::fs::rename(&tmp, &link);
    }
}
