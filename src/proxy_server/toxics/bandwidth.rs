//! `bandwidth`: limits the rate of the stream to `rate` KB/s.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Chunk, Event, Stub};

/// Attributes of the bandwidth toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Bandwidth {
    /// Rate in KB/s (1 KB = 1000 bytes). 0 or less stalls the stream until the toxic is
    /// removed, as Toxiproxy does.
    pub rate: i64,
}

const SLICE: Duration = Duration::from_millis(100);

#[async_trait]
impl Toxic for Bandwidth {
    async fn pipe(&self, stub: &mut Stub) {
        // Time owed for the bytes sent so far, in ns; negative when timers overslept.
        let mut owed: i128 = 0;
        loop {
            let mut chunk = match stub.recv().await {
                Event::Interrupt => return,
                Event::Eof => return stub.close(),
                Event::Data(chunk) => chunk,
            };
            if self.rate <= 0 {
                stub.pending = Some(chunk);
                return stub.interrupted().await;
            }
            owed += chunk.data.len() as i128 * 1_000_000 / self.rate as i128;
            // A chunk bigger than 100 ms worth of data goes out in 100 ms slices.
            let per_slice = (self.rate as usize).saturating_mul(100);
            while chunk.data.len() > per_slice {
                if !stub.sleep(SLICE).await {
                    stub.pending = Some(chunk);
                    return;
                }
                let slice = Chunk {
                    data: chunk.data.split_to(per_slice),
                    timestamp: chunk.timestamp,
                };
                if !stub.send(slice).await {
                    // The slice is pending; the rest of the chunk would be lost: put it back.
                    if let Some(pending) = stub.pending.as_mut() {
                        let mut data = pending.data.to_vec();
                        data.extend_from_slice(&chunk.data);
                        pending.data = data.into();
                    }
                    return;
                }
                owed -= SLICE.as_nanos() as i128;
            }
            let start = Instant::now();
            let sleep = Duration::from_nanos(owed.max(0) as u64);
            if !stub.sleep(sleep).await {
                stub.pending = Some(chunk);
                return;
            }
            // Timers overshoot a little: carry the error into the next sleep.
            owed -= start.elapsed().as_nanos() as i128;
            if !stub.send(chunk).await {
                return;
            }
        }
    }
}
