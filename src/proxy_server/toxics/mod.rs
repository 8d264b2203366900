//! Toxics: one file each, registered in `REGISTRY`, in Toxiproxy's wire format.
//!
//! A toxic as the REST API shows it (field order as Toxiproxy's `ToxicWrapper`):
//!
//! ```json
//! {"attributes": {"latency": 50, "jitter": 0}, "name": "latency_downstream",
//!  "type": "latency", "stream": "downstream", "toxicity": 1}
//! ```
//!
//! * `name`: defaults to `<type>_<stream>`; unique within a proxy.
//! * `type`: one of the names in `REGISTRY`.
//! * `stream`: `upstream` (client -> server) or `downstream` (server -> client, the default).
//! * `toxicity`: probability (0..1, default 1.0) that the toxic acts on a given connection; it is
//!   drawn again each time the connection's chain is changed, as in Toxiproxy.
//! * `attributes`: the toxic's own fields, with units in each toxic's doc comment. Missing
//!   attributes are 0.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::stub::Stub;

mod bandwidth;
mod latency;
mod limit_data;
mod noop;
mod reset_peer;
mod slicer;
mod slow_close;
mod timeout;

pub use noop::Noop;

/// How a toxic is built from its JSON attributes.
type Build = fn(Value) -> Result<Arc<dyn Toxic>, serde_json::Error>;

/// Every toxic type the server knows, by its wire name.
const REGISTRY: &[(&str, Build)] = &[
    ("bandwidth", build::<bandwidth::Bandwidth>),
    ("latency", build::<latency::Latency>),
    ("limit_data", build::<limit_data::LimitData>),
    ("noop", build::<noop::Noop>),
    ("reset_peer", build::<reset_peer::ResetPeer>),
    ("slicer", build::<slicer::Slicer>),
    ("slow_close", build::<slow_close::SlowClose>),
    ("timeout", build::<timeout::Timeout>),
];

fn build<T: Toxic + DeserializeOwned + 'static>(
    attributes: Value,
) -> Result<Arc<dyn Toxic>, serde_json::Error> {
    Ok(Arc::new(serde_json::from_value::<T>(attributes)?))
}

/// A toxic's attributes as JSON (every `Serialize` toxic has this).
pub trait Attributes {
    /// As a JSON value (to merge an update into).
    fn attributes(&self) -> Value;
    /// As JSON text, fields in declaration order (Go's order, for the wire).
    fn attributes_raw(&self) -> Box<RawValue>;
}

impl<T: Serialize> Attributes for T {
    fn attributes(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
    fn attributes_raw(&self) -> Box<RawValue> {
        serde_json::value::to_raw_value(self).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }
}

/// A way of mangling one direction of a connection (Toxiproxy's `Toxic` interface).
#[async_trait]
pub trait Toxic: Attributes + Send + Sync + std::fmt::Debug {
    /// Moves chunks from the stub's input to its output. Returns when interrupted (after keeping
    /// any chunk in hand as the stub's pending chunk, which [`Stub::send`] does) or after
    /// closing the stub.
    async fn pipe(&self, stub: &mut Stub);

    /// Capacity of the channel into this toxic's stub (Toxiproxy's `BufferedToxic`).
    fn buffer_size(&self) -> usize {
        0
    }

    /// Fresh per-connection state (Toxiproxy's `StatefulToxic`).
    fn new_state(&self) -> Option<Box<dyn Any + Send>> {
        None
    }

    /// Called on a stub when the toxic is removed (Toxiproxy's `CleanupToxic`).
    fn cleanup(&self, _stub: &mut Stub) {}
}

/// Which way the bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client -> server.
    Upstream,
    /// Server -> client.
    Downstream,
}

impl Direction {
    /// Both directions in Toxiproxy's order (upstream toxics are listed first).
    pub const ALL: [Direction; 2] = [Direction::Upstream, Direction::Downstream];

    pub fn parse(stream: &str) -> Option<Direction> {
        match stream.to_ascii_lowercase().as_str() {
            "upstream" => Some(Direction::Upstream),
            "downstream" => Some(Direction::Downstream),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Direction::Upstream => 0,
            Direction::Downstream => 1,
        }
    }
}

/// A toxic with the fields every toxic has (Toxiproxy's `ToxicWrapper`).
#[derive(Debug, Clone)]
pub struct ToxicWrapper {
    pub name: String,
    pub kind: String,
    /// The stream as the client spelled it.
    pub stream: String,
    pub direction: Direction,
    pub toxicity: f32,
    pub toxic: Arc<dyn Toxic>,
}

impl ToxicWrapper {
    /// The no-op toxic at the head of every chain (hidden from the API).
    pub fn head(direction: Direction) -> ToxicWrapper {
        ToxicWrapper {
            name: String::new(),
            kind: "noop".into(),
            stream: String::new(),
            direction,
            toxicity: 1.0,
            toxic: Arc::new(Noop {}),
        }
    }
}

/// Builds a toxic of the registered type `kind` from an attributes object; `None` for an
/// unknown type.
pub fn new_toxic(
    kind: &str,
    attributes: Map<String, Value>,
) -> Option<Result<Arc<dyn Toxic>, serde_json::Error>> {
    let (_, build) = REGISTRY.iter().find(|(name, _)| *name == kind)?;
    Some(build(Value::Object(attributes)))
}

/// Go's `encoding/json` writes a whole float32 without a fraction (`1`, not `1.0`).
fn serialize_go_f32<S: Serializer>(value: &f32, serializer: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        serializer.serialize_i64(*value as i64)
    } else {
        serializer.serialize_f32(*value)
    }
}

impl Serialize for ToxicWrapper {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            attributes: Box<RawValue>,
            name: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
            stream: &'a str,
            #[serde(serialize_with = "serialize_go_f32")]
            toxicity: f32,
        }
        Wire {
            attributes: self.toxic.attributes_raw(),
            name: &self.name,
            kind: &self.kind,
            stream: &self.stream,
            toxicity: self.toxicity,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_matches_toxiproxy() {
        let toxic = new_toxic(
            "latency",
            serde_json::json!({"latency": 50})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .unwrap()
        .unwrap();
        let wrapper = ToxicWrapper {
            name: "latency_downstream".into(),
            kind: "latency".into(),
            stream: "downstream".into(),
            direction: Direction::Downstream,
            toxicity: 1.0,
            toxic,
        };
        assert_eq!(
            serde_json::to_string(&wrapper).unwrap(),
            r#"{"attributes":{"latency":50,"jitter":0},"name":"latency_downstream","type":"latency","stream":"downstream","toxicity":1}"#
        );
    }

    #[test]
    fn unknown_type_and_bad_attributes() {
        assert!(new_toxic("nope", Map::new()).is_none());
        let bad = serde_json::json!({"latency": "x"})
            .as_object()
            .cloned()
            .unwrap();
        assert!(new_toxic("latency", bad).unwrap().is_err());
    }
}
