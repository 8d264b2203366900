//! The `[[nemesis]]` tables of a workload: which fault, on what, when.
//!
//! ```toml
//! [[nemesis]]
//! fault = "latency"        # see FaultKind for every kind and its fields
//! role = "cache-fill"      # db | cache-read | cache-fill | cache-write | binlog
//! latency_ms = 200
//! jitter_ms = 0
//! stream = "upstream"      # upstream (client -> server) | downstream (server -> client)
//! # when: fixed ...
//! at_s = 1.0               # seconds after the clients start
//! duration_s = 2.0         # then healed
//! # ... or random, repeated until the clients stop (exponential gaps and lengths, seeded):
//! # mean_gap_s = 2.0
//! # mean_duration_s = 0.5
//! ```

use crate::infra::{Role, Service};
use serde::{Deserialize, Serialize};

/// Direction of a toxic, as in Toxiproxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Client to server: delays or breaks requests before they reach the server.
    Upstream,
    /// Server to client: delays or breaks responses.
    #[default]
    Downstream,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }
}

/// How a delete failure is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeleteFailureMode {
    /// Toxiproxy `reset_peer` on the role: connections are reset (TCP RST), so the delete
    /// fails at once and is known to have failed or not reached Redis.
    #[default]
    ResetPeer,
    /// Toxiproxy `timeout`: data stops; the delete times out (its outcome unknown).
    Timeout,
    /// No proxy: the application's cache delete fails with `probability` (an injected error).
    Error,
}

fn d_one() -> f64 {
    1.0
}
fn d_cache_write() -> Role {
    Role::CacheWrite
}

/// A fault and its parameters. Units are in the field names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultKind {
    /// Toxiproxy latency on a role's proxy.
    Latency {
        role: Role,
        latency_ms: u32,
        #[serde(default)]
        jitter_ms: u32,
        #[serde(default)]
        stream: Stream,
        #[serde(default = "d_one")]
        toxicity: f64,
    },
    /// Cache deletes (and sets) on a role fail: reset_peer, timeout, or an injected error.
    DeleteFailure {
        #[serde(default = "d_cache_write")]
        role: Role,
        #[serde(default)]
        mode: DeleteFailureMode,
        /// Share of connections (proxy modes) or deletes (`error`) that fail.
        #[serde(default = "d_one")]
        probability: f64,
    },
    /// Toxiproxy timeout: data on the role stops; connections close after `timeout_ms`
    /// (0: never).
    Timeout {
        role: Role,
        #[serde(default)]
        timeout_ms: u32,
        #[serde(default)]
        stream: Stream,
        #[serde(default = "d_one")]
        toxicity: f64,
    },
    /// Any Toxiproxy toxic by type, with its attributes as Toxiproxy names them.
    Toxic {
        role: Role,
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        stream: Stream,
        #[serde(default = "d_one")]
        toxicity: f64,
        #[serde(default)]
        attributes: toml::Table,
    },
    /// A role is cut off: its proxy is disabled (connections refused and closed). Or, on
    /// Docker, a service is cut off: its container leaves the compose network.
    Partition {
        #[serde(default)]
        role: Option<Role>,
        #[serde(default)]
        service: Option<Service>,
    },
    /// A service is killed (SIGKILL / docker kill) and restarted when healed. Redis loses the
    /// cache; the database recovers.
    Kill { service: Service },
    /// A service is paused (SIGSTOP / docker pause) and resumed when healed.
    Pause { service: Service },
    /// The strategy's background workers die (in-memory queues lost) and restart when healed.
    KillWorkers {},
}

impl FaultKind {
    /// Whether the fault needs the fault proxy.
    pub fn needs_proxy(&self) -> bool {
        match self {
            FaultKind::Latency { .. }
            | FaultKind::Timeout { .. }
            | FaultKind::Toxic { .. }
            | FaultKind::Partition { role: Some(_), .. } => true,
            FaultKind::DeleteFailure { mode, .. } => *mode != DeleteFailureMode::Error,
            _ => false,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Latency { .. } => "latency",
            FaultKind::DeleteFailure { .. } => "delete-failure",
            FaultKind::Timeout { .. } => "timeout",
            FaultKind::Toxic { .. } => "toxic",
            FaultKind::Partition { .. } => "partition",
            FaultKind::Kill { .. } => "kill",
            FaultKind::Pause { .. } => "pause",
            FaultKind::KillWorkers {} => "kill-workers",
        }
    }

