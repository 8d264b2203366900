//! Cache write strategies: one module each, behind one trait, registered in [`REGISTRY`].
//!
//! Every strategy serves the same two client operations on the register, `read(key)` and
//! `write(key, value)`, with the client's [`Session`] (its per-role connections). The read path
//! of a cache strategy is cache-aside ([`cache_aside_read`]) unless the strategy says otherwise.
//! An operation's result is an [`Outcome`]: `Ok`, or a [`StepError`] saying `fail` (certainly
//! not applied) or `info` (unknown).
//!
//! A strategy's settings are parsed and validated once, before any server starts
//! ([`Registration::configure`] gives a [`Setup`]), and the strategy is built from them when
//! its turn comes ([`Setup::build`]).
//!
//! Adding a strategy: a new file with a `pub const REG: Registration`, one line in
//! [`REGISTRY`]. Nothing else changes.
//!
//! Besides one module per strategy, helpers they share: [`aside`] (the cache-aside read; the
//! Redis primitives are [`crate::cache`]), [`cache_component`] (read-/write-through),
//! [`retry_queue`] (delete-retry's memory and outbox queues), [`rockscache`] (tag-deleted's
//! Redis entry), [`singleflight`], [`workers`] (background tasks that can be killed and
//! awaited, worker process ids), [`pool`] (connections for background work), [`chance`]
//! (seeded random choices). Lua scripts live in `lua/`, one file each.

pub mod aside;
pub mod binlog_delete;
pub mod cache_component;
pub mod cache_then_db;
pub mod chance;
pub mod db_only;
pub mod db_then_cache;
pub mod db_then_delete;
pub mod delete_retry;
pub mod delete_then_db;
pub mod double_delete;
pub mod gtid_wait;
pub mod lease;
pub mod pool;
pub mod read_through;
pub mod remote_marker;
pub mod retry_queue;
pub mod rockscache;
pub mod service;
pub mod singleflight;
pub mod tag_deleted;
pub mod versioned;
pub mod workers;
pub mod write_behind;
pub mod write_through;

use crate::cache::{self, CacheView};
use crate::conn::{CacheConn, RoleAddrs, StepError};
use crate::history::recorder::Recorder;
use crate::history::Source;
use crate::session::Session;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub use aside::cache_aside_read;

/// The result of a client operation, as the history records it: `Ok` (it happened, and the
/// client learned its result), or `Err` with `fail` (it certainly did not take effect) or
/// `info` (unknown: it may have taken effect).
pub type Outcome<T> = Result<T, StepError>;

/// What a read returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadValue {
    pub value: Option<i64>,
    pub source: Source,
}

/// What a strategy is built with.
#[derive(Clone)]
pub struct Env {
    pub rec: Recorder,
    /// Role addresses, for background workers that open their own connections; they carry the
    /// run's injected faults ([`crate::injected`]).
    pub addrs: RoleAddrs,
    pub ttl_ms: u64,
    pub op_timeout: Duration,
    pub keys: u64,
    pub trace: bool,
    /// The workload's seed: strategies that make random choices seed them from it.
    pub seed: u64,
    /// Cancelled when the harness stops (Ctrl-C); workers must end promptly.
    pub shutdown: CancellationToken,
    /// The strategy's result directory (a started service's log goes there).
    pub dir: std::path::PathBuf,
    /// The workload file's directory (a service's `command` runs there).
    pub workload_dir: std::path::PathBuf,
}

/// What faults `kill` and `pause` with `service = "app"` do to a started service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppFault {
    Kill,
    Restart,
    Pause,
    Resume,
}

/// A cache write strategy.
#[async_trait]
pub trait Strategy: Send + Sync {
    /// Reads `key`.
    async fn read(&self, c: &mut Session, key: i64) -> Outcome<ReadValue>;

    /// Writes `value` to `key`.
    async fn write(&self, c: &mut Session, key: i64, value: i64) -> Outcome<()>;

    /// Starts background workers (queues, flushers, consumers) before the clients.
    async fn start(&self) -> anyhow::Result<()> {
        Ok(())
    }

    /// After the clients stopped: drain queues and stop workers (bounded in time).
    async fn quiesce(&self) {}

    /// After the clients stopped: an error when the application the strategy drives was lost
    /// during the run (strategy `service`: its process exited outside a `kill` fault, or did
    /// not come back after one). A run without its application measured nothing: exit 2.
    async fn ensure_alive(&self) -> anyhow::Result<()> {
        Ok(())
    }

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

    /// Faults on the application process (`service = "app"`): only strategy `service` with a
    /// started service has one.
    async fn app_fault(&self, f: AppFault) -> anyhow::Result<()> {
        let _ = f;
        anyhow::bail!("`service = \"app\"` needs strategy `service` with `command` (fix: remove the fault or run a service)")
    }

    /// The table the strategy writes instead of the register (strategy `service` with
    /// `table`): loaded, logged and read by the pipeline ([`crate::register::OwnTable`]).
    fn own_table(&self) -> Option<crate::register::OwnTable> {
        None
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
    /// Parses and validates the strategy's own settings (the `[strategy.NAME]` table without
    /// the settings every strategy accepts): once, before any server starts.
    pub configure: fn(&toml::Table) -> Result<Arc<dyn Setup>, String>,
}

/// A strategy's validated settings: builds the strategy when its turn comes.
pub trait Setup: Send + Sync {
    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>>;
}

/// Typed settings of a strategy (a struct that denies unknown fields, its defaults in the
/// strategy's module doc).
pub trait Settings: DeserializeOwned + Send + Sync + 'static {
    /// Checks what serde cannot (ranges, combinations), naming the field.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// Builds the strategy.
    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>>;
}

impl<T: Settings> Setup for T {
    fn build(&self, env: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Settings::build(self, env)
    }
}

/// `configure` of a strategy with typed settings `T`.
pub fn typed<T: Settings>(t: &toml::Table) -> Result<Arc<dyn Setup>, String> {
    let s: T = parse_settings(t)?;
    s.check()?;
    Ok(Arc::new(s))
}

/// `configure` of a strategy without settings of its own: it refuses any, and builds
/// `S::default()`.
pub fn plain<S: Strategy + Default + 'static>(t: &toml::Table) -> Result<Arc<dyn Setup>, String> {
    parse_settings::<NoSettings>(t)?;
    Ok(Arc::new(Plain::<S>(PhantomData)))
}

struct Plain<S>(PhantomData<fn() -> S>);

impl<S: Strategy + Default + 'static> Setup for Plain<S> {
    fn build(&self, _: &Env) -> anyhow::Result<Arc<dyn Strategy>> {
        Ok(Arc::new(S::default()))
    }
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
    service::REG,
    gtid_wait::REG,
    remote_marker::REG,
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

/// Parses and validates a strategy's own settings.
pub fn configure(name: &str, t: &toml::Table) -> Result<Arc<dyn Setup>, String> {
    (lookup(name)?.configure)(t)
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
