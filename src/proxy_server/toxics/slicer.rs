//! `slicer`: slices the stream into small chunks, optionally delaying each.

use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Chunk, Event, Stub};

/// Attributes of the slicer toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Slicer {
    /// Average size of a slice in bytes.
    pub average_size: i64,
    /// Variation of the slice size in bytes (should be smaller than `average_size`).
    pub size_variation: i64,
    /// Delay between slices in microseconds.
    pub delay: i64,
}

impl Slicer {
    /// Slice boundaries of `start..end` as `[s0, e0, s1, e1, ...]`, split in about halves
    /// recursively so that sizes vary evenly (Toxiproxy's `chunk`).
    fn chunk(&self, start: usize, end: usize, out: &mut Vec<usize>) {
        let size = (end - start) as i64;
        // Also stop at one byte, where Toxiproxy would recurse forever (average_size <= 0).
        if size - self.average_size <= self.size_variation || size <= 1 {
            out.extend([start, end]);
            return;
        }
        let variation = if self.size_variation > 0 {
            rand::thread_rng().gen_range(0..self.size_variation * 2) - self.size_variation
        } else {
            0
        };
        let mid = (start as i64 + size / 2 + variation).clamp(start as i64 + 1, end as i64 - 1);
        self.chunk(start, mid as usize, out);
        self.chunk(mid as usize, end, out);
    }
}

#[async_trait]
impl Toxic for Slicer {
    async fn pipe(&self, stub: &mut Stub) {
        let delay = Duration::from_micros(self.delay.max(0) as u64);
        loop {
            let chunk = match stub.recv().await {
                Event::Interrupt => return,
                Event::Eof => return stub.close(),
                Event::Data(chunk) => chunk,
            };
            let mut bounds = Vec::new();
            self.chunk(0, chunk.data.len(), &mut bounds);
            for pair in bounds.chunks(2) {
                let slice = Chunk {
                    data: chunk.data.slice(pair[0]..pair[1]),
                    timestamp: chunk.timestamp,
                };
                if !stub.send(slice).await {
                    // Whatever was not sent stays pending, in one piece.
                    if let Some(pending) = stub.pending.as_mut() {
                        pending.data = chunk.data.slice(pair[0]..);
                    }
                    return;
                }
                if !stub.sleep(delay).await {
                    stub.pending = Some(Chunk {
                        data: chunk.data.slice(pair[1]..),
                        timestamp: chunk.timestamp,
                    })
                    .filter(|rest| !rest.data.is_empty());
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Slicer;

    fn slices(slicer: &Slicer, len: usize) -> Vec<usize> {
        let mut bounds = Vec::new();
        slicer.chunk(0, len, &mut bounds);
        assert_eq!((bounds[0], *bounds.last().unwrap()), (0, len));
        bounds
            .windows(2)
            .skip(1)
            .step_by(2)
            .for_each(|w| assert_eq!(w[0], w[1], "contiguous"));
        bounds.chunks(2).map(|pair| pair[1] - pair[0]).collect()
    }

    #[test]
    fn slices_cover_the_chunk_in_sizes_near_the_average() {
        let slicer = Slicer {
            average_size: 10,
            size_variation: 3,
            delay: 0,
        };
        let sizes = slices(&slicer, 1000);
        assert!(sizes.len() > 50);
        assert!(
            sizes.iter().all(|&size| size > 0 && size <= 13),
            "{sizes:?}"
        );
    }

    #[test]
    fn degenerate_settings_still_terminate() {
        let zero = Slicer {
            average_size: 0,
            size_variation: 0,
            delay: 0,
        };
        assert_eq!(slices(&zero, 8), [1; 8]);
        let no_variation = Slicer {
            average_size: 4,
            size_variation: 0,
            delay: 0,
        };
        assert!(slices(&no_variation, 64).iter().all(|&size| size <= 4));
    }
}
