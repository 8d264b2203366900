//! From completion order to key order: the operations the [`Builder`](super::ops::Builder)
//! collected in completion order are moved into one flat array, grouped by key (each key's ops
//! in completion order), and resolved against their key's versions; each key then sees its ops
//! as an [`OpList`](super::op::OpList), a slice of that array.
//!
//! One array instead of a vector per key: no allocation per key (a million keys were a
//! million `malloc`s and their page faults), and the moves write to one place per key. With
//! `threads > 1` the keys are cut into ranges of about equal operation counts and each thread
//! moves and resolves the operations of its range; the result is the same array.

use super::fasthash::FastMap;
use super::op::{Op, OpList, Outcome, NO_ACK, NO_IDX, POS_NONE};
use super::truth::{position, KeyData};
use std::mem::MaybeUninit;
use std::sync::Arc;

/// A kind of oddity found while resolving: how many, and the 0-based line of the first (in key
/// order, then op order).
#[derive(Default, Clone, Copy)]
pub struct FirstOf {
    pub count: u64,
    pub first_idx: usize,
}

impl FirstOf {
    fn add(&mut self, idx: usize) {
        if self.count == 0 {
            self.first_idx = idx;
        }
        self.count += 1;
    }

    fn then(self, later: FirstOf) -> FirstOf {
        if self.count == 0 {
            later
        } else {
            FirstOf {
                count: self.count + later.count,
                first_idx: self.first_idx,
            }
        }
    }
}

