//! One proxy: a listener that pairs each accepted client with a new upstream connection, and
//! can be disabled (listener closed, open connections closed) and enabled again
//! (Toxiproxy's `Proxy`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};

use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::link::End;
use super::stub::Sockets;
use super::toxic_collection::ToxicCollection;
use super::toxics::{Direction, ToxicWrapper};

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// A proxy as the REST API shows it.
///
/// ```json
/// {"name": "redis", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379",
///  "enabled": true, "toxics": []}
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ProxyJson {
    pub name: String,
    /// The address listened on; after a start, the bound address (port 0 resolved).
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    pub toxics: Vec<Arc<ToxicWrapper>>,
}

/// Why a proxy did not start.
pub enum StartError {
    /// It was already running (ignored by `/reset`).
    AlreadyStarted,
    Listen(ApiError),
}

impl From<StartError> for ApiError {
    fn from(err: StartError) -> ApiError {
        match err {
            StartError::AlreadyStarted => ApiError::internal("Proxy already started"),
            StartError::Listen(err) => err,
        }
    }
}

struct State {
    listen: String,
    upstream: String,
    enabled: bool,
    accept: Option<(CancellationToken, JoinHandle<()>)>,
}

/// Open connections, so that disabling the proxy can close them. A connection started under an
/// older generation (the proxy was stopped while it dialled upstream) is refused.
#[derive(Default)]
struct Connections {
    generation: u64,
    /// Connection id -> its open connection, and how many links still run.
    open: HashMap<u64, (OpenConnection, usize)>,
}

/// What stopping the proxy needs of one connection.
struct OpenConnection {
    /// The tokens that end its two sockets' tasks.
    tokens: [CancellationToken; 2],
    sockets: Arc<Sockets>,
}

impl OpenConnection {
    /// Shuts both sockets down at once (no byte passes either way once this returns, as
    /// Toxiproxy's `conn.Close()` before it answers), then tells the tasks to let go of them,
    /// which closes the descriptors.
    fn close(&self) {
        self.sockets.shutdown();
        self.tokens.iter().for_each(CancellationToken::cancel);
    }
}

pub struct Proxy {
    pub name: String,
    state: Mutex<State>,
    pub toxics: ToxicCollection,
    connections: SyncMutex<Connections>,
}

/// Go's wording for a failed listen (`listen tcp 127.0.0.1:80: bind: address already in use`).
fn listen_error(listen: &str, err: &std::io::Error) -> ApiError {
    let reason = match err.kind() {
        std::io::ErrorKind::AddrInUse => "bind: address already in use".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "bind: cannot assign requested address".into(),
        std::io::ErrorKind::PermissionDenied => "bind: permission denied".into(),
        _ => err.to_string(),
    };
    ApiError::internal(format!("listen tcp {listen}: {reason}"))
}

/// Go's `net.Listen` accepts `:port` and an empty address (all interfaces).
fn bind_address(listen: &str) -> String {
    match listen {
        "" => "0.0.0.0:0".into(),
        _ if listen.starts_with(':') => format!("0.0.0.0{listen}"),
        _ => listen.into(),
    }
}

impl Proxy {
    pub fn new(name: String, listen: String, upstream: String) -> Arc<Proxy> {
        Arc::new(Proxy {
            name,
            state: Mutex::new(State {
                listen,
                upstream,
                enabled: false,
                accept: None,
            }),
            toxics: ToxicCollection::default(),
            connections: SyncMutex::new(Connections::default()),
        })
    }

    pub async fn to_json(&self) -> ProxyJson {
        let (listen, upstream, enabled) = {
            let state = self.state.lock().await;
            (state.listen.clone(), state.upstream.clone(), state.enabled)
        };
        ProxyJson {
            name: self.name.clone(),
            listen,
            upstream,
            enabled,
            toxics: self.toxics.list().await,
        }
    }

    /// The listen address, upstream address and whether the proxy is enabled.
    pub async fn settings(&self) -> (String, String, bool) {
        let state = self.state.lock().await;
        (state.listen.clone(), state.upstream.clone(), state.enabled)
    }

    pub async fn start(self: &Arc<Self>) -> Result<(), StartError> {
        let mut state = self.state.lock().await;
        self.start_locked(&mut state).await
    }

    pub async fn stop(&self) {
        let mut state = self.state.lock().await;
        self.stop_locked(&mut state).await;
    }

