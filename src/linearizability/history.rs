//! The foreign-history model: register (and key-value) operations per key, as Jepsen and
//! Porcupine write them, paired from their invoke and completion events.
//!
//! An [`Operation`] is an interval `[call, ret]` on one key, by one process, with its input
//! (`read`, `write v`, `cas [old new]`; Porcupine's `get`, `put v`, `append v`) and its output.
//! `call` and `ret` are the positions of the invoke and completion events in the history (the
//! history's order is real-time order), so two operations are ordered iff one's completion
//! comes before the other's invoke; intervals are closed, as in Porcupine's `model.go`.
//!
//! Completions follow Jepsen's semantics (`jepsen.history`'s `possible` = ok ∪ info):
//!
//! * `ok`: it happened, within its interval, and returned its output;
//! * `fail`: it certainly did not happen: the operation is dropped;
//! * `info` (or no completion at all): it may take effect at any time after its invoke, or
//!   never: `ret` is [`OPEN`] and its output is unknown. (Porcupine's advice, a return at
//!   infinity with the output unchecked, is the same thing.) An `info` read constrains nothing
//!   and is dropped.
//!
//! Values are interned per key ([`Value`] indexes [`KeyHistory::values`]); [`Value::NIL`] is
//! `nil`.

use std::collections::HashMap;

/// `ret` of an operation that may take effect at any time after its invoke, or never.
pub const OPEN: u64 = u64::MAX;

/// A value of one key, interned: an index into [`KeyHistory::values`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value(pub u32);

impl Value {
    /// `nil`: a register's initial state, a read of nothing.
    pub const NIL: Value = Value(0);
}

/// What an operation asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Read,
    Write(Value),
    /// Compare-and-set: `[old new]`.
    Cas(Value, Value),
    /// Porcupine's key-value model: read the key's string.
    Get,
    /// Set the key's string.
    Put(Value),
    /// Append to the key's string.
    Append(Value),
}

impl Input {
    /// `:read`, `:write`, ...: the name Jepsen gives the operation's `:f`.
    pub fn f(&self) -> &'static str {
        match self {
            Input::Read => "read",
            Input::Write(_) => "write",
            Input::Cas(..) => "cas",
            Input::Get => "get",
            Input::Put(_) => "put",
            Input::Append(_) => "append",
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, Input::Read | Input::Get)
    }
}

/// What an operation returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// An `info` operation's: unknown.
    Unknown,
    /// An `ok` read's or get's value.
    Value(Value),
    /// An `ok` write, cas, put or append.
    Ok,
    /// A cas that executed and found another value (Porcupine's reading of the etcd logs'
    /// `:fail :cas`; Jepsen EDN's `:fail` is dropped instead).
    CasFailed,
}

/// One operation on one key.
#[derive(Debug, Clone)]
pub struct Operation {
    pub process: i64,
    /// Position of the invoke in the history.
    pub call: u64,
    /// Position of the completion ([`OPEN`]: info, or never completed).
    pub ret: u64,
    /// The events' times in ns (`:time`, or a cachecheck event's), for pictures only.
    pub call_ns: Option<u64>,
    pub ret_ns: Option<u64>,
    pub input: Input,
    pub output: Output,
    /// 1-based lines of the invoke and the completion in the file (0: none).
    pub call_line: u32,
    pub ret_line: u32,
}

impl Operation {
    /// An operation over `[call, ret]` with no times or lines.
    pub fn new(process: i64, call: u64, ret: u64, input: Input, output: Output) -> Self {
        Operation {
            process,
            call,
            ret,
            call_ns: None,
            ret_ns: None,
            input,
            output,
            call_line: 0,
            ret_line: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.ret == OPEN
    }
}

/// One key's operations, in invoke order, and its values.
#[derive(Debug, Clone, Default)]
pub struct KeyHistory {
    /// The key as the file names it (`""`: a history of one register without keys).
    pub key: String,
    /// Text of each value (`values[0]` is `nil`).
    pub values: Vec<String>,
    index: HashMap<String, u32>,
    pub ops: Vec<Operation>,
}

impl KeyHistory {
    pub fn new(key: &str) -> Self {
        let mut k = KeyHistory {
            key: key.to_string(),
            ..Default::default()
        };
        k.values.push("nil".into());
        k.index.insert("nil".into(), 0);
        k
    }

    /// The value with this text (`nil` is [`Value::NIL`]).
    pub fn intern(&mut self, text: &str) -> Value {
        if let Some(&i) = self.index.get(text) {
            return Value(i);
        }
        let i = self.values.len() as u32;
        self.values.push(text.to_string());
        self.index.insert(text.to_string(), i);
        Value(i)
    }

    pub fn text(&self, v: Value) -> &str {
        &self.values[v.0 as usize]
    }

    /// `write(3)`, `read() -> 3`, `cas(1, 2) -> fail`, `append('x')`...
    pub fn describe(&self, op: &Operation) -> String {
        let t = |v: Value| abridge(self.text(v));
        let out = match op.output {
            Output::Unknown => " -> ?".to_string(),
            Output::Value(v) => format!(" -> {}", t(v)),
            Output::Ok => String::new(),
            Output::CasFailed => " -> fail".to_string(),
        };
        match op.input {
            Input::Read | Input::Get => format!("{}(){out}", op.input.f()),
            Input::Write(v) | Input::Put(v) | Input::Append(v) => {
                format!("{}({}){out}", op.input.f(), t(v))
            }
            Input::Cas(a, b) => format!("cas({}, {}){out}", t(a), t(b)),
        }
    }

