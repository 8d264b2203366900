//! Pairing the history's events into operations, grouped per key.
//!
//! A client operation is an `invoke` followed by exactly one completion (`ok`, `fail`, `info`)
//! by the same process; a process has at most one operation outstanding, so events pair by
//! process. An invoke that never completes counts as `info`. Events of other `f`, and events of
//! processes < 0, are not operations (fault events are counted).
//!
//! Each operation is resolved against the ground truth as it completes: the position (see
//! [`truth`](super::truth)) of the value a read returned or a write wrote, and for an `ok`
//! write the acknowledgement time of the version it wrote.
//!
//! Malformed histories never panic: every oddity is tallied and reported once as a warning
//! with the line of its first occurrence.

use super::fasthash::FastMap;
use super::stats::OpStats;
use super::truth::{KeyData, Keys, NO_IDX, POS_NONE};
use crate::history::{Commit, EventType, Source, F_FAULT, F_READ, F_WRITE};

/// Operations per chunk of [`Builder`] (48 MiB).
const CHUNK_OPS: usize = 1 << 20;

/// `cmp_ns` of an operation that never completed.
pub const NO_TIME: u64 = u64::MAX;

/// How an operation ended: the history's completions; an operation that never completed is
/// `Info`.
pub use crate::history::Completion as Outcome;

/// One client operation: a few dozen bytes, so that ten million fit in memory.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    pub inv_ns: u64,
    /// Completion time ([`NO_TIME`] if it never completed).
    pub cmp_ns: u64,
    /// A write's value, or the value an `ok` read returned (see `has_value`).
    value: i64,
    /// Line indexes (0-based) of the invoke and the completion ([`NO_IDX`] if none).
    pub inv_idx: u32,
    pub cmp_idx: u32,
    /// Dense process index: [`Run::processes`] gives the process id.
    pub process: u32,
    /// Position of the value in the key's versions ([`POS_NONE`]: no commit carries it).
    /// Only `ok` reads and writes are resolved; other reads have [`POS_NONE`].
    pub pos: u32,
    pub write: bool,
    pub outcome: Outcome,
    pub source: Option<Source>,
    has_value: bool,
    /// The key's index in [`Keys`] (fits in what would be padding).
    key_ix: u32,
}

impl Op {
    /// The key's index in [`Keys`].
    pub(crate) fn key_ix(&self) -> u32 {
        self.key_ix
    }

    pub fn value(&self) -> Option<i64> {
        self.has_value.then_some(self.value)
    }

    pub fn is_ok_read(&self) -> bool {
        !self.write && self.outcome == Outcome::Ok
    }

    /// An `ok` read that returned a committed version (or null on a key without initial data):
    /// the reads that staleness, windows and sessions judge.
    pub fn is_judged_read(&self) -> bool {
        self.is_ok_read() && self.pos != POS_NONE
    }

    /// The completion line, or the invoke line if it never completed: the op's last event.
    pub fn last_idx(&self) -> u32 {
        if self.cmp_idx == NO_IDX {
            self.inv_idx
        } else {
            self.cmp_idx
        }
    }

    /// `read`, `read (cache hit)`, `read (db)`, or `write`.
    pub fn what(&self) -> &'static str {
        match (self.write, self.source) {
            (true, _) => "write",
            (false, Some(Source::Cache)) => "read (cache hit)",
            (false, Some(Source::Db)) => "read (from db)",
            (false, Some(Source::Replica)) => "read (from a replica)",
            (false, None) => "read",
        }
    }
}

/// The paired history: every key with its versions and operations, plus run statistics.
pub struct Run {
    pub keys: Keys,
    /// Process ids by dense index.
    pub processes: Vec<i64>,
    pub stats: OpStats,
    pub fault_events: u64,
    pub warnings: Vec<String>,
}

impl Run {
    pub fn key_data(&self) -> &[KeyData] {
        &self.keys.keys
    }
}

