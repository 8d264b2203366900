//! A synthetic but realistic history with anomalies of every kind injected in known numbers:
//! the input of `cachecheck bench checker`, and of the property tests.
//!
//! The clean part: `processes` clients work in rounds. In each round every client invokes one
//! operation at a staggered time; operations last 0.2 to 1 ms, so a round's operations overlap
//! (about `processes` in flight at once). A share `hot_share` of the operations (by default
//! half) goes to a hot 1 % of the keys, the rest spread over all keys. Writes commit at a random
//! instant inside their interval; a share `write_info` (by default 4 %) ends `info`, half of
//! those after committing, 2 % end `fail`, the rest `ok`. Reads return the value committed at their invoke (so no clean read
//! is stale, out of order, dirty or impossible); 97 % end `ok` (90 % from the cache), 2 % `fail`,
//! 1 % `info`. A fault start/stop pair (process -1) comes every 5000 rounds.
//!
//! The injected part: after every `anomaly_every` rounds, with no clean operation in flight, one
//! episode by two fresh processes on one key makes exactly one anomaly, the kinds in turn:
//! a stale read (another's acknowledged write, then a read of the older value), a monotonic-read
//! violation (a read of an unacknowledged committed write, then of the older value), a
//! read-your-writes violation (which is also a stale read), a dirty read (of a failed write's
//! value), an impossible read (of a value nobody wrote) and a lost write (acknowledged, never
//! committed). Each leaves its key not linearizable (a key counts once however many episodes it
//! had). Every 50th key that has been written gets its initial value left in the cache:
//! a divergent key (unless `divergent` is off). [`Expected`] holds the resulting counts.
//!
//! [`super::shapes::SHAPES`] names the configurations `bench checker` measures.
//!
//! Values: key `k` starts at value `k` (version 1, `initial`); writes carry unique values from
//! 2^32 up; impossible reads return negative values.

use crate::checker::AnomalyCounts;
use crate::history::{
    write_json_head, Commit, Event, EventType, FinalState, Source, F_FAULT, F_READ, F_WRITE,
};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Client operations (at least; the last round is completed).
    pub ops: u64,
    /// Keys `0..keys` (at least 1, at most 2^31).
    pub keys: u64,
    /// Clean clients (process ids `0..processes`).
    pub processes: u32,
    pub seed: u64,
    /// One anomaly episode after every this many rounds; 0: none.
    pub anomaly_every: u64,
    /// Share of clean operations that are reads.
    pub read_fraction: f64,
    /// Share of operations on the hot 1 % of the keys (0: uniform).
    pub hot_share: f64,
    /// Share of clean writes that end `info` (half of them committed).
    pub write_info: f64,
    /// Leave every 50th written key divergent.
    pub divergent: bool,
}

impl SimConfig {
    /// The bench's defaults: 32 clients, 90 % reads, an episode every 16 rounds (about one
    /// injected anomaly per 500 operations).
    pub fn new(ops: u64, keys: u64, seed: u64) -> Self {
        SimConfig {
            ops,
            keys,
            processes: 32,
            seed,
            anomaly_every: 16,
            read_fraction: 0.9,
            hot_share: 0.5,
            write_info: 0.04,
            divergent: true,
        }
    }
}

/// What the generated history holds, and what a correct checker must find in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    pub anomalies: AnomalyCounts,
    /// Client operations.
    pub ops: u64,
    /// Invoke and completion events of client operations (2 per operation).
    pub events: u64,
    /// All history lines (client events and fault events).
    pub lines: u64,
    pub fault_events: u64,
    pub commits: u64,
}

/// One event as the generator emits it: the checker's own view of an event.
pub type SimEvent = crate::checker::ops::EventView<'static>;

/// Where the generator's output goes.
pub trait Sink {
    fn event(&mut self, e: &SimEvent) -> std::io::Result<()>;
    fn commit(&mut self, c: &Commit) -> std::io::Result<()>;
    fn final_state(&mut self, f: &FinalState) -> std::io::Result<()>;
}

/// The three files of a run directory, written as the generator goes (1 MiB buffers).
pub struct FileSink {
    history: Buffered,
    commits: Buffered,
    finals: Buffered,
}

struct Buffered {
    file: File,
    buf: Vec<u8>,
}

impl Buffered {
    fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Buffered {
            file: File::options().write(true).create_new(true).open(path)?,
            buf: Vec::with_capacity(1 << 20),
        })
    }

    fn line_done(&mut self) -> std::io::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= (1 << 20) - 512 {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        self.file.flush()
    }
}