    /// `key "7"`, or `the register` for a history without keys.
    pub fn name(&self) -> String {
        if self.key.is_empty() {
            "the register".to_string()
        } else {
            format!("key {}", self.key)
        }
    }
}

/// A whole foreign history: its keys, in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub keys: Vec<KeyHistory>,
    /// Odd input that was tolerated (completions without invoke, ...).
    pub warnings: Vec<String>,
}

impl History {
    pub fn operations(&self) -> usize {
        self.keys.iter().map(|k| k.ops.len()).sum()
    }
}

/// How a completion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Ok(Output),
    Fail,
    Info,
}

/// Pairs invoke and completion events by process into a [`History`]. A process has at most one
/// operation outstanding; an invoke while one is outstanding leaves the earlier one open.
#[derive(Default)]
pub struct Builder {
    keys: Vec<KeyHistory>,
    key_index: HashMap<String, usize>,
    /// process -> (key, op) outstanding.
    open: HashMap<i64, (usize, usize)>,
    /// Ops that failed: (key, op), dropped in `finish`.
    failed: Vec<(usize, usize)>,
    pos: u64,
    without_invoke: (u64, u32),
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of key `name`, added when new.
    pub fn key(&mut self, name: &str) -> usize {
        if let Some(&i) = self.key_index.get(name) {
            return i;
        }
        let i = self.keys.len();
        self.keys.push(KeyHistory::new(name));
        self.key_index.insert(name.to_string(), i);
        i
    }

    pub fn value(&mut self, key: usize, text: &str) -> Value {
        self.keys[key].intern(text)
    }

    /// An invoke event of `process` on `key` (from [`Builder::key`]).
    pub fn invoke(&mut self, process: i64, key: usize, input: Input, line: u32, ns: Option<u64>) {
        let call = self.next_pos();
        let ops = &mut self.keys[key].ops;
        ops.push(Operation {
            call_ns: ns,
            call_line: line,
            ..Operation::new(process, call, OPEN, input, Output::Unknown)
        });
        let idx = ops.len() - 1;
        self.open.insert(process, (key, idx));
    }

    /// The key of `process`'s outstanding operation, if any.
    pub fn outstanding_key(&self, process: i64) -> Option<usize> {
        self.open.get(&process).map(|&(k, _)| k)
    }

    /// A completion event of `process`. One without an outstanding invoke is tallied and
    /// ignored.
    pub fn complete(&mut self, process: i64, how: Completion, line: u32, ns: Option<u64>) {
        let pos = self.next_pos();
        let Some((k, i)) = self.open.remove(&process) else {
            if self.without_invoke.0 == 0 {
                self.without_invoke.1 = line;
            }
            self.without_invoke.0 += 1;
            return;
        };
        let op = &mut self.keys[k].ops[i];
        op.ret_line = line;
        match how {
            Completion::Ok(out) => {
                op.ret = pos;
                op.ret_ns = ns;
                op.output = out;
            }
            Completion::Fail => self.failed.push((k, i)),
            Completion::Info => {}
        }
    }

    fn next_pos(&mut self) -> u64 {
        self.pos += 1;
        self.pos
    }

    /// Drops failed operations and open reads; what is still outstanding stays open.
    pub fn finish(mut self) -> History {
        let mut warnings = Vec::new();
        if self.without_invoke.0 > 0 {
            warnings.push(format!(
                "{} completion(s) have no invoke by their process; they were ignored (first at line {})",
                self.without_invoke.0, self.without_invoke.1
            ));
        }
        let mut drop: Vec<Vec<bool>> = self.keys.iter().map(|k| vec![false; k.ops.len()]).collect();
        for (k, i) in self.failed {
            drop[k][i] = true;
        }
        for (k, kh) in self.keys.iter_mut().enumerate() {
            let mut i = 0;
            kh.ops.retain(|op| {
                let d = drop[k][i] || (op.input.is_read() && op.output == Output::Unknown);
                i += 1;
                !d
            });
        }
        History {
            keys: self.keys,
            warnings,
        }
    }
}

/// A long string's two ends: `x 6 0 yx 26 1 y … x 7 3 yx 32 4 y` (40 characters each side).
pub fn abridge(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= 100 {
        return s.to_string();
    }
    let head: String = chars[..40].iter().collect();
    let tail: String = chars[chars.len() - 40..].iter().collect();
    format!("{head} … {tail} ({} characters)", chars.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_is_dropped_info_stays_open_and_info_reads_go() {
        let mut b = Builder::new();
        let k = b.key("x");
        let v1 = b.value(k, "1");
        b.invoke(1, k, Input::Write(v1), 1, None);
        b.invoke(2, k, Input::Write(v1), 2, None);
        b.invoke(3, k, Input::Read, 3, None);
        b.invoke(4, k, Input::Read, 4, None);
        b.complete(1, Completion::Fail, 5, None);
        b.complete(2, Completion::Info, 6, None);
        b.complete(3, Completion::Info, 7, None);
        b.complete(4, Completion::Ok(Output::Value(v1)), 8, None);
        b.complete(9, Completion::Ok(Output::Ok), 9, None);
        let h = b.finish();
        let ops = &h.keys[0].ops;
        assert_eq!(ops.len(), 2);
        assert_eq!((ops[0].process, ops[0].ret), (2, OPEN));
        assert_eq!((ops[1].process, ops[1].call, ops[1].ret), (4, 4, 8));
        assert_eq!(h.warnings.len(), 1, "{:?}", h.warnings);
        assert_eq!(h.keys[0].describe(&ops[1]), "read() -> 1");
    }
}