/// One event, as the builder needs it (from a file line or an in-memory [`Event`](crate::history::Event)).
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub time: u64,
    pub process: i64,
    pub kind: EventType,
    pub f: &'a str,
    pub key: Option<i64>,
    pub value: Option<i64>,
    pub source: Option<Source>,
}

impl<'a> From<&'a crate::history::Event> for EventView<'a> {
    fn from(ev: &'a crate::history::Event) -> Self {
        EventView {
            time: ev.time,
            process: ev.process,
            kind: ev.kind,
            f: &ev.f,
            key: ev.key,
            value: ev.value,
            source: ev.source,
        }
    }
}

impl<'a> From<&'a crate::history::events::EventRef<'_>> for EventView<'a> {
    fn from(ev: &'a crate::history::events::EventRef<'_>) -> Self {
        EventView {
            time: ev.time,
            process: ev.process,
            kind: ev.kind,
            f: &ev.f,
            key: ev.key,
            value: ev.value,
            source: ev.source,
        }
    }
}

struct Pending {
    inv_ns: u64,
    inv_idx: u32,
    write: bool,
    key: Option<i64>,
    value: Option<i64>,
}

#[derive(Default)]
struct ProcState {
    pending: Option<Pending>,
    last_was_completion: bool,
}

/// A kind of oddity: how many, and the 1-based line of the first.
#[derive(Default, Clone, Copy)]
struct Tally {
    count: u64,
    first_line: usize,
}

impl Tally {
    fn add(&mut self, idx: usize) {
        if self.count == 0 {
            self.first_line = idx + 1;
        }
        self.count += 1;
    }
}

#[derive(Default)]
struct Tallies {
    time_backwards: Tally,
    without_invoke: Tally,
    duplicate_completion: Tally,
    invoke_while_outstanding: Tally,
    mismatched_completion: Tally,
    missing_key: Tally,
    write_without_value: Tally,
    duplicate_ack: Tally,
    in_flight_at_end: Tally,
}

/// Builds a [`Run`] from the commits and then the events, one at a time, in file order.
pub struct Builder {
    keys: Keys,
    /// Operations in completion order, in fixed-size chunks; distributed to their keys in
    /// [`Builder::finish`]. Appending here instead of to each key's vector keeps the per-event
    /// path free of cache misses (a random key's vector end), lets each key's vector be
    /// allocated at its exact size, and frees each chunk once distributed.
    chunks: Vec<Vec<Op>>,
    proc_index: FastMap<i64, u32>,
    processes: Vec<i64>,
    procs: Vec<ProcState>,
    stats: OpStats,
    tallies: Tallies,
    max_time: Option<u64>,
    fault_events: u64,
    warnings: Vec<String>,
}

impl Builder {
    pub fn new(commits: &[Commit]) -> Self {
        let mut warnings = Vec::new();
        let keys = Keys::from_commits(commits, &mut warnings);
        Builder {
            keys,
            chunks: Vec::new(),
            proc_index: FastMap::default(),
            processes: Vec::new(),
            procs: Vec::new(),
            stats: OpStats::default(),
            tallies: Tallies::default(),
            max_time: None,
            fault_events: 0,
            warnings,
        }
    }

