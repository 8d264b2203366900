//! The per-connection, per-toxic pipe stage a toxic runs on (Toxiproxy's `ToxicStub`).
//!
//! A link (one direction of one connection) is a chain of stubs joined by channels:
//!
//! ```text
//! reader -> [noop stub] -> [toxic 1 stub] -> ... -> [toxic n stub] -> writer
//! ```
//!
//! A toxic's [`Toxic::pipe`](super::toxics::Toxic::pipe) moves chunks from its stub's input to
//! its output until the stub is interrupted (the chain is being changed, see
//! [`Link`](super::link::Link)) or closed (end of stream). Closing a stub drops its output, which
//! the next stage sees as end of stream; at the end of the chain the writer then closes the
//! destination socket.

use std::any::Any;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// Toxiproxy's `WriteOutput` deadline when a removed toxic's buffered chunks are flushed.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A piece of the byte stream, stamped with the time it was read from the source socket.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub data: Bytes,
    pub timestamp: Instant,
}

/// What [`Stub::recv`] saw first.
#[derive(Debug)]
pub enum Event {
    /// The chain is being changed: return from `pipe` now (keep no chunk).
    Interrupt,
    /// A chunk of the stream.
    Data(Chunk),
    /// The source ended: close the stub (or delay closing it) and return.
    Eof,
}

/// Both sockets of one proxied connection, held weakly so a toxic can change socket options
/// (reset_peer's `SO_LINGER 0`) without keeping a closed connection alive.
#[derive(Debug, Default)]
pub struct Sockets {
    pub client: Weak<TcpStream>,
    pub upstream: Weak<TcpStream>,
}

impl Sockets {
    /// Shuts both sockets down for reading and writing: from now on no byte is read from or
    /// written to either (the tasks still holding them then end on EOF or an error).
    pub fn shutdown(&self) {
        for socket in [&self.client, &self.upstream] {
            if let Some(socket) = socket.upgrade() {
                // ENOTCONN when the peer is already gone: nothing can pass anyway.
                let _ = socket2::SockRef::from(&*socket).shutdown(std::net::Shutdown::Both);
            }
        }
    }

    /// Makes the next close of both sockets a TCP RST instead of a FIN (`SO_LINGER` = 0).
    pub fn set_linger_zero(&self) {
        for socket in [&self.client, &self.upstream] {
            if let Some(socket) = socket.upgrade() {
                if let Err(err) = socket2::SockRef::from(&*socket).set_linger(Some(Duration::ZERO))
                {
                    tracing::warn!(%err, "reset_peer: cannot set SO_LINGER 0");
                }
            }
        }
    }
}

/// One stage of a link's chain. Owned by the task running its toxic while it runs, and handed
/// back to the link when that task returns.
pub struct Stub {
    pub(crate) input: mpsc::Receiver<Chunk>,
    pub(crate) output: Option<mpsc::Sender<Chunk>>,
    pub(crate) interrupt: mpsc::Receiver<()>,
    /// A chunk taken from the input but not yet sent when the stub was interrupted; sent first
    /// when the stub runs again, so no data is dropped or reordered.
    pub(crate) pending: Option<Chunk>,
    closed: bool,
    /// Per-connection state of a stateful toxic (limit_data's byte count); kept across runs.
    pub state: Option<Box<dyn Any + Send>>,
    pub(crate) sockets: Arc<Sockets>,
}

impl Stub {
    pub(crate) fn new(
        input: mpsc::Receiver<Chunk>,
        output: Option<mpsc::Sender<Chunk>>,
        state: Option<Box<dyn Any + Send>>,
        sockets: Arc<Sockets>,
    ) -> Stub {
        let (_, interrupt) = mpsc::channel(1);
        Stub {
            input,
            output,
            interrupt,
            pending: None,
            closed: false,
            state,
            sockets,
        }
    }

    /// Waits for the next input chunk, end of stream, or an interrupt (which wins ties).
    pub async fn recv(&mut self) -> Event {
        tokio::select! {
            biased;
            _ = self.interrupt.recv() => Event::Interrupt,
            chunk = self.input.recv() => match chunk {
                Some(chunk) => Event::Data(chunk),
                None => Event::Eof,
            },
        }
    }

    /// Waits for an interrupt only (the input is left alone).
    pub async fn interrupted(&mut self) {
        let _ = self.interrupt.recv().await;
    }

    /// Sleeps for `duration`; false if interrupted first.
    pub async fn sleep(&mut self, duration: Duration) -> bool {
        if duration.is_zero() {
            // No trip through the timer wheel (1 ms granularity) for a zero delay.
            return matches!(
                self.interrupt.try_recv(),
                Err(mpsc::error::TryRecvError::Empty)
            );
        }
        tokio::select! {
            biased;
            _ = self.interrupt.recv() => false,
            _ = tokio::time::sleep(duration) => true,
        }
    }

    /// Sends a chunk to the next stage. False when the toxic must return from `pipe`: it was
    /// interrupted while waiting (the chunk is kept and sent when the stub runs again), or the
    /// next stage is gone (the stub is then closed).
    pub async fn send(&mut self, chunk: Chunk) -> bool {
        let Some(output) = self.output.as_ref() else {
            return false;
        };
        let gone = match tokio::select! {
            biased;
            _ = self.interrupt.recv() => None,
            permit = output.reserve() => Some(permit),
        } {
            Some(Ok(permit)) => {
                permit.send(chunk);
                return true;
            }
            Some(Err(_)) => true,
            None => {
                self.pending = Some(chunk);
                false
            }
        };
        if gone {
            self.close();
        }
        false
    }

    /// Sends a chunk without watching for interrupts (used while the stub is not running),
    /// giving up after Toxiproxy's 5 s flush deadline.
    pub(crate) async fn flush(&mut self, chunk: Chunk) {
        if let Some(output) = self.output.as_ref() {
            match tokio::time::timeout(FLUSH_TIMEOUT, output.send(chunk)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => self.close(),
                Err(_) => tracing::warn!("could not flush a chunk after removing a toxic"),
            }
        }
    }

    /// Ends the stream here: the next stage sees end of stream.
    pub fn close(&mut self) {
        self.closed = true;
        self.output = None;
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Makes the connection's sockets close with a TCP RST (reset_peer).
    pub fn set_linger_zero(&self) {
        self.sockets.set_linger_zero();
    }
}
