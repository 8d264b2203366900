//! The built-in fault proxy (`cachecheck::proxy_server`) on real sockets, all on 127.0.0.1: its
//! REST API against Toxiproxy's documented calls, the `toxiproxy_rust` client, and each toxic;
//! and beside the real Toxiproxy: the same REST calls sent to both ([`differential`]), what a
//! disable or reset lets through ([`disable`]), and each toxic's effect on the same traffic
//! ([`traffic`]).

mod choice;
mod client;
mod differential;
mod disable;
mod rest;
mod toxics;
mod traffic;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::{bin, toxiproxy, ProxyServer};
use serde_json::{json, Value};

/// The REST API of a fault proxy server at `addr`.
pub struct Api {
    pub addr: SocketAddr,
}

/// A proxy server on its own runtime thread, on a free port; shut down on drop.
pub struct Server {
    api: Api,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::ops::Deref for Server {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A fault proxy server as a process of its own (the real `toxiproxy-server`, or
/// `cachecheck proxy-server`) on a free port; killed on drop.
pub struct ServerProcess {
    api: Api,
    pub kind: ProxyServer,
    child: std::process::Child,
}

impl std::ops::Deref for ServerProcess {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kind` as a process and waits until its API answers; `None` (after one line saying
/// so) when it is the real one and there is none.
pub fn spawn_server(kind: ProxyServer) -> Option<ServerProcess> {
    use std::process::{Command, Stdio};
    if !kind.available() {
        return None;
    }
    let (child, addr) = match kind {
        ProxyServer::Toxiproxy => {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new(toxiproxy().unwrap())
                .args(["-host", "127.0.0.1", "-port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start toxiproxy-server");
            (child, SocketAddr::from(([127, 0, 0, 1], port)))
        }
        ProxyServer::Builtin => {
            let mut child = Command::new(bin())
                .args(["proxy-server", "--listen", "127.0.0.1:0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start cachecheck proxy-server");
            let mut line = String::new();
            let stdout = child.stdout.take().unwrap();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
            let addr = line
                .strip_prefix(cachecheck::proxy_server::LISTENING_ON)
                .unwrap_or_else(|| panic!("proxy-server said {line:?}"))
                .trim()
                .parse()
                .unwrap();
            (child, addr)
        }
    };
    let server = ServerProcess {
        api: Api { addr },
        kind,
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "{kind:?} did not listen on {addr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(server)
}

pub fn server() -> Server {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let server =
                cachecheck::proxy_server::ProxyServer::bind("127.0.0.1:0".parse().unwrap())
                    .await
                    .unwrap();
            addr_tx.send(server.local_addr()).unwrap();
            server
                .run(async move {
                    let _ = stop.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("proxy server started");
    Server {
        api: Api { addr },
        shutdown: Some(shutdown),
        thread: Some(thread),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST /proxies` on a free port; returns the address the proxy listens on.
    pub fn create_proxy(&self, name: &str, upstream: SocketAddr) -> SocketAddr {
        let body = json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string()});
        let (status, proxy) = call(reqwest::Method::POST, &self.url("/proxies"), Some(body));
        assert_eq!(status, 201, "{proxy}");
        proxy["listen"].as_str().unwrap().parse().unwrap()
    }

    /// `POST /proxies/{proxy}/toxics`.
    pub fn add_toxic(&self, proxy: &str, toxic: Value) -> Value {
        let (status, body) = call(
            reqwest::Method::POST,
            &self.url(&format!("/proxies/{proxy}/toxics")),
            Some(toxic),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn remove_toxic(&self, proxy: &str, toxic: &str) {
        let url = self.url(&format!("/proxies/{proxy}/toxics/{toxic}"));
        assert_eq!(call(reqwest::Method::DELETE, &url, None).0, 204);
    }
}

/// One HTTP call; returns the status and the body as JSON (`Value::Null` if empty, a string if
/// not JSON).
pub fn call(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    call_text(method, url, body.map(|b| b.to_string()))
}

/// [`call`] with the body as text (which need not be JSON).
pub fn call_text(method: reqwest::Method, url: &str, body: Option<String>) -> (u16, Value) {
    // One client for all calls: building one takes tens of milliseconds.
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        let builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(20));
        builder.build().unwrap()
    });
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().expect("HTTP call");
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

/// A TCP echo server on a free port (one thread per connection).
pub fn echo_server() -> SocketAddr {
    serve(|mut stream| {
        let mut buf = [0u8; 65536];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || stream.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    })
}

/// A TCP server on a free port running `handle` for each connection on its own thread.
pub fn serve<F>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handle = handle.clone();
            std::thread::spawn(move || handle(stream));
        }
    });
    addr
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sends `message` and reads the same number of bytes back; returns the round-trip time.
pub fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let start = Instant::now();
    stream.write_all(message).unwrap();
    let mut back = vec![0u8; message.len()];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(back, message);
    start.elapsed()
}

/// Reads until end of stream (or an error); returns the bytes read and how it ended.
pub fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (data, Ok(())),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(err) => return (data, Err(err)),
        }
    }
}
