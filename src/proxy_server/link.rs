//! One direction of one proxied connection: a reader, a chain of stubs, a writer
//! (Toxiproxy's `ToxicLink`).
//!
//! The chain can change while data flows: a stage is interrupted (its task hands the stub
//! back), rewired and started again, so toxics added, updated or removed through the API act on
//! connections that are already open, without losing or reordering bytes.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::stub::{Chunk, Sockets, Stub};
use super::toxics::{Noop, Toxic, ToxicWrapper};

/// Go's `io.Copy` buffer size, which Toxiproxy reads with.
const READ_BUFFER: usize = 32 * 1024;

/// A socket of the connection and the token that closes it. The socket's file descriptor is
/// closed (FIN, or RST after reset_peer) once the token is cancelled and both tasks using it
/// (one link's reader, the other link's writer) have let go of it.
#[derive(Clone)]
pub struct End {
    pub socket: Arc<TcpStream>,
    pub closed: CancellationToken,
}

/// One stage of the chain as the link holds it.
enum Slot {
    Running {
        interrupt: mpsc::Sender<()>,
        task: JoinHandle<Stub>,
    },
    /// Closed, or taken out while the chain is being changed.
    Stopped,
}

impl Slot {
    /// Runs `toxic` on the stub (or a noop, if the toxicity draw says so) in a new task.
    fn run(mut stub: Stub, toxic: Arc<ToxicWrapper>) -> Slot {
        let (interrupt, receiver) = mpsc::channel(1);
        stub.interrupt = receiver;
        let task = tokio::spawn(async move {
            if let Some(chunk) = stub.pending.take() {
                if !stub.send(chunk).await {
                    return stub;
                }
            }
            if !stub.is_closed() {
                if rand::random::<f32>() < toxic.toxicity {
                    toxic.toxic.pipe(&mut stub).await;
                } else {
                    Noop {}.pipe(&mut stub).await;
                }
            }
            stub
        });
        Slot::Running { interrupt, task }
    }

    /// Stops the running toxic and takes its stub back; `None` if the stub is closed.
    async fn interrupt(&mut self) -> Option<Stub> {
        let Slot::Running { interrupt, task } = std::mem::replace(self, Slot::Stopped) else {
            return None;
        };
        let _ = interrupt.try_send(());
        match task.await {
            Ok(stub) if !stub.is_closed() => Some(stub),
            _ => None,
        }
    }
}

/// A running link. Its slots line up with the proxy's chain for its direction: every change
/// goes through the [`ToxicCollection`](super::toxic_collection::ToxicCollection), which holds
/// its lock while it updates all links.
pub struct Link {
    slots: Mutex<Vec<Slot>>,
    sockets: Arc<Sockets>,
}

impl Link {
    /// Starts the reader, one stub per toxic of `chain` (which begins with the noop head) and
    /// the writer. The returned handle ends when the writer has closed `dest`.
    pub fn start(
        chain: &[Arc<ToxicWrapper>],
        source: End,
        dest: End,
        sockets: Arc<Sockets>,
    ) -> (Arc<Link>, JoinHandle<()>) {
        let (first, mut input) = mpsc::channel(1);
        tokio::spawn(read_loop(source, first));
        let mut slots = Vec::with_capacity(chain.len());
        for (i, toxic) in chain.iter().enumerate() {
            let capacity = chain
                .get(i + 1)
                .map_or(1, |next| next.toxic.buffer_size().max(1));
            let (output, next_input) = mpsc::channel(capacity);
            let stub = Stub::new(
                input,
                Some(output),
                toxic.toxic.new_state(),
                sockets.clone(),
            );
            slots.push(Slot::run(stub, toxic.clone()));
            input = next_input;
        }
        let writer = tokio::spawn(write_loop(dest, input));
        (
            Arc::new(Link {
                slots: Mutex::new(slots),
                sockets,
            }),
            writer,
        )
    }