    /// Takes the event on line `idx + 1`. Errs only when the history is too long to index.
    pub fn event(&mut self, idx: usize, ev: EventView<'_>) -> Result<(), String> {
        let idx32 = u32::try_from(idx)
            .ok()
            .filter(|&i| i != NO_IDX)
            .ok_or("the history has more than 4294967294 lines; check it in parts")?;
        match self.max_time {
            Some(m) if ev.time < m => self.tallies.time_backwards.add(idx),
            _ => self.max_time = Some(ev.time),
        }
        let write = match ev.f.as_bytes() {
            b"write" => true,
            b"read" => false,
            f => {
                if f == F_FAULT.as_bytes() {
                    self.fault_events += 1;
                }
                return Ok(());
            }
        };
        debug_assert!(F_WRITE == "write" && F_READ == "read");
        if ev.process < 0 {
            return Ok(());
        }
        self.stats.saw_client_event(ev.time);
        let pi = self.process_index(ev.process);
        if ev.kind == EventType::Invoke {
            if let Some(p) = self.procs[pi as usize].pending.take() {
                self.tallies.invoke_while_outstanding.add(idx);
                self.close_unfinished(pi, p);
            }
            if ev.key.is_none() {
                self.tallies.missing_key.add(idx);
            }
            if write && ev.value.is_none() {
                self.tallies.write_without_value.add(idx);
            }
            self.stats.counts_mut(write).invoke += 1;
            let st = &mut self.procs[pi as usize];
            st.last_was_completion = false;
            st.pending = Some(Pending {
                inv_ns: ev.time,
                inv_idx: idx32,
                write,
                key: ev.key,
                value: ev.value,
            });
            return Ok(());
        }
        let st = &mut self.procs[pi as usize];
        let was_completion = std::mem::replace(&mut st.last_was_completion, true);
        let Some(p) = st.pending.take() else {
            if was_completion {
                self.tallies.duplicate_completion.add(idx);
            } else {
                self.tallies.without_invoke.add(idx);
            }
            return Ok(());
        };
        if p.write != write || (ev.key.is_some() && p.key.is_some() && ev.key != p.key) {
            self.tallies.mismatched_completion.add(idx);
        }
        let outcome = match ev.kind {
            EventType::Ok => Outcome::Ok,
            EventType::Fail => Outcome::Fail,
            _ => Outcome::Info,
        };
        let c = self.stats.counts_mut(p.write);
        match outcome {
            Outcome::Ok => c.ok += 1,
            Outcome::Fail => c.fail += 1,
            Outcome::Info => c.info += 1,
        }
        self.stats.completed += 1;
        if outcome == Outcome::Ok {
            let lat = ev.time.saturating_sub(p.inv_ns);
            if p.write {
                self.stats.write_latency.record(lat);
            } else {
                self.stats.read_latency.record(lat);
            }
        }
        let value = if p.write {
            p.value.or(ev.value)
        } else {
            ev.value
        };
        let source = if p.write { None } else { ev.source };
        self.push_op(pi, p, outcome, ev.time, idx32, value, source);
        Ok(())
    }

    fn process_index(&mut self, process: i64) -> u32 {
        if let Some(&i) = self.proc_index.get(&process) {
            return i;
        }
        let i = self.processes.len() as u32;
        self.processes.push(process);
        self.procs.push(ProcState::default());
        self.proc_index.insert(process, i);
        i
    }

