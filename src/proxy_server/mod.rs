//! The built-in fault proxy: a TCP proxy with Toxiproxy's REST API and toxics, for machines
//! without `toxiproxy-server`.
//!
//! Clients of Toxiproxy (the `toxiproxy_rust` crate, `toxiproxy-cli`, curl) drive it unchanged:
//! same routes, JSON and status codes as Toxiproxy 2.x (see [`api`]), and toxics with the same
//! behaviour (see [`toxics`]): `latency`, `bandwidth`, `slow_close`, `timeout`, `reset_peer`,
//! `slicer`, `limit_data` (and `noop`). Toxic changes apply to connections already open.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use cachecheck::proxy_server::ProxyServer;
//! let server = ProxyServer::bind("127.0.0.1:8474".parse()?).await?;
//! println!("API on {}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
//!
//! Layout: [`api`] (routes) -> [`collection`] (proxies by name) -> [`proxy`] (listener,
//! connections, enable/disable) -> [`toxic_collection`] (toxic chains per direction) ->
//! [`link`] (one direction of a connection) -> [`stub`] (one stage) -> [`toxics`] (one file per
//! toxic).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

pub mod api;
pub mod collection;
pub mod error;
pub mod link;
pub mod proxy;
pub mod stub;
pub mod toxic_collection;
pub mod toxics;

use collection::ProxyCollection;

/// A bound, not yet serving, fault proxy API server.
pub struct ProxyServer {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    proxies: Arc<ProxyCollection>,
}

impl ProxyServer {
    /// Binds the REST API listener (port 0 picks a free port; see [`ProxyServer::local_addr`]).
    pub async fn bind(listen: SocketAddr) -> anyhow::Result<ProxyServer> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("proxy-server: cannot listen on {listen}"))?;
        let local_addr = listener.local_addr()?;
        Ok(ProxyServer {
            listener,
            local_addr,
            proxies: Arc::default(),
        })
    }

    /// The address the REST API listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves the API until `shutdown` completes, then closes every proxy and its connections.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        use axum::serve::ListenerExt;
        let app = api::router(self.proxies.clone());
        // Small JSON answers on kept-alive connections must not wait for delayed ACKs.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        self.proxies.clear().await;
        served.context("proxy-server: serving the API failed")
    }
}

/// The line `proxy-server` prints once its API listens, followed by the address (callers that
/// asked for port 0 read the port from it).
pub const LISTENING_ON: &str = "proxy-server listening on ";

/// `cachecheck proxy-server --listen ADDR`: serves until Ctrl-C or SIGTERM.
pub fn run_cli(listen: SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = ProxyServer::bind(listen).await?;
        println!("{LISTENING_ON}{}", server.local_addr());
        server.run(shutdown_signal()).await
    })
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
