//! `slow_close`: delays closing the connection by `delay` ms after the stream ends.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Event, Stub};

/// Attributes of the slow_close toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SlowClose {
    /// Milliseconds to hold the connection open after end of stream.
    pub delay: i64,
}

#[async_trait]
impl Toxic for SlowClose {
    async fn pipe(&self, stub: &mut Stub) {
        loop {
            match stub.recv().await {
                Event::Interrupt => return,
                Event::Eof => {
                    let delay = Duration::from_millis(self.delay.max(0) as u64);
                    if stub.sleep(delay).await {
                        stub.close();
                    }
                    return;
                }
                Event::Data(chunk) => {
                    if !stub.send(chunk).await {
                        return;
                    }
                }
            }
        }
    }
}