    /// An operation that got no completion: it stays open (`info`).
    fn close_unfinished(&mut self, pi: u32, p: Pending) {
        self.stats.counts_mut(p.write).info += 1;
        let value = if p.write { p.value } else { None };
        self.push_op(pi, p, Outcome::Info, NO_TIME, NO_IDX, value, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_op(
        &mut self,
        pi: u32,
        p: Pending,
        outcome: Outcome,
        cmp_ns: u64,
        cmp_idx: u32,
        value: Option<i64>,
        source: Option<Source>,
    ) {
        let Some(key) = p.key else { return };
        let ki = self.keys.key_index(key);
        if self.chunks.last().is_none_or(|c| c.len() == c.capacity()) {
            // Chunks double up to CHUNK_OPS, which is over glibc's largest mmap threshold
            // (32 MiB), so that a freed big chunk goes back to the OS.
            let so_far: usize = self.chunks.iter().map(Vec::len).sum();
            self.chunks
                .push(Vec::with_capacity(so_far.clamp(1024, CHUNK_OPS)));
        }
        let chunk = self.chunks.last_mut().expect("a chunk was just pushed");
        chunk.push(Op {
            inv_ns: p.inv_ns,
            cmp_ns,
            value: value.unwrap_or(0),
            inv_idx: p.inv_idx,
            cmp_idx,
            process: pi,
            pos: POS_NONE, // resolved in `finish`, key by key
            write: p.write,
            outcome,
            source,
            has_value: value.is_some(),
            key_ix: ki,
        });
    }

    /// Closes operations still in flight (as `info`) and reports what was odd.
    pub fn finish(self, torn_last_line: Option<usize>) -> Run {
        self.finish_with(torn_last_line, 1)
    }

    /// [`Builder::finish`] with the operations distributed to their keys and resolved on up to
    /// `threads` threads (see [`distribute`](super::distribute)); the same run whatever the
    /// threads.
    pub fn finish_with(mut self, torn_last_line: Option<usize>, threads: usize) -> Run {
        for pi in 0..self.procs.len() {
            if let Some(p) = self.procs[pi].pending.take() {
                self.tallies.in_flight_at_end.add(p.inv_idx as usize);
                self.close_unfinished(pi as u32, p);
            }
        }
        let chunks = std::mem::take(&mut self.chunks);
        let dup = super::distribute::distribute(&mut self.keys.keys, chunks, threads);
        if dup.count > 0 {
            self.tallies.duplicate_ack = Tally {
                count: dup.count,
                first_line: dup.first_idx + 1,
            };
        }
        let mut warnings = std::mem::take(&mut self.warnings);
        if let Some(line) = torn_last_line {
            warnings.push(format!(
                "history.jsonl line {line} is cut short (the writer stopped mid-line); it was skipped"
            ));
        }
        self.tallies.report(&mut warnings);
        report_reads_without_commits(&self.keys.keys, &mut warnings);
        Run {
            keys: self.keys,
            processes: self.processes,
            stats: self.stats,
            fault_events: self.fault_events,
            warnings,
        }
    }
}

impl Tallies {
    fn report(&self, out: &mut Vec<String>) {
        let items: [(&Tally, &str); 9] = [
            (&self.time_backwards, "event(s) have a time earlier than an event before them (time went backwards)"),
            (&self.without_invoke, "completion(s) have no invoke by their process; they were ignored"),
            (&self.duplicate_completion, "duplicate completion(s): the process's operation had already completed; they were ignored"),
            (&self.invoke_while_outstanding, "invoke(s) came while the process still had an operation outstanding; the earlier operation was left open (info)"),
            (&self.mismatched_completion, "completion(s) name another f or key than their invoke; the invoke's were used"),
            (&self.missing_key, "client operation(s) have no key; they were not judged"),
            (&self.write_without_value, "write invoke(s) carry no value; they were not judged"),
            (&self.duplicate_ack, "ok write(s) wrote a value already acknowledged for their key (values must be unique per key); the earliest acknowledgement is used"),
            (&self.in_flight_at_end, "operation(s) never completed (the history ends first); they count as info"),
        ];
        for (t, what) in items {
            if t.count > 0 {
                out.push(format!(
                    "history.jsonl: {} {what} (first at line {})",
                    t.count, t.first_line
                ));
            }
        }
    }
}

fn report_reads_without_commits(keys: &[KeyData], out: &mut Vec<String>) {
    let mut n_keys = 0u64;
    let mut n_reads = 0u64;
    let mut first = None;
    for kd in keys.iter().filter(|k| k.versions.is_empty()) {
        let reads = kd.ops.iter().filter(|o| o.is_ok_read()).count() as u64;
        if reads > 0 {
            n_keys += 1;
            n_reads += reads;
            first.get_or_insert(kd.key);
        }
    }
    if let Some(k) = first {
        out.push(format!(
            "{n_reads} ok read(s) of {n_keys} key(s) that commits.jsonl never mentions (first: key {k}); these keys were judged as absent before the run"
        ));
    }
}
