//! The async runtime of the commands that run servers, and their one shutdown signal: Ctrl-C or
//! SIGTERM cancels a token that every task selects against; a second Ctrl-C exits at once.

use crate::exit::EXIT_ERROR;
use anyhow::Result;
use tokio_util::sync::CancellationToken;

/// A multi-threaded runtime for the harness.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// A token cancelled on the first Ctrl-C or SIGTERM; a second Ctrl-C exits at once.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let first = async {
            match term.as_mut() {
                Some(s) => {
                    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = s.recv() => {} }
                }
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        first.await;
        eprintln!("cachecheck: stopping (Ctrl-C again to abort at once)");
        t.cancel();
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("cachecheck: aborted");
        std::process::exit(EXIT_ERROR as i32);
    });
    token
}