impl FileSink {
    /// Creates `history.jsonl`, `commits.jsonl` and `final.jsonl` in `dir` (they must not exist).
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        use crate::history::files::{COMMITS_FILE, FINAL_FILE, HISTORY_FILE};
        Ok(FileSink {
            history: Buffered::create(&dir.join(HISTORY_FILE))?,
            commits: Buffered::create(&dir.join(COMMITS_FILE))?,
            finals: Buffered::create(&dir.join(FINAL_FILE))?,
        })
    }

    pub fn finish(self) -> std::io::Result<()> {
        self.history.finish()?;
        self.commits.finish()?;
        self.finals.finish()
    }
}

impl Sink for FileSink {
    fn event(&mut self, e: &SimEvent) -> std::io::Result<()> {
        if e.f == F_FAULT {
            to_event(e).write_json(&mut self.history.buf);
        } else {
            let b = &mut self.history.buf;
            write_json_head(b, e.time, e.process, e.kind, e.f, e.key, e.value, e.source);
        }
        self.history.line_done()
    }

    fn commit(&mut self, c: &Commit) -> std::io::Result<()> {
        let mut ib = itoa::Buffer::new();
        let b = &mut self.commits.buf;
        b.extend_from_slice(b"{\"key\":");
        b.extend_from_slice(ib.format(c.key).as_bytes());
        b.extend_from_slice(b",\"version\":");
        b.extend_from_slice(ib.format(c.version).as_bytes());
        b.extend_from_slice(b",\"value\":");
        b.extend_from_slice(ib.format(c.value).as_bytes());
        if c.initial {
            b.extend_from_slice(b",\"initial\":true");
        }
        b.push(b'}');
        self.commits.line_done()
    }

    fn final_state(&mut self, f: &FinalState) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.finals.buf, f)?;
        self.finals.line_done()
    }
}

/// The three files in memory.
#[derive(Debug, Clone, Default)]
pub struct MemSink {
    pub events: Vec<Event>,
    pub commits: Vec<Commit>,
    pub finals: Vec<FinalState>,
}

impl Sink for MemSink {
    fn event(&mut self, e: &SimEvent) -> std::io::Result<()> {
        self.events.push(to_event(e));
        Ok(())
    }
    fn commit(&mut self, c: &Commit) -> std::io::Result<()> {
        self.commits.push(c.clone());
        Ok(())
    }
    fn final_state(&mut self, f: &FinalState) -> std::io::Result<()> {
        self.finals.push(f.clone());
        Ok(())
    }
}

fn to_event(e: &SimEvent) -> Event {
    let detail = (e.f == F_FAULT).then(|| {
        let phase = if e.value == Some(1) { "start" } else { "stop" };
        serde_json::json!({"phase": phase, "kind": "latency", "proxy": "cache-read"})
    });
    Event {
        time: e.time,
        process: e.process,
        kind: e.kind,
        f: e.f.to_string(),
        key: e.key,
        value: if e.f == F_FAULT { None } else { e.value },
        source: e.source,
        error: match e.kind {
            EventType::Fail | EventType::Info if e.f != F_FAULT => Some("timeout".into()),
            _ => None,
        },
        detail,
    }
}

/// Generates the history into `dir` (history.jsonl, commits.jsonl, final.jsonl).
pub fn write_dir(cfg: &SimConfig, dir: &Path) -> std::io::Result<Expected> {
    let mut sink = FileSink::create(dir)?;
    let exp = generate(cfg, &mut sink)?;
    sink.finish()?;
    Ok(exp)
}

/// Generates the history in memory.
pub fn simulate(cfg: &SimConfig) -> (MemSink, Expected) {
    let mut sink = MemSink::default();
    let exp = generate(cfg, &mut sink).expect("writing to memory does not fail");
    (sink, exp)
}

/// SplitMix64: fast, seedable, good enough for a workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }
    /// Uniform in 0..1.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Process ids of the injected episodes start here (two fresh ids per episode).
pub const INJECTOR_BASE: i64 = 1_000_000;
/// Write values start here, above every key's initial value.
const FIRST_VALUE: i64 = 1 << 32;
const STAGGER_NS: u64 = 30_000;
const STEP_NS: u64 = 10_000;

#[derive(Clone, Copy)]
struct KeyState {
    version: i64,
    value: i64,
}

#[derive(Clone, Copy)]
struct PlannedOp {
    key: i64,
    inv: u64,
    cmp: u64,
    commit: Option<u64>,
    write: bool,
    kind: EventType,
    value: i64,
    source: Option<Source>,
}

struct Gen<'a, S: Sink> {
    sink: &'a mut S,
    keys: Vec<KeyState>,
    next_value: i64,
    exp: Expected,
    /// Keys an episode made non-linearizable (every kind does).
    broken: std::collections::HashSet<i64>,
}

