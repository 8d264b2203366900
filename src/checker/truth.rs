//! The ground truth: the database's committed versions of every key (`commits.jsonl`), and the
//! mapping from a value to the version that committed it.
//!
//! A key's states are numbered by *position*: position 0 is the key's state before any commit
//! ("absent", version 0, value null), meaningful only when the key has no `initial` commit;
//! position `i + 1` is the key's `i`-th commit in version order. Comparing positions compares
//! versions, whatever numbers the versions carry.

use super::fasthash::{FastMap, FastSet};
use super::op::OpList;
pub use super::op::{NO_ACK, NO_IDX, POS_NONE};
use crate::history::Commit;

/// The position of `value` on a key (see the module doc), given the key's
/// [`value_positions`](KeyData::value_positions) and whether it has initial data: the commit
/// carrying it, 0 for null on a key without initial data, [`POS_NONE`] otherwise.
pub fn position(map: &FastMap<i64, u32>, has_initial: bool, value: Option<i64>) -> u32 {
    match value {
        Some(v) => map.get(&v).copied().unwrap_or(POS_NONE),
        None if has_initial => POS_NONE,
        None => 0,
    }
}

/// One committed version of a key.
#[derive(Debug, Clone)]
pub struct Version {
    pub version: i64,
    pub value: i64,
    /// Loaded before the run: acknowledged at time 0 by no event.
    pub initial: bool,
    /// Acknowledgement time: completion time of the `ok` write carrying this value (0 for an
    /// initial commit, [`NO_ACK`] when no write was acknowledged, e.g. an `info` write).
    pub ack_ns: u64,
    /// Line index of that `ok` completion ([`NO_IDX`] when none).
    pub ack_idx: u32,
    /// Line index of the invoke of the write that wrote it ([`NO_IDX`] when none was seen).
    pub write_inv_idx: u32,
}

/// One key: its committed versions and the client operations on it.
#[derive(Debug, Clone, Default)]
pub struct KeyData {
    pub key: i64,
    /// The key had data before the run (an `initial` commit): it can never read as absent.
    pub has_initial: bool,
    /// Committed versions, by increasing version.
    pub versions: Vec<Version>,
    /// The key's operations in completion order (so each process's ops are in its own order);
    /// ops that never completed come last.
    pub ops: OpList,
}

impl KeyData {
    /// Number of positions (the absent state plus one per commit).
    pub fn positions(&self) -> usize {
        self.versions.len() + 1
    }

    /// The version at `pos` (0 for the absent state).
    pub fn version_at(&self, pos: u32) -> Option<&Version> {
        (pos as usize)
            .checked_sub(1)
            .and_then(|i| self.versions.get(i))
    }

    /// The version number at `pos` (0 for the absent state).
    pub fn version_number(&self, pos: u32) -> i64 {
        self.version_at(pos).map_or(0, |v| v.version)
    }

    /// Fills `map` with value -> position for this key (a repeated value names its lowest
    /// version).
    pub fn value_positions(&self, map: &mut FastMap<i64, u32>) {
        map.clear();
        for (i, v) in self.versions.iter().enumerate().rev() {
            map.insert(v.value, i as u32 + 1);
        }
    }

    /// The same as [`position`] by a linear search, for one-off lookups.
    pub fn position_of(&self, value: Option<i64>) -> u32 {
        match value {
            Some(v) => self
                .versions
                .iter()
                .position(|x| x.value == v)
                .map_or(POS_NONE, |i| i as u32 + 1),
            None if self.has_initial => POS_NONE,
            None => 0,
        }
    }

    /// `v17 (value 1017)`, or `v0 (absent)`.
    pub fn describe(&self, pos: u32) -> String {
        match self.version_at(pos) {
            Some(v) => format!("v{} (value {})", v.version, v.value),
            None => "v0 (absent)".to_string(),
        }
    }
}

/// All keys, with a lookup by key.
#[derive(Debug, Default)]
pub struct Keys {
    pub keys: Vec<KeyData>,
    /// The index of every key outside the dense range.
    index: FastMap<i64, u32>,
    /// `dense[k]`: the index of key `k` for keys `0..DENSE_MAX` ([`NO_IDX`]: unknown): no hash
    /// lookup (or insert) on the hot path for the usual keys `0..n`.
    dense: Vec<u32>,
}

/// Keys below this go in [`Keys`]'s dense table too (4 bytes each).
const DENSE_MAX: usize = 1 << 22;

/// Problems found in `commits.jsonl`, tallied so that each kind gives one warning.
#[derive(Default)]
struct CommitProblems {
    duplicate_versions: (u64, Option<(i64, i64)>),
    duplicate_values: (u64, Option<(i64, i64)>),
    late_initial: (u64, Option<i64>),
    non_positive: (u64, Option<(i64, i64)>),
}

