//! What a fault is: a configured kind ([`FaultKind`], one file each under [`kinds`](super::kinds),
//! registered by name), and the fault of one interval ([`Fault`]: start, then heal) acting on
//! what [`FaultCtx`] gives it.

use super::proxy::FaultProxy;
use crate::infra::Stack;
use crate::strategy::Strategy;
use anyhow::{Context, Result};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::sync::Arc;

/// What a fault acts on.
#[derive(Clone)]
pub struct FaultCtx {
    pub proxy: Option<Arc<FaultProxy>>,
    pub stack: Arc<tokio::sync::Mutex<Stack>>,
    pub strategy: Arc<dyn Strategy>,
    /// The run's injected application faults (`delete-failure` with `mode = "error"`).
    pub injected: Arc<crate::injected::Injected>,
    pub seed: u64,
}

impl FaultCtx {
    /// The fault proxy, or an error saying the workload connects directly.
    pub fn proxy(&self) -> Result<Arc<FaultProxy>> {
        self.proxy.clone().context(
            "this fault needs the fault proxy, but the workload connects directly (fix: remove `direct = true` from [infra])",
        )
    }
}

/// Runs a blocking proxy call off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("fault proxy call panicked")?
}

/// The fault of one interval.
#[async_trait]
pub trait Fault: Send + Sync {
    /// Applies the fault; returns what exactly was applied (for the history).
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value>;
    /// Heals it. Must be idempotent.
    async fn heal(&self, cx: &FaultCtx) -> Result<()>;
    /// What it targets (a role or a service), for reports.
    fn target(&self) -> String;
}

/// A configured fault kind: the fields of its `[[nemesis]]` entry (a struct that denies
/// unknown fields; units in the field names), checked once when the workload is loaded.
pub trait FaultKind:
    Send + Sync + std::fmt::Debug + Serialize + DeserializeOwned + 'static
{
    /// Checks what serde cannot (ranges, combinations).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
    /// Whether it needs the fault proxy.
    fn needs_proxy(&self) -> bool {
        false
    }
    /// The fault of one interval; `name` is unique per interval (toxic names).
    fn instance(&self, name: String) -> Box<dyn Fault>;
}

/// A configured fault kind, as the nemesis holds it.
pub trait Configured: Send + Sync + std::fmt::Debug {
    fn needs_proxy(&self) -> bool;
    /// The entry's fields as configured, defaults filled in (without `fault`).
    fn fields(&self) -> serde_json::Value;
    fn instance(&self, name: String) -> Box<dyn Fault>;
}

impl<T: FaultKind> Configured for T {
    fn needs_proxy(&self) -> bool {
        FaultKind::needs_proxy(self)
    }
    fn fields(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn instance(&self, name: String) -> Box<dyn Fault> {
        FaultKind::instance(self, name)
    }
}

/// A fault kind's entry in the registry ([`super::kinds::KINDS`]).
pub struct Kind {
    /// `fault = "<name>"` in a `[[nemesis]]` entry.
    pub name: &'static str,
    /// Parses and checks the entry's fields (the entry without `fault` and the schedule).
    pub parse: fn(toml::Table) -> Result<Arc<dyn Configured>, String>,
}

/// `parse` of a kind whose fields are the struct `T`.
pub fn parse<T: FaultKind>(t: toml::Table) -> Result<Arc<dyn Configured>, String> {
    let k: T = toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| e.message().trim().replace('\n', " "))?;
    k.check()?;
    Ok(Arc::new(k))
}