    /// Applies `POST /proxies/{proxy}`: a new listen or upstream address restarts the proxy
    /// (dropping its connections); `enabled` starts or stops it.
    pub async fn update(
        self: &Arc<Self>,
        listen: String,
        upstream: String,
        enabled: bool,
    ) -> Result<(), ApiError> {
        let mut state = self.state.lock().await;
        if listen != state.listen || upstream != state.upstream {
            self.stop_locked(&mut state).await;
            state.listen = listen;
            state.upstream = upstream;
        }
        if enabled != state.enabled {
            if enabled {
                self.start_locked(&mut state).await?;
            } else {
                self.stop_locked(&mut state).await;
            }
        }
        Ok(())
    }

    async fn start_locked(self: &Arc<Self>, state: &mut State) -> Result<(), StartError> {
        if state.enabled {
            return Err(StartError::AlreadyStarted);
        }
        let listener = TcpListener::bind(bind_address(&state.listen))
            .await
            .map_err(|err| StartError::Listen(listen_error(&state.listen, &err)))?;
        if let Ok(addr) = listener.local_addr() {
            state.listen = addr.to_string();
        }
        let generation = self
            .connections
            .lock()
            .expect("connections lock")
            .generation;
        let token = CancellationToken::new();
        let task = tokio::spawn(self.clone().accept_loop(
            listener,
            token.clone(),
            state.upstream.clone(),
            generation,
        ));
        state.accept = Some((token, task));
        state.enabled = true;
        tracing::info!(name = %self.name, listen = %state.listen, upstream = %state.upstream, "started proxy");
        Ok(())
    }

    /// Closes the listener (the port refuses connections once this returns) and every open
    /// connection.
    async fn stop_locked(&self, state: &mut State) {
        if !state.enabled {
            return;
        }
        state.enabled = false;
        if let Some((token, task)) = state.accept.take() {
            token.cancel();
            let _ = task.await;
        }
        let mut connections = self.connections.lock().expect("connections lock");
        connections.generation += 1;
        for (connection, _) in connections.open.values() {
            connection.close();
        }
        tracing::info!(name = %self.name, "terminated proxy");
    }

    async fn accept_loop(
        self: Arc<Self>,
        listener: TcpListener,
        stop: CancellationToken,
        upstream: String,
        generation: u64,
    ) {
        loop {
            let accepted = tokio::select! {
                _ = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((client, _)) => {
                    let proxy = self.clone();
                    let upstream = upstream.clone();
                    tokio::spawn(async move { proxy.connect(client, &upstream, generation).await });
                }
                Err(err) => {
                    tracing::warn!(name = %self.name, %err, "error while accepting client");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    /// Dials upstream for an accepted client and starts both links.
    async fn connect(self: Arc<Self>, client: TcpStream, upstream: &str, generation: u64) {
        let upstream = match TcpStream::connect(upstream).await {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!(name = %self.name, upstream, %err, "unable to open connection to upstream");
                return;
            }
        };
        // Go's TCP connections have Nagle off; without this small writes wait for ACKs.
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        let client = End {
            socket: Arc::new(client),
            closed: CancellationToken::new(),
        };
        let upstream = End {
            socket: Arc::new(upstream),
            closed: CancellationToken::new(),
        };
        let sockets = Arc::new(Sockets {
            client: Arc::downgrade(&client.socket),
            upstream: Arc::downgrade(&upstream.socket),
        });
        {
            let mut connections = self.connections.lock().expect("connections lock");
            if connections.generation != generation {
                return;
            }
            let connection = OpenConnection {
                tokens: [client.closed.clone(), upstream.closed.clone()],
                sockets: sockets.clone(),
            };
            connections.open.insert(id, (connection, 2));
        }
        let links = [
            (Direction::Upstream, client.clone(), upstream.clone()),
            (Direction::Downstream, upstream, client),
        ];
        for (direction, source, dest) in links {
            let key = (id, direction);
            let writer = self
                .toxics
                .start_link(key, source, dest, sockets.clone())
                .await;
            let proxy = self.clone();
            tokio::spawn(async move {
                let _ = writer.await;
                proxy.toxics.remove_link(key).await;
                proxy.link_done(id);
            });
        }
    }

    fn link_done(&self, id: u64) {
        let mut connections = self.connections.lock().expect("connections lock");
        if let Some((_, running)) = connections.open.get_mut(&id) {
            *running -= 1;
            if *running == 0 {
                connections.open.remove(&id);
            }
        }
    }
}