impl Keys {
    /// Builds the keys from the commits, warning about commits that break the format's rules
    /// (duplicate versions: the first line wins; a duplicate value names its lowest version).
    pub fn from_commits(commits: &[Commit], warnings: &mut Vec<String>) -> Keys {
        let mut keys = Keys::default();
        let mut order: Vec<usize> = (0..commits.len()).collect();
        let sorted = commits
            .windows(2)
            .all(|w| (w[0].key, w[0].version) <= (w[1].key, w[1].version));
        if !sorted {
            order.sort_by_key(|&i| (commits[i].key, commits[i].version)); // stable: file order ties
        }
        let mut problems = CommitProblems::default();
        let mut last: Option<(i64, i64)> = None;
        // Of the current key (commits come grouped by key): its values, and whether a
        // non-initial version was seen.
        let mut values = FastSet::default();
        let mut saw_non_initial = false;
        for i in order {
            let c = &commits[i];
            if last == Some((c.key, c.version)) {
                tally(&mut problems.duplicate_versions, (c.key, c.version));
                continue;
            }
            if last.is_none_or(|(k, _)| k != c.key) {
                values.clear();
                saw_non_initial = false;
            }
            last = Some((c.key, c.version));
            if c.version <= 0 {
                tally(&mut problems.non_positive, (c.key, c.version));
            }
            if !values.insert(c.value) {
                tally(&mut problems.duplicate_values, (c.key, c.value));
            }
            let ki = keys.key_index(c.key);
            let kd = &mut keys.keys[ki as usize];
            if c.initial {
                if saw_non_initial {
                    tally(&mut problems.late_initial, c.key);
                }
                kd.has_initial = true;
            } else {
                saw_non_initial = true;
            }
            kd.versions.push(Version {
                version: c.version,
                value: c.value,
                initial: c.initial,
                ack_ns: if c.initial { 0 } else { NO_ACK },
                ack_idx: NO_IDX,
                write_inv_idx: NO_IDX,
            });
        }
        problems.report(warnings);
        keys
    }

    /// The index of `key`, adding the key (with no commits) when it is new.
    #[inline]
    pub fn key_index(&mut self, key: i64) -> u32 {
        if let Some(&i) = usize::try_from(key).ok().and_then(|k| self.dense.get(k)) {
            if i != NO_IDX {
                return i;
            }
        }
        self.key_index_slow(key)
    }

    fn key_index_slow(&mut self, key: i64) -> u32 {
        let dense = usize::try_from(key).ok().filter(|&k| k < DENSE_MAX);
        if let Some(&i) = dense.is_none().then(|| self.index.get(&key)).flatten() {
            return i;
        }
        let i = self.keys.len() as u32;
        self.keys.push(KeyData {
            key,
            ..KeyData::default()
        });
        match dense {
            Some(k) => {
                if k >= self.dense.len() {
                    let len = (k + 1).max(self.dense.len() * 2).min(DENSE_MAX);
                    self.dense.resize(len, NO_IDX);
                }
                self.dense[k] = i;
            }
            None => {
                self.index.insert(key, i);
            }
        }
        i
    }

    /// The key's data, if the key is known.
    pub fn find(&self, key: i64) -> Option<&KeyData> {
        let i = match usize::try_from(key).ok().filter(|&k| k < DENSE_MAX) {
            Some(k) => self.dense.get(k).copied().filter(|&i| i != NO_IDX),
            None => self.index.get(&key).copied(),
        };
        i.map(|i| &self.keys[i as usize])
    }
}

fn tally<T>(slot: &mut (u64, Option<T>), example: T) {
    slot.0 += 1;
    if slot.1.is_none() {
        slot.1 = Some(example);
    }
}

impl CommitProblems {
    fn report(self, warnings: &mut Vec<String>) {
        if let (n, Some((k, v))) = self.duplicate_versions {
            warnings.push(format!(
                "commits.jsonl: {n} commit(s) repeat a version of their key (first: key {k} v{v}); the first line of each version is used"
            ));
        }
        if let (n, Some((k, v))) = self.duplicate_values {
            warnings.push(format!(
                "commits.jsonl: {n} commit(s) repeat a value already committed to their key (first: key {k} value {v}); values must be unique per key; the value is taken to name its lowest version"
            ));
        }
        if let (n, Some(k)) = self.late_initial {
            warnings.push(format!(
                "commits.jsonl: {n} initial commit(s) come after a non-initial version of their key (first: key {k})"
            ));
        }
        if let (n, Some((k, v))) = self.non_positive {
            warnings.push(format!(
                "commits.jsonl: {n} commit(s) have a version <= 0 (first: key {k} v{v}); version 0 is the absent state"
            ));
        }
    }
}