/// Moves `chunks` (ops in completion order, each knowing its key's index) into one array
/// grouped by key, resolves each key's ops, and gives each key its [`OpList`]. Returns the
/// `ok` writes that wrote a value already acknowledged for their key.
pub fn distribute(keys: &mut [KeyData], chunks: Vec<Vec<Op>>, threads: usize) -> FirstOf {
    let mut counts = vec![0usize; keys.len()];
    for op in chunks.iter().flatten() {
        counts[op.key_ix() as usize] += 1;
    }
    let total: usize = counts.iter().sum();
    // Key ranges of about total / threads ops each: [bounds[i], bounds[i + 1]).
    let parts = threads.clamp(1, 64).min(keys.len().max(1));
    let mut bounds = vec![0usize];
    let mut acc = 0usize;
    for (k, &n) in counts.iter().enumerate() {
        if acc >= total * bounds.len() / parts && bounds.len() < parts && k > 0 {
            bounds.push(k);
        }
        acc += n;
    }
    bounds.push(keys.len());
    // Where each key's ops go, as offsets into its range's part of the array.
    let mut starts = Vec::with_capacity(keys.len());
    let mut part_len = Vec::with_capacity(parts);
    for w in bounds.windows(2) {
        let mut at = 0usize;
        for &n in &counts[w[0]..w[1]] {
            starts.push(at);
            at += n;
        }
        part_len.push(at);
    }
    // The array is written in place, slot by slot: its pages are touched (and the chunks
    // freed) as the moves go, so the peak is about one array, not two.
    let mut flat: Vec<Op> = Vec::with_capacity(total);
    {
        let spare = &mut flat.spare_capacity_mut()[..total];
        let mut dst_parts = split_parts(spare, part_len.iter().copied());
        let mut cursors = split_parts(&mut starts, bounds.windows(2).map(|w| w[1] - w[0]));
        // Chunk by chunk, each freed once moved, every part taking its keys' ops.
        for chunk in chunks {
            let work = dst_parts
                .iter_mut()
                .zip(cursors.iter_mut())
                .zip(bounds.windows(2));
            if parts == 1 {
                for ((dst, cur), w) in work {
                    scatter(&chunk, dst, cur, w[0] as u32, w[1] as u32);
                }
                continue;
            }
            std::thread::scope(|s| {
                for ((dst, cur), w) in work {
                    let chunk = &chunk;
                    s.spawn(move || scatter(chunk, dst, cur, w[0] as u32, w[1] as u32));
                }
            });
        }
    }
    // Every slot was written once: each key's cursor ran from its start to its start + count.
    for (w, &len) in bounds.windows(2).zip(&part_len) {
        let mut end = 0usize;
        for k in w[0]..w[1] {
            end += counts[k];
            assert_eq!(starts[k], end, "key {k}: its operations were not all moved");
        }
        assert_eq!(end, len);
    }
    // SAFETY: the `total` slots were initialised by `scatter` (checked just above: the cursors
    // of every key ended exactly where the next key's slots begin, and the parts tile the array).
    unsafe { flat.set_len(total) };
    let mut dup = FirstOf::default();
    {
        // Resolve each part's keys against their versions.
        let op_parts = split_parts(&mut flat, part_len.iter().copied());
        let key_parts = split_parts(keys, bounds.windows(2).map(|w| w[1] - w[0]));
        let work = key_parts
            .into_iter()
            .zip(bounds.windows(2).map(|w| &counts[w[0]..w[1]]))
            .zip(op_parts);
        let found: Vec<FirstOf> = if parts == 1 {
            work.map(|((k, n), o)| resolve_part(k, n, o)).collect()
        } else {
            std::thread::scope(|s| {
                let hs: Vec<_> = work
                    .map(|((k, n), o)| s.spawn(move || resolve_part(k, n, o)))
                    .collect();
                hs.into_iter()
                    .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        };
        for f in found {
            dup = dup.then(f);
        }
    }
    let store = Arc::new(flat);
    let mut at = 0usize;
    for (kd, &n) in keys.iter_mut().zip(&counts) {
        kd.ops = OpList {
            store: Some(store.clone()),
            start: at,
            len: n,
        };
        at += n;
    }
    dup
}

/// `slice` cut into consecutive parts of the given lengths.
fn split_parts<T>(slice: &mut [T], lens: impl Iterator<Item = usize>) -> Vec<&mut [T]> {
    let mut out = Vec::new();
    let mut rest = slice;
    for n in lens {
        let (a, b) = std::mem::take(&mut rest).split_at_mut(n);
        out.push(a);
        rest = b;
    }
    out
}

/// Moves the ops of keys `lo..hi` from `chunk` to their places in `dst`, advancing `cur`
/// (indexed by key - lo). Each move touches a random key: prefetching the destination a few
/// ops ahead lets the cache misses overlap.
fn scatter(chunk: &[Op], dst: &mut [MaybeUninit<Op>], cur: &mut [usize], lo: u32, hi: u32) {
    const AHEAD: usize = 8;
    for (i, op) in chunk.iter().enumerate() {
        if let Some(next) = chunk.get(i + AHEAD) {
            let k = next.key_ix();
            if (lo..hi).contains(&k) {
                let at = cur[(k - lo) as usize];
                prefetch(dst.as_ptr().wrapping_add(at));
            }
        }
        let k = op.key_ix();
        if (lo..hi).contains(&k) {
            let c = &mut cur[(k - lo) as usize];
            dst[*c].write(*op);
            *c += 1;
        }
    }
}

/// Asks the CPU to bring the cache line at `p` in; never faults, whatever `p` is.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it does not dereference or fault on any address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Resolves the keys of one part; `counts[i]` ops of `keys[i]` come in `ops` in key order.
fn resolve_part(keys: &mut [KeyData], counts: &[usize], ops: &mut [Op]) -> FirstOf {
    let mut map = FastMap::default();
    let mut dup = FirstOf::default();
    let mut rest = ops;
    for (kd, &n) in keys.iter_mut().zip(counts) {
        let (mine, tail) = std::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        resolve(kd, mine, &mut map, &mut dup);
    }
    dup
}

/// Resolves a key's operations against its commits: the position of each `ok` read's and each
/// write's value, and for each `ok` write the acknowledgement of the version it wrote. Done key
/// by key so that the lookups stay in a small, hot map.
fn resolve(kd: &mut KeyData, ops: &mut [Op], map: &mut FastMap<i64, u32>, dup: &mut FirstOf) {
    kd.value_positions(map);
    let has_initial = kd.has_initial;
    for op in ops {
        if !op.write && op.outcome != Outcome::Ok || op.write && op.value().is_none() {
            continue;
        }
        op.pos = position(map, has_initial, op.value());
        if !op.write || op.pos == POS_NONE {
            continue;
        }
        let Some(v) = kd.versions.get_mut(op.pos as usize - 1) else {
            continue;
        };
        if v.write_inv_idx == NO_IDX {
            v.write_inv_idx = op.inv_idx;
        }
        if op.outcome != Outcome::Ok || v.initial {
            continue;
        }
        if v.ack_ns != NO_ACK {
            dup.add(op.cmp_idx as usize);
        }
        if op.cmp_ns < v.ack_ns {
            v.ack_ns = op.cmp_ns;
            v.ack_idx = op.cmp_idx;
        }
    }
}
