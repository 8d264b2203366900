//! The actions fault kinds are made of, one [`Fault`] each: a toxic on a role's proxy, a role's
//! proxy disabled, a container cut off the network, a server killed or paused, the strategy's
//! workers killed, an injected application error.

use super::fault::{blocking, Fault, FaultCtx};
use super::proxy::{proxy_name, Toxic};
use super::spec::Stream;
use crate::infra::{Role, Service};
use anyhow::Result;
use async_trait::async_trait;
use serde_json::json;

/// A toxic on one role's proxy, removed when healed.
pub struct ToxicFault {
    pub role: Role,
    pub toxic: Toxic,
}

impl ToxicFault {
    /// A toxic named `name` of Toxiproxy type `kind` with its attributes.
    pub fn boxed(
        name: String,
        role: Role,
        kind: &str,
        stream: Stream,
        toxicity: f64,
        attributes: serde_json::Value,
    ) -> Box<dyn Fault> {
        Box::new(ToxicFault {
            role,
            toxic: Toxic {
                name,
                kind: kind.to_string(),
                stream: stream.as_str().to_string(),
                toxicity,
                attributes: attributes.as_object().cloned().unwrap_or_default(),
            },
        })
    }
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

/// A role cut off: its proxy disabled (connections refused and closed).
pub struct RoleDisabled {
    pub role: Role,
}

#[async_trait]
impl Fault for RoleDisabled {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        let p = cx.proxy()?;
        let role = self.role;
        blocking(move || p.set_enabled(role, false)).await?;
        Ok(json!({"proxy": proxy_name(role), "enabled": false}))
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
pub struct ServiceDisconnected {
    pub service: Service,
}

#[async_trait]
impl Fault for ServiceDisconnected {
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

/// The name of a service as the workload spells it.
pub fn service_name(s: Service) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A server killed (SIGKILL / docker kill) and restarted when healed.
pub struct ServerKilled {
    pub service: Service,
}

#[async_trait]
impl Fault for ServerKilled {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        cx.stack.lock().await.kill(self.service).await?;
        Ok(json!({"action": "kill", "signal": "SIGKILL"}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        cx.stack.lock().await.restart(self.service).await
    }
    fn target(&self) -> String {
        service_name(self.service)
    }
}

/// A server paused (SIGSTOP / docker pause) and resumed when healed.
pub struct ServerPaused {
    pub service: Service,
}

#[async_trait]
impl Fault for ServerPaused {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        cx.stack.lock().await.pause(self.service).await?;
        Ok(json!({"action": "pause", "signal": "SIGSTOP"}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        cx.stack.lock().await.resume(self.service).await
    }
    fn target(&self) -> String {
        service_name(self.service)
    }
}

/// The strategy's background workers die, and restart when healed.
pub struct WorkersKilled;

#[async_trait]
impl Fault for WorkersKilled {
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

/// Cache invalidations fail in the application with a probability (the run's
/// [`Injected`](crate::injected::Injected) handle).
pub struct InjectedDeleteFailure {
    pub probability: f64,
}

#[async_trait]
impl Fault for InjectedDeleteFailure {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        cx.injected.set_delete_failure(self.probability, cx.seed);
        Ok(json!({"injected": "cache delete error", "probability": self.probability}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        cx.injected.clear_delete_failure();
        Ok(())
    }
    fn target(&self) -> String {
        "cache-write".into()
    }
}