    fn validate(&self) -> Result<(), String> {
        let prob = |p: f64, f: &str| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(format!("`{f}` must be between 0 and 1"))
            }
        };
        match self {
            FaultKind::Latency { toxicity, .. }
            | FaultKind::Timeout { toxicity, .. }
            | FaultKind::Toxic { toxicity, .. } => prob(*toxicity, "toxicity"),
            FaultKind::DeleteFailure {
                probability, role, ..
            } => {
                if role.is_db() {
                    return Err(
                        "delete-failure acts on a cache role (cache-write by default)".into(),
                    );
                }
                prob(*probability, "probability")
            }
            FaultKind::Partition { role, service } => match (role, service) {
                (Some(_), None) => Ok(()),
                (None, Some(Service::Proxy)) => Err("`service` must be db or redis".into()),
                (None, Some(_)) => Ok(()),
                _ => Err("give either `role` (a proxy partition) or `service` (a container partition, Docker only)".into()),
            },
            FaultKind::Kill { service } | FaultKind::Pause { service } => {
                if *service == Service::Proxy {
                    Err("`service` must be db or redis".into())
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

/// When a fault is active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Schedule {
    /// Once: from `at_s` after the clients start, for `duration_s`.
    Fixed { at_s: f64, duration_s: f64 },
    /// Repeatedly until the clients stop: exponential gaps and lengths with these means.
    Random {
        mean_gap_s: f64,
        mean_duration_s: f64,
    },
}

/// One `[[nemesis]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub schedule: Schedule,
}

const SCHEDULE_KEYS: [&str; 4] = ["at_s", "duration_s", "mean_gap_s", "mean_duration_s"];

/// Parses one `[[nemesis]]` table; errors name the entry and the field.
pub fn parse(i: usize, t: &toml::Table) -> Result<FaultSpec, String> {
    let at = format!("nemesis[{i}]");
    let mut rest = t.clone();
    let mut sched = toml::Table::new();
    for k in SCHEDULE_KEYS {
        if let Some(v) = rest.remove(k) {
            // Integers are fine where seconds are expected.
            let v = match v {
                toml::Value::Integer(n) => toml::Value::Float(n as f64),
                v => v,
            };
            sched.insert(k.to_string(), v);
        }
    }
    let kind: FaultKind = toml::Value::Table(rest)
        .try_into()
        .map_err(|e: toml::de::Error| format!("{at}: {}", e.message().trim().replace('\n', " ")))?;
    kind.validate().map_err(|e| format!("{at}: {e}"))?;
    let schedule = match (
        sched.get("at_s").and_then(|v| v.as_float()),
        sched.get("duration_s").and_then(|v| v.as_float()),
        sched.get("mean_gap_s").and_then(|v| v.as_float()),
        sched.get("mean_duration_s").and_then(|v| v.as_float()),
    ) {
        (Some(a), Some(d), None, None) if a >= 0.0 && d > 0.0 => Schedule::Fixed {
            at_s: a,
            duration_s: d,
        },
        (None, None, Some(g), Some(d)) if g > 0.0 && d > 0.0 => Schedule::Random {
            mean_gap_s: g,
            mean_duration_s: d,
        },
        _ => {
            return Err(format!(
                "{at}: give either `at_s` and `duration_s` (fixed) or `mean_gap_s` and `mean_duration_s` (random), all positive seconds"
            ))
        }
    };
    Ok(FaultSpec { kind, schedule })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        toml::from_str(s).unwrap()
    }

    #[test]
    fn parses_fixed_and_random() {
        let f = parse(
            0,
            &table("fault = \"latency\"\nrole = \"cache-fill\"\nlatency_ms = 200\nat_s = 1\nduration_s = 2.5"),
        )
        .unwrap();
        assert_eq!(
            f.schedule,
            Schedule::Fixed {
                at_s: 1.0,
                duration_s: 2.5
            }
        );
        assert!(f.kind.needs_proxy());
        let f = parse(
            1,
            &table(
                "fault = \"kill\"\nservice = \"redis\"\nmean_gap_s = 2.0\nmean_duration_s = 0.5",
            ),
        )
        .unwrap();
        assert_eq!(
            f.kind,
            FaultKind::Kill {
                service: Service::Redis
            }
        );
        let f = parse(2, &table("fault = \"delete-failure\"\nmode = \"error\"\nprobability = 0.5\nat_s = 0\nduration_s = 1")).unwrap();
        assert!(!f.kind.needs_proxy());
    }

    #[test]
    fn partition_of_a_role_or_a_service() {
        let e = parse(0, &table("fault = 'partition'\nat_s = 1\nduration_s = 1")).unwrap_err();
        assert!(e.contains("role") && e.contains("service"), "{e}");
        let f = parse(
            0,
            &table("fault = 'partition'\nservice = 'redis'\nat_s = 1\nduration_s = 1"),
        )
        .unwrap();
        assert!(!f.kind.needs_proxy());
        let f = parse(
            0,
            &table("fault = 'partition'\nrole = 'db'\nat_s = 1\nduration_s = 1"),
        )
        .unwrap();
        assert!(f.kind.needs_proxy());
    }

    #[test]
    fn errors_name_entry_and_field() {
        let e = parse(
            3,
            &table(
                "fault = \"latency\"\nrole = \"cache-fill\"\nlatency = 5\nat_s = 1\nduration_s = 1",
            ),
        )
        .unwrap_err();
        assert!(e.starts_with("nemesis[3]") && e.contains("latency"), "{e}");
        let e = parse(0, &table("fault = \"nope\"\nat_s = 1\nduration_s = 1")).unwrap_err();
        assert!(e.contains("nope"), "{e}");
        let e = parse(0, &table("fault = \"kill\"\nservice = \"redis\"")).unwrap_err();
        assert!(e.contains("at_s"), "{e}");
        let e = parse(
            0,
            &table("fault = \"latency\"\nrole = \"dbx\"\nlatency_ms = 1\nat_s = 1\nduration_s = 1"),
        )
        .unwrap_err();
        assert!(e.contains("dbx"), "{e}");
    }
}
