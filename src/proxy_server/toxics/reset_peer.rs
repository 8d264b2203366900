//! `reset_peer`: resets the connection (TCP RST, "connection reset by peer") when data arrives,
//! at once or `timeout` ms later.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Event, Stub};

/// Attributes of the reset_peer toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResetPeer {
    /// Milliseconds from the first chunk (or end of stream) seen to the reset; 0 = at once.
    pub timeout: i64,
}

#[async_trait]
impl Toxic for ResetPeer {
    async fn pipe(&self, stub: &mut Stub) {
        match stub.recv().await {
            Event::Interrupt => {}
            // The chunk is dropped. As in Toxiproxy the wait is not interruptible: once data has
            // arrived the reset happens.
            Event::Data(_) | Event::Eof => {
                tokio::time::sleep(Duration::from_millis(self.timeout.max(0) as u64)).await;
                // SO_LINGER 0 on both sockets, then close: the writer's close sends RST.
                stub.set_linger_zero();
                stub.close();
            }
        }
    }
}
