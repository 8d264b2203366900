//! Lowe's memoisation for the Wing–Gong search: the set of (linearized operations, state)
//! configurations already explored. A configuration seen before leads nowhere new, so the
//! search skips it (Porcupine's `cache`).
//!
//! The linearized set is a bitset over the key's operations, hashed incrementally (Zobrist:
//! a random word per operation, XORed in and out as the operation is linearized and undone),
//! so a probe costs one map lookup plus one bitset comparison per entry with the same hash.
//! Entries live in one flat arena of words; the map holds the first entry of each hash and
//! a chain links the rest.

use crate::checker::fasthash::FastMap;

/// The bitset of linearized operations, with its running hash.
pub struct Linearized {
    words: Vec<u64>,
    zobrist: Vec<u64>,
    hash: u64,
}

impl Linearized {
    /// An empty set over `n` operations (the Zobrist words are seeded: runs repeat exactly).
    pub fn new(n: usize) -> Self {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let zobrist = (0..n)
            .map(|_| {
                // SplitMix64.
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^ (z >> 31)
            })
            .collect();
        Linearized {
            words: vec![0; n.div_ceil(64)],
            zobrist,
            hash: 0,
        }
    }

    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
        self.hash ^= self.zobrist[i];
    }

    pub fn clear(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
        self.hash ^= self.zobrist[i];
    }
}

const NONE: u32 = u32::MAX;

/// The configurations seen.
pub struct Memo {
    width: usize,
    words: Vec<u64>,
    states: Vec<u32>,
    chain: Vec<u32>,
    first: FastMap<u64, u32>,
}

impl Memo {
    pub fn new(ops: usize) -> Self {
        Memo {
            width: ops.div_ceil(64),
            words: Vec::new(),
            states: Vec::new(),
            chain: Vec::new(),
            first: FastMap::default(),
        }
    }

    /// Adds the configuration; false if it was already there.
    pub fn insert(&mut self, set: &Linearized, state: u32) -> bool {
        let h = set.hash ^ (state as u64).wrapping_mul(0x2545_f491_4f6c_dd1d);
        let head = self.first.get(&h).copied().unwrap_or(NONE);
        let mut i = head;
        while i != NONE {
            let at = i as usize;
            if self.states[at] == state
                && self.words[at * self.width..(at + 1) * self.width] == set.words[..]
            {
                return false;
            }
            i = self.chain[at];
        }
        let id = self.states.len() as u32;
        self.words.extend_from_slice(&set.words);
        self.states.push(state);
        self.chain.push(head);
        self.first.insert(h, id);
        true
    }

    /// Bytes held, roughly (for the memory budget).
    pub fn bytes(&self) -> usize {
        self.words.len() * 8 + self.states.len() * 8 + self.first.len() * 16
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_is_seen_once_whatever_the_order_it_was_reached_in() {
        let mut set = Linearized::new(130);
        let mut memo = Memo::new(130);
        set.set(3);
        set.set(129);
        assert!(memo.insert(&set, 7));
        assert!(!memo.insert(&set, 7));
        assert!(
            memo.insert(&set, 8),
            "another state is another configuration"
        );
        set.clear(3);
        set.clear(129);
        set.set(129);
        set.set(3);
        assert!(!memo.insert(&set, 7), "the same set reached the other way");
        set.clear(129);
        assert!(memo.insert(&set, 7));
        assert_eq!(memo.len(), 3);
    }
}
