//! What `kill` and `pause` target ([`Target`]: a server of the stack, a read replica, or the
//! application), and the one place a target becomes its fault ([`Target::fault`]).
//!
//! Faults on the application: `kill` and `pause` with `service = "app"` act on the service
//! that strategy `service` started (SIGKILL / SIGSTOP of its process group), restarting it
//! (and waiting until healthy) or resuming it when healed. An app crash between its database
//! write and its cache delete is the classic way a key diverges. Faults on replicas are in
//! [`super::replica`].

use super::actions::{ServerKilled, ServerPaused};
use super::fault::{Fault, FaultCtx};
use super::replica::{Action, ReplicaFault};
use crate::infra::Service;
use crate::strategy::AppFault;
use anyhow::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What `kill` and `pause` target: a server of the stack, a read replica, or the application.
/// Spelled `db`, `redis`, `proxy`, `app`, `replica` (every replica) or `replica-N` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    Db,
    Redis,
    Proxy,
    /// The service started by strategy `service`.
    App,
    /// A read replica (`[infra] db_replicas`): 0 every replica, else the N-th.
    Replica(usize),
}

impl TryFrom<String> for Target {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Ok(match s.as_str() {
            "db" => Target::Db,
            "redis" => Target::Redis,
            "proxy" => Target::Proxy,
            "app" => Target::App,
            "replica" => Target::Replica(0),
            _ => match s.strip_prefix("replica-").map(str::parse::<usize>) {
                Some(Ok(n)) if n >= 1 => Target::Replica(n),
                _ => {
                    return Err(format!(
                        "unknown service `{s}` (known: db, redis, proxy, app, replica, replica-N)"
                    ))
                }
            },
        })
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        match t {
            Target::Db => "db".into(),
            Target::Redis => "redis".into(),
            Target::Proxy => "proxy".into(),
            Target::App => "app".into(),
            Target::Replica(0) => "replica".into(),
            Target::Replica(n) => format!("replica-{n}"),
        }
    }
}

impl Target {
    /// The server, unless it is the application or a replica.
    pub fn server(self) -> Option<Service> {
        match self {
            Target::Db => Some(Service::Db),
            Target::Redis => Some(Service::Redis),
            Target::Proxy => Some(Service::Proxy),
            Target::App | Target::Replica(_) => None,
        }
    }

    /// Checks a `kill`/`pause` target: the proxy is never killed or paused (its faults are
    /// toxics and partitions).
    pub fn check(self) -> Result<(), String> {
        if self == Target::Proxy {
            return Err("`service` must be db, redis, app, replica or replica-N".into());
        }
        Ok(())
    }

    /// The fault of `kill` (`Action::Kill`) or `pause` (`Action::Pause`) on this target.
    pub fn fault(self, action: Action) -> Box<dyn Fault> {
        match (self, self.server(), action) {
            (Target::Replica(index), _, action) => Box::new(ReplicaFault { index, action }),
            (_, Some(service), Action::Kill) => Box::new(ServerKilled { service }),
            (_, Some(service), Action::Pause) => Box::new(ServerPaused { service }),
            (_, None, Action::Kill) => Box::new(AppKilled),
            (_, None, Action::Pause) => Box::new(AppPaused),
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

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn replica_targets_are_spelled_replica_or_replica_n() {
        let t = |s: &str| Target::try_from(s.to_string());
        assert_eq!(t("replica"), Ok(Target::Replica(0)));
        assert_eq!(t("replica-2"), Ok(Target::Replica(2)));
        assert_eq!(String::from(Target::Replica(2)), "replica-2");
        assert!(t("replica-0").is_err());
        assert!(t("replicas").unwrap_err().contains("replica-N"));
        assert_eq!(t("db"), Ok(Target::Db));
    }
}
