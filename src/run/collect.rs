//! Stage 3 of a strategy's run: quiescence (the strategy drains its queues and stops its
//! workers), the settle time, then the final state (the database's value and what the cache
//! serves, per key) and the ground truth (the database's commit log), read directly, never
//! through a fault proxy, into `final.jsonl` and `commits.jsonl`.
//!
//! A server error here does not abort the run: it becomes a warning in the summary. Without a
//! final state, divergence is unknown; without the commit log, the checker rebuilds the ground
//! truth from the loaded data and the history's `db-commit` events (and says so).

use super::drive::phase;
use super::prepare::Prepared;
use super::{admin_conn, RunCtx};
use crate::conn::CacheConn;
use crate::history::files::{write_jsonl, COMMITS_FILE, FINAL_FILE, PARTIAL_COMMITS_FILE};
use crate::history::{Commit, FinalState};
use crate::register;
use anyhow::{Context, Result};
use std::time::Duration;

/// What collecting produced besides the files.
pub(super) struct Collected {
    /// Server errors met while collecting, for the summary's warnings.
    pub warnings: Vec<String>,
}

pub(super) async fn collect(cx: &RunCtx<'_>, p: &Prepared) -> Result<Collected> {
    p.strategy.quiesce().await;
    tokio::select! {
        _ = tokio::time::sleep(cx.cfg.settle()) => {}
        _ = cx.shutdown.cancelled() => {}
    }
    phase(&p.rec, "settled");
    let finals = final_state(cx, p).await;
    let commits = commit_log(cx).await;
    if let Some(w) = p.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
        w.finish().context("cannot finish the history")?;
    }
    let mut warnings = Vec::new();
    match finals {
        Ok(f) => write_jsonl(&p.dir.join(FINAL_FILE), &f)?,
        Err(e) => warnings.push(format!(
            "cannot read the final state after quiescence ({}): divergence is unknown",
            one_line(&e)
        )),
    }
    match commits {
        Ok(c) => {
            write_jsonl(&p.dir.join(COMMITS_FILE), &c)?;
            std::fs::remove_file(p.dir.join(PARTIAL_COMMITS_FILE))?;
        }
        Err(e) => warnings.push(format!(
            "cannot read the database's commit log ({})",
            one_line(&e)
        )),
    }
    Ok(Collected { warnings })
}

/// Per key: the database's value and what the cache serves.
async fn final_state(cx: &RunCtx<'_>, p: &Prepared) -> Result<Vec<FinalState>> {
    let mut admin = admin_conn(cx.ep, true).await?;
    let db_values = match p.strategy.own_table() {
        Some(t) => {
            let values = t.db_values(&mut admin, cx.cfg.keys).await;
            // The logging trigger goes with the strategy's run (the log is complete: settled).
            if let Err(e) = t.remove(&mut admin).await {
                eprintln!(
                    "cachecheck: warning: cannot remove the trigger on `{}`: {e}",
                    t.name
                );
            }
            values
        }
        None => register::db_values(&mut admin).await,
    };
    let _ = admin.disconnect().await;
    // The current primary (with Sentinel, a failover may have moved it).
    let url = super::sentinel::admin_url(&*cx.stack.lock().await, cx.ep).await?;
    let mut cache = CacheConn::new(&url, Duration::from_secs(10))?;
    let mut finals = Vec::new();
    for (key, db) in db_values? {
        let view = p
            .strategy
            .cache_view(&mut cache, key)
            .await
            .map_err(|e| anyhow::anyhow!("the cache of key {key}: {}", e.msg()))?;
        finals.push(FinalState {
            key,
            db,
            cache: view.value,
            cache_ttl_ms: view.ttl_ms,
        });
    }
    Ok(finals)
}

/// The database's commit log: every committed write, in version order per key.
async fn commit_log(cx: &RunCtx<'_>) -> Result<Vec<Commit>> {
    let mut admin = admin_conn(cx.ep, true).await?;
    let commits = register::commits(&mut admin).await;
    let _ = admin.disconnect().await;
    Ok(commits?)
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}
