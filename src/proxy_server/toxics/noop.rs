//! `noop`: passes data through unchanged. It heads every chain (so a toxic added later can be
//! spliced in by interrupting it) and runs instead of a toxic that its toxicity skipped.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::Toxic;
use crate::proxy_server::stub::{Event, Stub};

/// No attributes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Noop {}

#[async_trait]
impl Toxic for Noop {
    async fn pipe(&self, stub: &mut Stub) {
        loop {
            match stub.recv().await {
                Event::Interrupt => return,
                Event::Eof => return stub.close(),
                Event::Data(chunk) => {
                    if !stub.send(chunk).await {
                        return;
                    }
                }
            }
        }
    }
}
