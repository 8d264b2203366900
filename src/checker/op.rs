//! One client operation ([`Op`]: an invoke and its completion, a few dozen bytes) and a key's
//! operations ([`OpList`]), with the sentinels the checker's arrays use. Below
//! [`truth`](super::truth), [`distribute`](super::distribute) and [`ops`](super::ops), which
//! all speak of operations.

use crate::history::Source;
use std::sync::Arc;

/// The position of a value that no commit of the key carries (or null on a key with initial
/// data): it names no version.
pub const POS_NONE: u32 = u32::MAX;
/// `ack_ns` of a version that no `ok` write acknowledged.
pub const NO_ACK: u64 = u64::MAX;
/// A line index that does not exist (an initial commit, an op that never completed).
pub const NO_IDX: u32 = u32::MAX;

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
    pub(super) value: i64,
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
    pub(super) has_value: bool,
    /// The key's index in [`Keys`] (fits in what would be padding).
    pub(super) key_ix: u32,
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

/// A key's operations: a slice of the run's one array of operations (see the module doc).
/// Reads like a `[Op]` (`kd.ops.iter()`, `kd.ops[i]`, `kd.ops.len()`).
#[derive(Clone, Default)]
pub struct OpList {
    pub(super) store: Option<Arc<Vec<Op>>>,
    pub(super) start: usize,
    pub(super) len: usize,
}

impl std::ops::Deref for OpList {
    type Target = [Op];
    fn deref(&self) -> &[Op] {
        match &self.store {
            Some(s) => &s[self.start..self.start + self.len],
            None => &[],
        }
    }
}

impl<'a> IntoIterator for &'a OpList {
    type Item = &'a Op;
    type IntoIter = std::slice::Iter<'a, Op>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::fmt::Debug for OpList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl OpList {
    /// A list of its own (for tests and hand-built runs).
    pub fn from_vec(ops: Vec<Op>) -> Self {
        OpList {
            start: 0,
            len: ops.len(),
            store: Some(Arc::new(ops)),
        }
    }
}
