//! `latency`: delays every chunk by `latency` ± `jitter` milliseconds.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Event, Stub};

/// Attributes of the latency toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Latency {
    /// Delay in milliseconds.
    pub latency: i64,
    /// Random variation in milliseconds: each chunk waits `latency + U[-jitter, jitter)`.
    pub jitter: i64,
}

impl Latency {
    fn delay_ms(&self) -> i64 {
        let mut delay = self.latency;
        if self.jitter > 0 {
            delay += rand::thread_rng().gen_range(0..self.jitter * 2) - self.jitter;
        }
        delay
    }
}

/// `timestamp + signed milliseconds - elapsed`, as Go's `c.Timestamp.Add(sleep)`.
fn shift(timestamp: Instant, forward: Duration, back: Duration) -> Instant {
    (timestamp + forward).checked_sub(back).unwrap_or(timestamp)
}

#[async_trait]
impl Toxic for Latency {
    async fn pipe(&self, stub: &mut Stub) {
        loop {
            let mut chunk = match stub.recv().await {
                Event::Interrupt => return,
                Event::Eof => return stub.close(),
                Event::Data(chunk) => chunk,
            };
            // The delay counts from when the chunk was read, so chunks queued behind a delayed
            // one are not delayed twice.
            let delay = Duration::from_millis(self.delay_ms().max(0) as u64);
            let elapsed = chunk.timestamp.elapsed();
            let sleep = delay.saturating_sub(elapsed);
            if !stub.sleep(sleep).await {
                // Interrupted: keep the chunk (it is sent at once when the stub runs again).
                stub.pending = Some(chunk);
                return;
            }
            chunk.timestamp = shift(chunk.timestamp, delay, elapsed);
            if !stub.send(chunk).await {
                return;
            }
        }
    }

    fn buffer_size(&self) -> usize {
        1024
    }
}
