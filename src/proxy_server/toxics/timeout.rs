//! `timeout`: stops all data and closes the connection after `timeout` ms (never if 0).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Event, Stub};

/// Attributes of the timeout toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Timeout {
    /// Milliseconds until the connection is closed; 0 = hold it open, dropping data, until the
    /// toxic is removed (which then closes it).
    pub timeout: i64,
}

#[async_trait]
impl Toxic for Timeout {
    async fn pipe(&self, stub: &mut Stub) {
        let deadline = (self.timeout > 0)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(self.timeout as u64));
        let mut eof = false;
        loop {
            let expired = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let event = async {
                if eof {
                    stub.interrupted().await;
                    Event::Interrupt
                } else {
                    stub.recv().await
                }
            };
            tokio::select! {
                biased;
                _ = expired => return stub.close(),
                // Data is dropped on the floor; after end of stream just wait.
                event = event => match event {
                    Event::Interrupt => return,
                    Event::Eof => eof = true,
                    Event::Data(_) => {}
                },
            }
        }
    }

    /// Removing a timeout toxic closes the connections it held (Toxiproxy 2.1.1+).
    fn cleanup(&self, stub: &mut Stub) {
        stub.close();
    }
}
