//! The `[[nemesis]]` tables of a workload: which fault, on what, when.
//!
//! ```toml
//! [[nemesis]]
//! fault = "latency"        # a kind of `nemesis::kinds`, each file listing its fields
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

use super::fault::Configured;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

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

/// One `[[nemesis]]` entry: its kind, configured, and its schedule.
#[derive(Debug, Clone)]
pub struct FaultSpec {
    /// The kind's name (`fault = "..."`).
    pub name: &'static str,
    pub kind: Arc<dyn Configured>,
    pub schedule: Schedule,
}

impl FaultSpec {
    /// Whether the fault needs the fault proxy.
    pub fn needs_proxy(&self) -> bool {
        self.kind.needs_proxy()
    }
}

impl Serialize for FaultSpec {
    /// `{"kind": {"fault": NAME, ...its fields}, "schedule": {...}}`, as the history and
    /// summary.json record an entry.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut kind = self.kind.fields();
        if let Some(o) = kind.as_object_mut() {
            o.insert("fault".into(), self.name.into());
        }
        serde_json::json!({"kind": kind, "schedule": self.schedule}).serialize(s)
    }
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
    let name = match rest.remove("fault") {
        Some(toml::Value::String(n)) => n,
        _ => {
            return Err(format!(
                "{at}: give the kind of fault, e.g. `fault = \"latency\"`"
            ))
        }
    };
    let reg = super::kinds::lookup(&name).map_err(|e| format!("{at}: {e}"))?;
    let kind = (reg.parse)(rest).map_err(|e| format!("{at}: {name}: {e}"))?;
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
    Ok(FaultSpec {
        name: reg.name,
        kind,
        schedule,
    })
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
        assert!(f.needs_proxy());
        let f = parse(
            1,
            &table(
                "fault = \"kill\"\nservice = \"redis\"\nmean_gap_s = 2.0\nmean_duration_s = 0.5",
            ),
        )
        .unwrap();
        assert_eq!(f.name, "kill");
        assert_eq!(f.kind.fields(), serde_json::json!({"service": "redis"}));
        let f = parse(2, &table("fault = \"delete-failure\"\nmode = \"error\"\nprobability = 0.5\nat_s = 0\nduration_s = 1")).unwrap();
        assert!(!f.needs_proxy());
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
        assert!(!f.needs_proxy());
        let f = parse(
            0,
            &table("fault = 'partition'\nrole = 'db'\nat_s = 1\nduration_s = 1"),
        )
        .unwrap();
        assert!(f.needs_proxy());
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
