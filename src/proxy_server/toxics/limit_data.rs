//! `limit_data`: closes the connection once `bytes` bytes have passed in this direction.

use std::any::Any;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Event, Stub};

/// Attributes of the limit_data toxic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitData {
    /// Number of bytes to let through before closing.
    pub bytes: i64,
}

/// Bytes already let through on one connection (survives updates of the toxic).
#[derive(Debug, Default)]
struct Transmitted(i64);

#[async_trait]
impl Toxic for LimitData {
    async fn pipe(&self, stub: &mut Stub) {
        let mut transmitted = stub
            .state
            .as_ref()
            .and_then(|state| state.downcast_ref::<Transmitted>())
            .map_or(0, |state| state.0);
        loop {
            let mut chunk = match stub.recv().await {
                Event::Interrupt => break,
                Event::Eof => break stub.close(),
                Event::Data(chunk) => chunk,
            };
            let remaining = (self.bytes - transmitted).max(0) as usize;
            chunk.data.truncate(remaining);
            let len = chunk.data.len() as i64;
            // An interrupted send keeps the chunk and sends it on the next run: count it now.
            transmitted += len;
            if len > 0 && !stub.send(chunk).await {
                break;
            }
            if self.bytes - transmitted <= 0 {
                break stub.close();
            }
        }
        stub.state = Some(Box::new(Transmitted(transmitted)));
    }

    fn new_state(&self) -> Option<Box<dyn Any + Send>> {
        Some(Box::new(Transmitted::default()))
    }
}
