//! Cache write strategies: one module each, behind one trait, registered in [`REGISTRY`].
//!
//! Every strategy serves the same two client operations on the register, `read(key)` and
//! `write(key, value)`, using the client's per-role connections. The read path of a cache
//! strategy is cache-aside ([`cache_aside_read`]) unless the strategy says otherwise.
//!
//! Adding a strategy: a new file with a `pub const REG: Registration`, one line in
//! [`REGISTRY`]. Nothing else changes.
//!
//! Besides one module per strategy, helpers they share: [`cache`] (plain cache operations, the
//! cache-aside read, step tracing), [`cache_component`] (read-/write-through),
//! [`retry_queue`] (delete-retry's memory and outbox queues), [`rockscache`] (tag-deleted's
//! Redis entry), [`singleflight`], [`workers`] (background tasks that can be killed and
//! awaited, worker process ids), [`pool`] (connections for background work), [`chance`]
//! (seeded random choices). Lua scripts live in `lua/`, one file each.

pub mod binlog_delete;
pub mod cache;
pub mod cache_component;
pub mod cache_then_db;
pub mod chance;
pub mod db_only;
pub mod db_then_cache;
pub mod db_then_delete;
pub mod delete_retry;
pub mod delete_then_db;
pub mod double_delete;
pub mod lease;
pub mod pool;
pub mod read_through;
pub mod retry_queue;
pub mod rockscache;
pub mod singleflight;
pub mod tag_deleted;
pub mod versioned;
pub mod workers;
pub mod write_behind;
pub mod write_through;

use crate::client::Client;
use crate::conn::{CacheConn, RoleAddrs, StepError};
use crate::history::recorder::Recorder;
use crate::history::Source;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use cache::cache_aside_read;

/// The result of a client operation, as the history records it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// It happened, and the client learned its result.
    Ok(T),
    /// It certainly did not take effect.
    Fail(String),
    /// Unknown: it may have taken effect.
    Info(String),
}

impl<T> From<StepError> for Outcome<T> {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Fail(m) => Outcome::Fail(m),
            StepError::Info(m) => Outcome::Info(m),
        }
    }
}

impl<T> From<Result<T, StepError>> for Outcome<T> {
    fn from(r: Result<T, StepError>) -> Self {
        match r {
            Ok(v) => Outcome::Ok(v),
            Err(e) => e.into(),
        }
    }
}

/// What a read returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadValue {
    pub value: Option<i64>,
    pub source: Source,
}

/// What the cache holds for a key after quiescence, as a reader would be served it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheView {
    /// The value a reader would get (None: absent, or a marker no reader is served).
    pub value: Option<i64>,
    /// Remaining TTL in ms (-1: no TTL; None: unknown or absent).
    pub ttl_ms: Option<i64>,
}

/// What a strategy is built with.
#[derive(Clone)]
pub struct Env {
    pub rec: Recorder,
    /// Role addresses, for background workers that open their own connections.
    pub addrs: RoleAddrs,
    pub ttl_ms: u64,
    pub op_timeout: Duration,
    pub keys: u64,
    pub trace: bool,
    /// The workload's seed: strategies that make random choices seed them from it.
    pub seed: u64,
    /// Cancelled when the harness stops (Ctrl-C); workers must end promptly.
    pub shutdown: CancellationToken,
}

/// A cache write strategy.
#[async_trait]
pub trait Strategy: Send + Sync {
    /// Reads `key`.
    async fn read(&self, c: &mut Client, key: i64) -> Outcome<ReadValue>;

    /// Writes `value` to `key`.
    async fn write(&self, c: &mut Client, key: i64, value: i64) -> Outcome<()>;

    /// Starts background workers (queues, flushers, consumers) before the clients.
    async fn start(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// After the clients stopped: drain queues and stop workers (bounded in time).
    async fn quiesce(&self) {}

    /// What the cache serves for `key` (for the final state).
    async fn cache_view(&self, conn: &mut CacheConn, key: i64) -> Result<CacheView, StepError> {
        cache::plain_view(conn, key).await
    }

    /// Fault `kill-workers`: the strategy's background workers die as if the application
    /// process had been killed: in-memory queues and buffers are lost (durable ones survive).
    /// Returns false when the strategy has no workers.
    async fn kill_workers(&self) -> bool {
        false
    }

    /// Starts the workers again after [`Strategy::kill_workers`] (from durable state, if any).
    async fn restart_workers(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// Strategy-specific figures for summary.json (`extra`), e.g. retry counts.
    fn extra(&self) -> Option<serde_json::Value> {
        None
    }

    /// Invalidation lag (binlog-driven strategies): from the writer's acknowledgement to the
    /// cache delete; reported as `binlog_lag_ms` in summary.json.
    fn lag_ms(&self) -> Option<crate::checker::Percentiles> {
        None
    }
}

/// A strategy's entry in the registry.
pub struct Registration {
    pub name: &'static str,
    /// One line for `cachecheck strategies` and the README.
    pub about: &'static str,
    /// Checks the strategy's own settings (the `[strategy.NAME]` table without `expect`,
    /// `ttl_ms`).
    pub validate: fn(&toml::Table) -> Result<(), String>,
    pub build: fn(&toml::Table, &Env) -> anyhow::Result<Arc<dyn Strategy>>,
}

/// Every strategy, in the order the README lists them.
pub static REGISTRY: &[Registration] = &[
    db_only::REG,
    db_then_delete::REG,
    db_then_cache::REG,
    delete_then_db::REG,
    cache_then_db::REG,
    double_delete::REG,
    delete_retry::REG,
    binlog_delete::REG,
    read_through::REG,
    write_through::REG,
    write_behind::REG,
    lease::REG,
    versioned::REG,
    tag_deleted::REG_WEAK,
    tag_deleted::REG_STRONG,
];

/// Finds a strategy by name, or says which exist.
pub fn lookup(name: &str) -> Result<&'static Registration, String> {
    REGISTRY.iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
        format!(
            "unknown strategy `{name}` (known: {}; `cachecheck strategies` lists them)",
            names.join(", ")
        )
    })
}

/// Validates a strategy's own settings.
pub fn validate_settings(name: &str, t: &toml::Table) -> Result<(), String> {
    (lookup(name)?.validate)(t)
}

/// Parses a settings table into a strategy's settings struct (which should deny unknown
/// fields), with a one-line error naming the field.
pub fn parse_settings<T: DeserializeOwned>(t: &toml::Table) -> Result<T, String> {
    toml::Value::Table(t.clone())
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().replace('\n', " "))
}

/// Settings of a strategy that has none of its own.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// `validate` for strategies without settings.
pub fn no_settings(t: &toml::Table) -> Result<(), String> {
    parse_settings::<NoSettings>(t).map(|_| ())
}
