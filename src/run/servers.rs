//! The servers of a run and their fault proxies: started before the first strategy (one
//! Ctrl-C during start-up removes what was started), one proxy per role created through the
//! fault proxy's REST API, and everything removed (or kept, with `--keep`) at the end.

use crate::config::RunConfig;
use crate::conn::RoleAddrs;
use crate::infra::{Endpoints, InfraError, Role, Service, Stack};
use crate::nemesis::proxy::FaultProxy;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The started servers, the proxies in front of them, and where clients connect per role.
pub(super) struct Servers {
    pub stack: Stack,
    pub proxy: Option<Arc<FaultProxy>>,
    pub addrs: RoleAddrs,
    /// With Redis Sentinel: the task pointing the Redis proxies at the current primary.
    pub follower: Option<crate::run::sentinel::Follower>,
}

/// Starts the stack of `cfg.infra` and its per-role proxies. Docker writes its compose file
/// into `run_dir`.
pub(super) async fn start(
    cfg: &RunConfig,
    run_dir: &Path,
    shutdown: &CancellationToken,
) -> Result<Servers> {
    // Ctrl-C during start-up drops the start: what was started is removed on the way out.
    let stack = tokio::select! {
        s = Stack::start(&cfg.infra, run_dir) => s?,
        _ = shutdown.cancelled() => anyhow::bail!("interrupted while starting the servers"),
    };
    let proxy = match setup_proxy(&stack, cfg.infra.direct).await {
        Ok(p) => p,
        Err(e) => {
            stack.stop().await;
            return Err(e);
        }
    };
    let ep = stack.endpoints();
    let mut addrs = match &proxy {
        Some(p) => RoleAddrs {
            db: ep.db.clone(),
            addrs: p.listen.clone(),
            injected: Arc::default(),
            replicas: Vec::new(),
            replica_logins: Vec::new(),
            redis_access: ep.redis_access.clone(),
            wait_replicas: None,
        },
        None => RoleAddrs::direct(&ep.db, &ep.redis_host, ep.redis_port)
            .with_redis_access(ep.redis_access.clone()),
    };
    let connected = match crate::run::replication::connect(&stack, &mut addrs).await {
        Ok(()) => crate::run::sentinel::reset(&stack, proxy.as_ref()).await,
        e => e,
    };
    if let Err(e) = connected {
        if let Some(p) = proxy.clone() {
            let _ = tokio::task::spawn_blocking(move || p.delete_all()).await;
        }
        stack.stop().await;
        return Err(e);
    }
    let follower = crate::run::sentinel::Follower::start(&stack, proxy.as_ref());
    Ok(Servers {
        stack,
        proxy,
        addrs,
        follower,
    })
}

/// Removes the proxies and stops the stack (a kept Docker stack says how to reach it).
pub(super) async fn stop(proxy: Option<Arc<FaultProxy>>, stack: Arc<tokio::sync::Mutex<Stack>>) {
    if let Some(p) = proxy {
        let _ = tokio::task::spawn_blocking(move || {
            let _ = p.reset();
            p.delete_all()
        })
        .await;
    }
    match Arc::try_unwrap(stack) {
        Ok(m) => {
            let stack = m.into_inner();
            if let Some(note) = stack.kept() {
                eprintln!("cachecheck: {note}");
            }
            stack.stop().await
        }
        Err(_) => tracing::warn!("stack still in use at the end of the run"),
    }
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
    let mut replica_roles = crate::run::replication::proxy_roles(stack);
    replica_roles.extend(crate::run::sentinel::proxy_roles(stack));
    for (i, r) in Role::ALL.iter().chain(&replica_roles).enumerate() {
        let service = if r.is_db() {
            Service::Db
        } else {
            Service::Redis
        };
        let (listen, host) = stack.proxy_listen(i).with_context(|| {
            format!("the stack gives no address for the `{}` proxy (fix: set `direct = true` in [infra])", r.as_str())
        })?;
        let upstream = match crate::run::replication::upstream(stack, *r)
            .or_else(|| crate::run::sentinel::upstream(stack, *r))
        {
            Some(u) => u,
            None => stack
                .proxy_upstream(service)
                .context("the stack gives no upstream for a proxy")?,
        };
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

/// A database connection for the harness itself (never through a proxy), retried while the
/// database restarts.
pub async fn admin_conn(ep: &Endpoints, with_db: bool) -> Result<mysql_async::Conn> {
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

/// Raises the soft limit of open files to the hard limit: every client holds a connection per
/// role, so a thousand clients need thousands of descriptors.
pub(super) fn raise_fd_limit() {
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
