//! Faults on the application: `kill` and `pause` with `service = "app"` act on the service
//! that strategy `service` started (SIGKILL / SIGSTOP of its process group), restarting it
//! (and waiting until healthy) or resuming it when healed. An app crash between its database
//! write and its cache delete is the classic way a key diverges.

use super::fault::{Fault, FaultCtx};
use crate::infra::Service;
use crate::strategy::AppFault;
use anyhow::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What `kill` and `pause` target: a server of the stack, or the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Db,
    Redis,
    Proxy,
    /// The service started by strategy `service`.
    App,
}

impl Target {
    /// The server, unless it is the application.
    pub fn server(self) -> Option<Service> {
        match self {
            Target::Db => Some(Service::Db),
            Target::Redis => Some(Service::Redis),
            Target::Proxy => Some(Service::Proxy),
            Target::App => None,
        }
    }
}

/// The started service killed (SIGKILL), started again when healed.
pub struct AppKilled;

#[async_trait]
impl Fault for AppKilled {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        cx.strategy.app_fault(AppFault::Kill).await?;
        Ok(json!({"action": "kill", "signal": "SIGKILL"}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        cx.strategy.app_fault(AppFault::Restart).await
    }
    fn target(&self) -> String {
        "app".into()
    }
}

/// The started service paused (SIGSTOP), resumed when healed.
pub struct AppPaused;

#[async_trait]
impl Fault for AppPaused {
    async fn start(&self, cx: &FaultCtx) -> Result<serde_json::Value> {
        cx.strategy.app_fault(AppFault::Pause).await?;
        Ok(json!({"action": "pause", "signal": "SIGSTOP"}))
    }
    async fn heal(&self, cx: &FaultCtx) -> Result<()> {
        cx.strategy.app_fault(AppFault::Resume).await
    }
    fn target(&self) -> String {
        "app".into()
    }
}
