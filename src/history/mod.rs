//! The history: what every client did, in time order, as plain data.
//!
//! The model is Jepsen's. Every client operation is an `invoke` followed by exactly one
//! completion by the same process:
//!
//! * `ok`: it happened, and the client learned its result;
//! * `fail`: it certainly did not take effect;
//! * `info`: unknown (a timeout, a dropped connection). An `info` write may have taken effect at
//!   any time after its invoke, and stays open to the end of the history.
//!
//! The interval `[invoke, completion]` of an operation is closed. Times are nanoseconds on one
//! monotonic clock that starts with the run (`time`), so every event of a run can be compared.
//!
//! Events whose `f` is neither `read` nor `write` (a strategy's internal steps such as
//! `cache-del` or `db-commit`, a fault's start and stop) are kept for people reading a timeline
//! and ignored by the register checks. Actors that are not clients (the nemesis, queue workers,
//! the binlog consumer) use negative process ids; see [`process`].
//!
//! On disk a run of one strategy is a directory with three files (see [`files`]):
//! `history.jsonl` (or `history.jsonl.zst`, compressed), `commits.jsonl` (the database's ground
//! truth) and `final.jsonl`.

pub mod canonical;
pub mod events;
pub mod files;
pub mod recorder;

use serde::{Deserialize, Serialize};

/// Process ids of actors that are not clients. Clients are numbered from 0.
pub mod process {
    /// The nemesis: fault start and stop events.
    pub const NEMESIS: i64 = -1;
    /// The harness itself (load, quiescence, final reads).
    pub const HARNESS: i64 = -2;
    /// Background workers of a strategy (retry queues, flushers, binlog consumers) are numbered
    /// downwards from here: `WORKER_BASE - i`.
    pub const WORKER_BASE: i64 = -10;
}

/// The type of an event: an invocation or one of the three completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// How an operation, or a step of one, ended: the three completions of [`EventType`], with
/// the meanings of the module doc (`ok` happened; `fail` certainly did not; `info` unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Completion {
    Ok,
    Fail,
    Info,
}

impl From<Completion> for EventType {
    fn from(c: Completion) -> EventType {
        match c {
            Completion::Ok => EventType::Ok,
            Completion::Fail => EventType::Fail,
            Completion::Info => EventType::Info,
        }
    }
}

impl EventType {
    /// The completion this event type is, if it is one.
    pub fn completion(self) -> Option<Completion> {
        match self {
            EventType::Invoke => None,
            EventType::Ok => Some(Completion::Ok),
            EventType::Fail => Some(Completion::Fail),
            EventType::Info => Some(Completion::Info),
        }
    }
}

/// Where a read's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A cache hit.
    Cache,
    /// The database, after a miss (or a strategy that reads the database directly).
    Db,
    /// A read replica of the database, after a miss (`fill_from = "replica"`).
    Replica,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Cache => "cache",
            Source::Db => "db",
            Source::Replica => "replica",
        }
    }
}

/// One event of the history, as written to `history.jsonl`:
///
/// ```json
/// {"time":1204000000,"process":3,"type":"ok","f":"read","key":7,"value":1017,"source":"cache"}
/// ```
///
/// * `time`: ns since run start (monotonic);
/// * `process`: client id (>= 0) or a negative actor id ([`process`]);
/// * `type`: `invoke` | `ok` | `fail` | `info`;
/// * `f`: `read` | `write` for client operations; anything else is an internal step or a fault;
/// * `key`, `value`: a write's invoke carries the value it writes; a read's invoke has `null`
///   and its `ok` the value read (`null`: the key was absent);
/// * optional: `source` (`cache`|`db`, on read completions), `error` (why a fail/info), and
///   `detail` (any JSON: a fault's description, a version, a retry count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub time: u64,
    pub process: i64,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub f: String,
    #[serde(default)]
    pub key: Option<i64>,
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// `f` of client reads.
pub const F_READ: &str = "read";
/// `f` of client writes.
pub const F_WRITE: &str = "write";
/// `f` of fault events written by the nemesis (`type` info; `detail.phase` start|stop).
pub const F_FAULT: &str = "fault";