impl<S: Sink> Gen<'_, S> {
    #[allow(clippy::too_many_arguments)]
    fn ev(
        &mut self,
        time: u64,
        process: i64,
        kind: EventType,
        f: &'static str,
        key: i64,
        value: Option<i64>,
        source: Option<Source>,
    ) -> std::io::Result<()> {
        self.exp.events += 1;
        self.exp.lines += 1;
        if kind == EventType::Invoke {
            self.exp.ops += 1;
        }
        self.sink.event(&SimEvent {
            time,
            process,
            kind,
            f,
            key: Some(key),
            value,
            source,
        })
    }

    fn commit(&mut self, key: i64, value: i64) -> std::io::Result<()> {
        let k = &mut self.keys[key as usize];
        k.version += 1;
        k.value = value;
        let c = Commit {
            key,
            version: k.version,
            value,
            initial: false,
        };
        self.exp.commits += 1;
        self.sink.commit(&c)
    }

    fn fresh_value(&mut self) -> i64 {
        self.next_value += 1;
        self.next_value
    }

    fn fault(&mut self, time: u64, start: bool) -> std::io::Result<()> {
        self.exp.lines += 1;
        self.exp.fault_events += 1;
        self.sink.event(&SimEvent {
            time,
            process: crate::history::process::NEMESIS,
            kind: EventType::Info,
            f: F_FAULT,
            key: None,
            value: Some(start as i64),
            source: None,
        })
    }

    /// A write by `p` at `t`: invoke, commit (if `commits`), completion `kind`. Returns the
    /// value and the time after it.
    fn write(
        &mut self,
        p: i64,
        key: i64,
        t: u64,
        commits: bool,
        kind: EventType,
    ) -> std::io::Result<(i64, u64)> {
        let v = self.fresh_value();
        self.ev(t, p, EventType::Invoke, F_WRITE, key, Some(v), None)?;
        if commits {
            self.commit(key, v)?;
        }
        self.ev(t + 2 * STEP_NS, p, kind, F_WRITE, key, Some(v), None)?;
        Ok((v, t + 3 * STEP_NS))
    }

    /// An ok read by `p` at `t` returning `value`; returns the time after it.
    fn read(&mut self, p: i64, key: i64, t: u64, value: i64) -> std::io::Result<u64> {
        self.ev(t, p, EventType::Invoke, F_READ, key, None, None)?;
        let src = Some(Source::Cache);
        self.ev(t + STEP_NS, p, EventType::Ok, F_READ, key, Some(value), src)?;
        Ok(t + 2 * STEP_NS)
    }

    /// One injected anomaly (see the module doc) on `key` starting at `t`; returns the end.
    fn episode(&mut self, n: u64, key: i64, t: u64) -> std::io::Result<u64> {
        let a = INJECTOR_BASE + 2 * n as i64;
        let b = a + 1;
        let old = self.keys[key as usize].value;
        // Every kind of episode leaves its key not linearizable; a key counts once.
        self.broken.insert(key);
        let an = &mut self.exp.anomalies;
        let t = match n % 6 {
            0 => {
                an.add("stale_reads", 1);
                let (_, t) = self.write(a, key, t, true, EventType::Ok)?;
                self.read(b, key, t, old)?
            }
            1 => {
                an.add("monotonic_read_violations", 1);
                let (v, t) = self.write(a, key, t, true, EventType::Info)?;
                let t = self.read(b, key, t, v)?;
                self.read(b, key, t, old)?
            }
            2 => {
                an.add("read_your_writes_violations", 1);
                an.add("stale_reads", 1);
                let (_, t) = self.write(a, key, t, true, EventType::Ok)?;
                self.read(a, key, t, old)?
            }
            3 => {
                an.add("dirty_reads", 1);
                let (v, t) = self.write(a, key, t, false, EventType::Fail)?;
                self.read(b, key, t, v)?
            }
            4 => {
                an.add("impossible_reads", 1);
                self.read(b, key, t, -1 - n as i64)?
            }
            _ => {
                an.add("lost_writes", 1);
                self.write(a, key, t, false, EventType::Ok)?.1
            }
        };
        Ok(t + STEP_NS)
    }
}