    /// Appends `toxic` to the end of the chain; `last` is the toxic that was last before it.
    pub async fn add_toxic(&self, toxic: Arc<ToxicWrapper>, last: Arc<ToxicWrapper>) {
        let mut slots = self.slots.lock().await;
        let Some(slot) = slots.last_mut() else { return };
        let Some(mut last_stub) = slot.interrupt().await else {
            // The link is closing; keep the slots lined up with the chain.
            return slots.push(Slot::Stopped);
        };
        let (output, input) = mpsc::channel(toxic.toxic.buffer_size().max(1));
        let stub = Stub::new(
            input,
            last_stub.output.replace(output),
            toxic.toxic.new_state(),
            self.sockets.clone(),
        );
        *slot = Slot::run(last_stub, last);
        slots.push(Slot::run(stub, toxic));
    }

    /// Restarts the stub at `index` with the new settings of its toxic (its state is kept).
    pub async fn update_toxic(&self, index: usize, toxic: Arc<ToxicWrapper>) {
        let mut slots = self.slots.lock().await;
        let Some(slot) = slots.get_mut(index) else {
            return;
        };
        if let Some(stub) = slot.interrupt().await {
            *slot = Slot::run(stub, toxic);
        }
    }

    /// Takes the stub at `index` out of the chain, passing on the data it holds; `previous` is
    /// the toxic before it, which is restarted with the removed stub's output.
    pub async fn remove_toxic(
        &self,
        index: usize,
        removed: &dyn Toxic,
        previous: Arc<ToxicWrapper>,
    ) {
        let mut slots = self.slots.lock().await;
        if index == 0 || index >= slots.len() {
            return;
        }
        let mut slot = slots.remove(index);
        let Some(mut stub) = slot.interrupt().await else {
            return;
        };
        removed.cleanup(&mut stub);
        if stub.is_closed() {
            return;
        }
        if let Some(chunk) = stub.pending.take() {
            stub.flush(chunk).await;
        }
        // The previous stage may be blocked sending into this stub: keep draining while it is
        // being interrupted.
        let (previous_stub, eof) = {
            let interrupt = slots[index - 1].interrupt();
            tokio::pin!(interrupt);
            let mut eof = false;
            let previous_stub = loop {
                tokio::select! {
                    stub_back = &mut interrupt => break stub_back,
                    chunk = stub.input.recv(), if !eof => match chunk {
                        Some(chunk) => stub.flush(chunk).await,
                        None => eof = true,
                    },
                }
            };
            (previous_stub, eof)
        };
        let Some(mut previous_stub) = previous_stub.filter(|_| !eof) else {
            return stub.close();
        };
        while let Ok(chunk) = stub.input.try_recv() {
            stub.flush(chunk).await;
        }
        previous_stub.output = stub.output.take();
        slots[index - 1] = Slot::run(previous_stub, previous);
    }
}

async fn read_some(socket: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        socket.readable().await?;
        match socket.try_read(buf) {
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
            result => return result,
        }
    }
}

async fn write_all(socket: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        socket.writable().await?;
        match socket.try_write(data) {
            Ok(n) => data = &data[n..],
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Copies the source socket into the chain until it ends, fails or is closed; dropping the
/// sender then tells the chain the stream ended.
async fn read_loop(source: End, chain: mpsc::Sender<Chunk>) {
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        let n = tokio::select! {
            _ = source.closed.cancelled() => return,
            read = read_some(&source.socket, &mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
        };
        let chunk = Chunk {
            data: bytes::Bytes::copy_from_slice(&buf[..n]),
            timestamp: std::time::Instant::now(),
        };
        tokio::select! {
            _ = source.closed.cancelled() => return,
            sent = chain.send(chunk) => if sent.is_err() { return },
        }
    }
}

/// Copies the chain's output to the destination socket; at the end of the stream (or on an
/// error) closes the destination, as Toxiproxy's `dest.Close()`.
async fn write_loop(dest: End, mut chain: mpsc::Receiver<Chunk>) {
    loop {
        let chunk = tokio::select! {
            _ = dest.closed.cancelled() => break,
            chunk = chain.recv() => match chunk {
                Some(chunk) => chunk,
                None => break,
            },
        };
        let written = tokio::select! {
            _ = dest.closed.cancelled() => break,
            written = write_all(&dest.socket, &chunk.data) => written,
        };
        if written.is_err() {
            break;
        }
    }
    // Stop accepting chunks before anything else, so no stage blocks on this link any more.
    drop(chain);
    dest.closed.cancel();
}
