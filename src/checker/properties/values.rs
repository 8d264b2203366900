//! What the value checkers ([`dirty`](crate::checker::properties::dirty), [`impossible`](crate::checker::properties::impossible),
//! [`lost`](crate::checker::properties::lost)) share: the values of a key that writes carried but no commit did.
//!
//! A write that ended `info` (or never completed) and did commit makes its value legitimate:
//! reading it is neither dirty nor impossible. `fail` and `info` reads are not judged.

use crate::checker::fasthash::FastMap;
use crate::checker::ops::Op;
use crate::checker::truth::{KeyData, POS_NONE};

/// Fills `map` with each value of `kd` that some write carried but no commit of the key
/// carries, mapped to the index (in `kd.ops`) of the first write that carried it.
pub fn uncommitted(kd: &KeyData, map: &mut FastMap<i64, usize>) {
    map.clear();
    for (i, op) in kd.ops.iter().enumerate() {
        if let (true, Some(v), POS_NONE) = (op.write, op.value(), op.pos) {
            map.entry(v).or_insert(i);
        }
    }
}

/// The invoke and completion lines of a read.
pub fn read_events(op: &Op) -> Vec<u64> {
    vec![op.inv_idx as u64, op.cmp_idx as u64]
}
