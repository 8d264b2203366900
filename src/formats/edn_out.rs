//! A cachecheck history written as a Jepsen EDN history, for Knossos (`jepsen.independent`
//! with a `register` model) and anything else that reads Jepsen histories, and for `cachecheck
//! check --format edn`.
//!
//! One vector of op maps, one map a line, in the history's order:
//!
//! ```text
//! ; cachecheck export of results/latest/db-only: ...
//! [{:index 0, :time 0, :type :invoke, :process 1000000000, :f :write, :value [7 7]}
//!  {:index 1, :time 0, :type :ok, :process 1000000000, :f :write, :value [7 7]}
//!  {:index 2, :time 1204000000, :type :invoke, :process 3, :f :read, :value [7 nil]}
//!  {:index 3, :time 1204350000, :type :ok, :process 3, :f :read, :value [7 1017]}
//!  {:index 4, :time 1300000000, :type :info, :process :nemesis, :f :start, :value "latency cache-fill", :fault "latency", :target "cache-fill", :id 0}
//!  ...]
//! ```
//!
//! * Client reads and writes become register ops on `jepsen.independent` tuples `[key value]`
//!   (`nil`: absent), with their `:type` (`:invoke`, `:ok`, `:fail`, `:info`) and `:time` (ns);
//!   an operation that never completed stays an open invoke, which Jepsen reads as `:info`.
//! * A key's data loaded before the run (an `initial` commit) becomes a write by process
//!   1000000000, acknowledged at time 0, before everything: a Jepsen register starts `nil`.
//! * Fault events become `:nemesis` `:info` ops, `:f :start` / `:stop`, `:value` the fault and
//!   its target, with cachecheck's `:fault`, `:target` and `:id`.
//! * Internal steps, phase markers and resource samples are left out.
//!
//! The database's commit order does not travel: a Jepsen history has none. So a search over
//! the export judges plain register linearizability, which is weaker than cachecheck's
//! commit-ordered verdict: valid here whenever cachecheck says valid, and now and then valid
//! where cachecheck (knowing the order) says invalid.

use crate::history::events::for_each_event_with_line;
use crate::history::files::{read_commits, FileError, COMMITS_FILE, HISTORY_FILE};
use crate::history::EventType;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The process of the writes that stand for the data loaded before the run.
pub const LOADER_PROCESS: i64 = 1_000_000_000;

/// What an export wrote.
#[derive(Debug, Default, Clone)]
pub struct Exported {
    /// Client operation events (invokes and completions) written.
    pub client_events: u64,
    /// Initial-value writes (one per key with initial data).
    pub initial_writes: u64,
    pub nemesis_events: u64,
}

/// Writes the history of the strategy directory `dir` to `out` as EDN.
pub fn write(dir: &Path, out: &mut dyn Write) -> Result<Exported, FileError> {
    let commits_path = dir.join(COMMITS_FILE);
    let history_path = dir.join(HISTORY_FILE);
    let io = |e: std::io::Error| {
        super::file_error(&history_path, 0, format!("cannot write the export: {e}"))
    };
    let mut initial: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for c in read_commits(&commits_path)?.iter().filter(|c| c.initial) {
        let e = initial.entry(c.key).or_insert((c.version, c.value));
        if c.version >= e.0 {
            *e = (c.version, c.value);
        }
    }
    let mut n = Exported::default();
    let mut index = 0u64;
    let mut buf = Vec::with_capacity(1 << 16);
    let _ = writeln!(
        buf,
        "; cachecheck export of {}: client reads and writes as register ops on jepsen.independent\n\
         ; [key value] tuples, faults as :nemesis :info ops, time in ns. The commit order is not\n\
         ; part of a Jepsen history. Check with: cachecheck check FILE --format edn",
        dir.display()
    );
    buf.push(b'[');
    for (&key, &(_, value)) in &initial {
        for kind in ["invoke", "ok"] {
            sep(&mut buf, index);
            let _ = write!(
                buf,
                "{{:index {index}, :time 0, :type :{kind}, :process {LOADER_PROCESS}, :f :write, :value [{key} {value}]}}"
            );
            index += 1;
        }
        n.initial_writes += 1;
    }
    let mut failed: Option<std::io::Error> = None;
    for_each_event_with_line(&history_path, |_, ev, line| {
        let f: &str = &ev.f;
        if ev.process >= 0 && (f == "read" || f == "write") {
            let Some(key) = ev.key else { return Ok(()) };
            let value = match (f, ev.kind) {
                ("read", EventType::Ok) | ("write", _) => ev.value,
                _ => None,
            };
            sep(&mut buf, index);
            let _ = write!(
                buf,
                "{{:index {index}, :time {}, :type :{}, :process {}, :f :{f}, :value [{key} {}]}}",
                ev.time,
                ev.kind.as_str(),
                ev.process,
                value.map_or("nil".to_string(), |v| v.to_string())
            );
            n.client_events += 1;
        } else if f == crate::history::F_FAULT {
            let detail: serde_json::Value = serde_json::from_slice::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get("detail").cloned())
                .unwrap_or_default();
            let s = |k: &str| {
                detail
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            let phase = match s("phase").as_str() {
                "stop" => "stop",
                _ => "start",
            };
            let (fault, target) = (s("fault"), s("target"));
            let what = format!("{fault} {target}");
            sep(&mut buf, index);
            let _ = write!(
                buf,
                "{{:index {index}, :time {}, :type :info, :process :nemesis, :f :{phase}, :value {}, :fault {}, :target {}, :id {}}}",
                ev.time,
                edn_str(what.trim()),
                edn_str(&fault),
                edn_str(&target),
                detail.get("id").and_then(|v| v.as_i64()).unwrap_or(-1)
            );
            n.nemesis_events += 1;
        } else {
            return Ok(());
        }
        index += 1;
        if buf.len() > 1 << 20 {
            if let Err(e) = out.write_all(&buf) {
                failed.get_or_insert(e);
            }
            buf.clear();
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(io(e));
    }
    buf.extend_from_slice(b"]\n");
    out.write_all(&buf).and_then(|_| out.flush()).map_err(io)?;
    Ok(n)
}

/// Between two op maps: a newline and a space (the vector's first map follows its bracket).
fn sep(buf: &mut Vec<u8>, index: u64) {
    if index > 0 {
        buf.extend_from_slice(b"\n ");
    }
}

/// An EDN string literal.
fn edn_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}
