//! Applying and healing each fault kind. One implementation of [`Fault`] per kind of action:
//! a toxic on a role, a partition of a role, a server kill or pause, the strategy's workers,
//! an injected application error.

use super::injected;
use super::proxy::{FaultProxy, Toxic};
use super::spec::{DeleteFailureMode, FaultKind, Stream};
use crate::infra::{Role, Stack};
use crate::strategy::Strategy;
use anyhow::{Context, Result};
use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;

/// What a fault acts on.
#[derive(Clone)]
pub struct FaultCtx {
    pub proxy: Option<Arc<FaultProxy>>,
    pub stack: Arc<tokio::sync::Mutex<Stack>>,
    pub strategy: Arc<dyn Strategy>,
    pub seed: u64,
}

impl FaultCtx {
    fn proxy(&self) -> Result<Arc<FaultProxy>> {
        self.proxy.clone().context(
            "this fault needs the fault proxy, but the workload connects directly (fix: remove `direct = true` from [infra])",
        )
    }
}

/// Runs a blocking proxy call off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("fault proxy call panicked")?
}

/// One fault instance.
#[async_trait]
pub trait Fault: Send + Sync {
    /// Applies the fault; returns what exactly was applied (for the history).
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value>;
    /// Heals it. Must be idempotent.
    async fn heal(&self, cx: &FaultCtx) -> Result<()>;
    /// What it targets (a role or a service), for reports.
    fn target(&self) -> String;
}

/// Builds the fault for `kind`; `name` is unique per fault instance (toxic names).
pub fn build(kind: &FaultKind, name: String) -> Box<dyn Fault> {
    let toxic =
        |role: Role, kind: &str, stream: Stream, toxicity: f64, attrs: serde_json::Value| {
            Box::new(ToxicFault {
                role,
                toxic: Toxic {
                    name: name.clone(),
                    kind: kind.to_string(),
                    stream: stream.as_str().to_string(),
                    toxicity,
                    attributes: attrs.as_object().cloned().unwrap_or_default(),
                },
            }) as Box<dyn Fault>
        };
    match kind.clone() {
        FaultKind::Latency {
            role,
            latency_ms,
            jitter_ms,
            stream,
            toxicity,
        } => toxic(
            role,
            "latency",
            stream,
            toxicity,
            json!({"latency": latency_ms, "jitter": jitter_ms}),
        ),
        FaultKind::Timeout {
            role,
            timeout_ms,
            stream,
            toxicity,
        } => toxic(
            role,
            "timeout",
            stream,
            toxicity,
            json!({"timeout": timeout_ms}),
        ),
        FaultKind::Toxic {
            role,
            kind,
            stream,
            toxicity,
            attributes,
        } => toxic(
            role,
            &kind,
            stream,
            toxicity,
            serde_json::to_value(attributes).unwrap_or_default(),
        ),
        FaultKind::DeleteFailure {
            role,
            mode,
            probability,
        } => match mode {
            // Reset on the request path: the delete never reaches Redis and fails at once.
            DeleteFailureMode::ResetPeer => toxic(
                role,
                "reset_peer",
                Stream::Upstream,
                probability,
                json!({"timeout": 0}),
            ),
            DeleteFailureMode::Timeout => toxic(
                role,
                "timeout",
                Stream::Upstream,
                probability,
                json!({"timeout": 0}),
            ),
            DeleteFailureMode::Error => Box::new(InjectedDeleteFailure { probability }),
        },
        FaultKind::Partition {
            role: Some(role), ..
        } => Box::new(Partition { role }),
        FaultKind::Partition { service, .. } => Box::new(ServicePartition {
            service: service.unwrap_or(crate::infra::Service::Redis),
        }),
        FaultKind::Kill { service } => Box::new(ServerFault {
            service,
            pause: false,
        }),
        FaultKind::Pause { service } => Box::new(ServerFault {
            service,
            pause: true,
        }),
        FaultKind::KillWorkers {} => Box::new(KillWorkers),
    }
}

/// A toxic on one role's proxy.
struct ToxicFault {
    role: Role,
    toxic: Toxic,
}

#[async_trait]
impl Fault for ToxicFault {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let p = cx.proxy()?;
        let (role, t) = (self.role, self.toxic.clone());
        blocking(move || p.add_toxic(role, &t)).await?;
        Ok(serde_json::to_value(&self.toxic)?)
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        let p = cx.proxy()?;
        let (role, name) = (self.role, self.toxic.name.clone());
        blocking(move || p.remove_toxic(role, &name)).await
    }
    fn target(&self) -> String {
        self.role.as_str().into()
    }
}

/// A role cut off: its proxy disabled.
struct Partition {
    role: Role,
}

#[async_trait]
impl Fault for Partition {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let p = cx.proxy()?;
        let role = self.role;
        blocking(move || p.set_enabled(role, false)).await?;
        Ok(json!({"proxy": super::proxy::proxy_name(role), "enabled": false}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        let p = cx.proxy()?;
        let role = self.role;
        blocking(move || p.set_enabled(role, true)).await
    }
    fn target(&self) -> String {
        self.role.as_str().into()
    }
}

/// A container cut off from the compose network (Docker only).
struct ServicePartition {
    service: crate::infra::Service,
}

#[async_trait]
impl Fault for ServicePartition {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        cx.stack.lock().await.partition(self.service).await?;
        Ok(json!({"action": "docker network disconnect"}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        cx.stack.lock().await.heal(self.service).await
    }
    fn target(&self) -> String {
        service_name(self.service)
    }
}

fn service_name(s: crate::infra::Service) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Kill + restart, or pause + resume, of a server.
struct ServerFault {
    service: crate::infra::Service,
    pause: bool,
}

#[async_trait]
impl Fault for ServerFault {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let mut st = cx.stack.lock().await;
        if self.pause {
            st.pause(self.service).await?;
            Ok(json!({"action": "pause", "signal": "SIGSTOP"}))
        } else {
            st.kill(self.service).await?;
            Ok(json!({"action": "kill", "signal": "SIGKILL"}))
        }
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        let mut st = cx.stack.lock().await;
        if self.pause {
            st.resume(self.service).await
        } else {
            st.restart(self.service).await
        }
    }
    fn target(&self) -> String {
        service_name(self.service)
    }
}

/// The strategy's background workers die, and restart when healed.
struct KillWorkers;

#[async_trait]
impl Fault for KillWorkers {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let had = cx.strategy.kill_workers().await;
        Ok(json!({"workers_killed": had}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        cx.strategy.restart_workers().await
    }
    fn target(&self) -> String {
        "workers".into()
    }
}

/// Cache deletes fail in the application with a probability.
struct InjectedDeleteFailure {
    probability: f64,
}

#[async_trait]
impl Fault for InjectedDeleteFailure {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        injected::set_delete_failure(self.probability, cx.seed);
        Ok(json!({"injected": "cache delete error", "probability": self.probability}))
    }
    async fn heal(&self, _: &FaultCtx) -> Result<()> {
        injected::clear_delete_failure();
        Ok(())
    }
    fn target(&self) -> String {
        "cache-write".into()
    }
}