impl Event {
    /// Whether this event belongs to a client's register operation (read or write).
    pub fn is_client_op(&self) -> bool {
        self.process >= 0 && (self.f == F_READ || self.f == F_WRITE)
    }

    /// Writes the event as one JSON line (without the newline) into `out`.
    /// Hand-written because it is on the clients' hot path; it produces the same JSON as serde.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        write_json_head(
            out,
            self.time,
            self.process,
            self.kind,
            &self.f,
            self.key,
            self.value,
            self.source,
        );
        out.pop(); // the closing brace: optional fields follow
        if let Some(e) = &self.error {
            out.extend_from_slice(b",\"error\":");
            push_json_str(out, e);
        }
        if let Some(d) = &self.detail {
            out.extend_from_slice(b",\"detail\":");
            // serde_json never fails writing a Value into a Vec.
            let _ = serde_json::to_writer(&mut *out, d);
        }
        out.push(b'}');
    }
}

/// Writes an event without `error` and `detail` as one JSON line (without the newline) into
/// `out`: the layout of [`Event::write_json`], for writers that do not build an [`Event`].
#[allow(clippy::too_many_arguments)]
pub fn write_json_head(
    out: &mut Vec<u8>,
    time: u64,
    process: i64,
    kind: EventType,
    f: &str,
    key: Option<i64>,
    value: Option<i64>,
    source: Option<Source>,
) {
    let mut ib = itoa::Buffer::new();
    out.extend_from_slice(b"{\"time\":");
    out.extend_from_slice(ib.format(time).as_bytes());
    out.extend_from_slice(b",\"process\":");
    out.extend_from_slice(ib.format(process).as_bytes());
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"f\":");
    push_json_str(out, f);
    out.extend_from_slice(b",\"key\":");
    push_opt_int(out, key, &mut ib);
    out.extend_from_slice(b",\"value\":");
    push_opt_int(out, value, &mut ib);
    if let Some(s) = source {
        out.extend_from_slice(b",\"source\":\"");
        out.extend_from_slice(s.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

fn push_opt_int(out: &mut Vec<u8>, v: Option<i64>, ib: &mut itoa::Buffer) {
    match v {
        Some(v) => out.extend_from_slice(ib.format(v).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// One committed write of the database's ground truth (`commits.jsonl`):
///
/// ```json
/// {"key":7,"version":12,"value":1017}
/// {"key":7,"version":1,"value":7,"initial":true}
/// ```
///
/// Versions increase per key in commit order. `initial` marks the data loaded before the run;
/// it counts as acknowledged at time 0. Unknown fields are ignored, as in the other two files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub key: i64,
    pub version: i64,
    pub value: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub initial: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The state of one key after quiescence and settle (`final.jsonl`):
///
/// ```json
/// {"key":7,"db":1017,"cache":1009,"cache_ttl_ms":41200}
/// ```
///
/// `db` is the database's value, `cache` the value the cache would serve (`null`: absent, or a
/// tombstone/marker that no reader is served). `cache_ttl_ms` (optional) is the remaining TTL of
/// the cache entry: `-1` for none, absent when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalState {
    pub key: i64,
    pub db: Option<i64>,
    pub cache: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_ttl_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_json_matches_serde() {
        let events = [
            Event {
                time: 12,
                process: 3,
                kind: EventType::Ok,
                f: F_READ.into(),
                key: Some(7),
                value: None,
                source: Some(Source::Cache),
                error: None,
                detail: None,
            },
            Event {
                time: 0,
                process: -1,
                kind: EventType::Info,
                f: "fault".into(),
                key: None,
                value: Some(-5),
                source: None,
                error: Some("timed out \"x\"\n".into()),
                detail: Some(serde_json::json!({"phase": "start", "kind": "latency"})),
            },
        ];
        for e in events {
            let mut buf = Vec::new();
            e.write_json(&mut buf);
            let ours: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            let theirs = serde_json::to_value(&e).unwrap();
            assert_eq!(ours, theirs);
            let back: Event = serde_json::from_slice(&buf).unwrap();
            assert_eq!(back, e);
        }
    }
}