/// Generates the history described in the module doc into `sink`.
pub fn generate<S: Sink>(cfg: &SimConfig, sink: &mut S) -> std::io::Result<Expected> {
    let nkeys = cfg.keys.clamp(1, 1 << 31);
    let procs = cfg.processes.max(1) as u64;
    let hot = (nkeys / 100).max(1);
    let hot_share = cfg.hot_share;
    // Of 10 000: info after committing, info without committing, fail; the rest ok.
    let info_half = (cfg.write_info.clamp(0.0, 0.9) * 5000.0).round() as u64;
    let (info_c, info_n) = (info_half, 2 * info_half);
    let fail_end = info_n + 200;
    let mut rng = Rng(cfg.seed ^ 0x5EED_CAC4_ECEC_0000);
    let mut g = Gen {
        sink,
        keys: (0..nkeys as i64)
            .map(|k| KeyState {
                version: 1,
                value: k,
            })
            .collect(),
        next_value: FIRST_VALUE,
        exp: Expected::default(),
        broken: Default::default(),
    };
    for k in 0..nkeys as i64 {
        g.exp.commits += 1;
        g.sink.commit(&Commit {
            key: k,
            version: 1,
            value: k,
            initial: true,
        })?;
    }
    let mut t: u64 = 1_000_000;
    let mut round = 0u64;
    let mut episodes = 0u64;
    let mut plan: Vec<PlannedOp> = Vec::with_capacity(procs as usize);
    let mut sched: Vec<(u64, u8, u32)> = Vec::with_capacity(3 * procs as usize);
    let mut read_values: Vec<i64> = vec![0; procs as usize];
    while g.exp.ops < cfg.ops {
        plan.clear();
        sched.clear();
        for p in 0..procs {
            let key = if hot_share > 0.0 && rng.unit() < hot_share {
                rng.below(hot)
            } else {
                rng.below(nkeys)
            } as i64;
            let inv = t + p * STAGGER_NS + rng.below(STAGGER_NS);
            let dur = 200_000 + rng.below(800_000);
            let cmp = inv + dur;
            let write = rng.unit() >= cfg.read_fraction;
            let roll = rng.below(100);
            let (kind, commit, value, source) = if write {
                let r = rng.below(10_000);
                let (kind, commits) = if r < info_c {
                    (EventType::Info, true)
                } else if r < info_n {
                    (EventType::Info, false)
                } else if r < fail_end {
                    (EventType::Fail, false)
                } else {
                    (EventType::Ok, true)
                };
                let at = commits.then(|| inv + rng.below(dur + 1));
                (kind, at, g.fresh_value(), None)
            } else {
                let kind = match roll {
                    0..=96 => EventType::Ok,
                    97 | 98 => EventType::Fail,
                    _ => EventType::Info,
                };
                let src = match (kind, rng.below(10)) {
                    (EventType::Ok, 0) => Some(Source::Db),
                    (EventType::Ok, _) => Some(Source::Cache),
                    _ => None,
                };
                (kind, None, 0, src)
            };
            let i = plan.len() as u32;
            // Order at equal times: commits, then invokes, then completions.
            if let Some(at) = commit {
                sched.push((at, 0, i));
            }
            sched.push((inv, 1, i));
            sched.push((cmp, 2, i));
            plan.push(PlannedOp {
                key,
                inv,
                cmp,
                commit,
                write,
                kind,
                value,
                source,
            });
        }
        sched.sort_unstable();
        let mut end = t;
        for &(time, phase, i) in &sched {
            let op = plan[i as usize];
            let p = i64::from(i);
            end = end.max(time);
            match (phase, op.write) {
                (0, _) => g.commit(op.key, op.value)?,
                (1, true) => g.ev(
                    time,
                    p,
                    EventType::Invoke,
                    F_WRITE,
                    op.key,
                    Some(op.value),
                    None,
                )?,
                (1, false) => {
                    read_values[i as usize] = g.keys[op.key as usize].value;
                    g.ev(time, p, EventType::Invoke, F_READ, op.key, None, None)?
                }
                (_, true) => g.ev(time, p, op.kind, F_WRITE, op.key, Some(op.value), None)?,
                (_, false) => {
                    let v = (op.kind == EventType::Ok).then_some(read_values[i as usize]);
                    g.ev(time, p, op.kind, F_READ, op.key, v, op.source)?
                }
            }
            debug_assert!(op.inv <= op.cmp && op.commit.is_none_or(|c| c <= op.cmp));
        }
        t = end + STEP_NS;
        round += 1;
        if round % 5000 == 1 {
            g.fault(t, round % 10000 == 1)?;
            t += STEP_NS;
        }
        if cfg.anomaly_every > 0 && round % cfg.anomaly_every == 0 {
            let key = rng.below(nkeys) as i64;
            t = g.episode(episodes, key, t)?;
            episodes += 1;
        }
    }
    for k in 0..nkeys as i64 {
        let st = g.keys[k as usize];
        let divergent = cfg.divergent && k % 50 == 0 && st.version > 1;
        let cache = if divergent {
            g.exp.anomalies.add("divergent_keys", 1);
            Some(k)
        } else if rng.below(2) == 0 {
            Some(st.value)
        } else {
            None
        };
        g.sink.final_state(&FinalState {
            key: k,
            db: Some(st.value),
            cache,
            cache_ttl_ms: None,
        })?;
    }
    g.exp.anomalies.set(
        crate::checker::linearizable::PROPERTY,
        g.broken.len() as u64,
    );
    Ok(g.exp)
}
