//! Once a call that cuts traffic returns, no byte passes: Toxiproxy closes a proxy's
//! connections before it answers a disable or a delete, a `reset_peer` toxic acts on the next
//! chunk once it is added, and `/reset` removing a `timeout` toxic closes the connections it
//! held. Checked on both servers with traffic flowing both ways at the moment of the call: the
//! bytes queued at each receiving socket (`FIONREAD`) must not grow after the call returned.
//!
//! The built-in server used to only signal its connections' tasks and let them close the
//! sockets when they next ran, so bytes could still pass after the answer; it now shuts the
//! sockets down before answering.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::{call, spawn_server, Api};
use crate::support::on_both_servers;

/// How many times each call is tried (each on a fresh connection).
const ROUNDS: usize = 10;

/// Bytes waiting to be read on `socket`.
fn queued(socket: &TcpStream) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    let r = unsafe { libc::ioctl(socket.as_raw_fd(), libc::FIONREAD, &mut n) };
    assert_eq!(r, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

/// Writes 1 KB every millisecond until a write fails.
fn stream_into(mut socket: TcpStream) {
    std::thread::spawn(move || {
        let chunk = [7u8; 1024];
        while socket.write_all(&chunk).is_ok() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// An upstream that keeps each accepted connection (unread) and streams into it.
fn upstream() -> (SocketAddr, Arc<Mutex<Vec<TcpStream>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let keep = accepted.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            stream_into(socket.try_clone().unwrap());
            keep.lock().unwrap().push(socket);
        }
    });
    (addr, accepted)
}

/// Which direction a call must stop.
#[derive(Clone, Copy)]
struct Cut {
    upstream: bool,
    downstream: bool,
}

const BOTH: Cut = Cut {
    upstream: true,
    downstream: true,
};

/// Opens a connection through the proxy at `listen`, waits until bytes flow both ways, runs
/// `setup` then `cut`, and checks that no byte arrives in a cut direction after `cut` returned.
fn nothing_passes_after(
    listen: SocketAddr,
    accepted: &Mutex<Vec<TcpStream>>,
    what: &str,
    dirs: Cut,
    setup: impl Fn(),
    cut: impl Fn(),
) {
    let before = accepted.lock().unwrap().len();
    let client = TcpStream::connect(listen).unwrap();
    stream_into(client.try_clone().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    let server_side = loop {
        if let Some(s) = accepted.lock().unwrap().get(before) {
            if queued(s) > 0 && queued(&client) > 0 {
                break s.try_clone().unwrap();
            }
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no traffic through the proxy"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    setup();
    cut();
    let (up, down) = (queued(&server_side), queued(&client));
    std::thread::sleep(Duration::from_millis(50));
    let (up_later, down_later) = (queued(&server_side), queued(&client));
    if dirs.upstream {
        assert_eq!(
            up_later,
            up,
            "{what}: {} bytes reached the upstream after the call returned",
            up_later - up
        );
    }
    if dirs.downstream {
        assert_eq!(
            down_later,
            down,
            "{what}: {} bytes reached the client after the call returned",
            down_later - down
        );
    }
}

fn nothing() {}

fn create(api: &Api, name: &str, upstream: SocketAddr) -> SocketAddr {
    let body = json!({"name": name, "listen": "127.0.0.1:0", "upstream": upstream.to_string()});
    let (status, proxy) = call(Method::POST, &api.url("/proxies"), Some(body));
    assert_eq!(status, 201, "{proxy}");
    proxy["listen"].as_str().unwrap().parse().unwrap()
}

fn set_enabled(api: &Api, name: &str, enabled: bool) {
    let url = api.url(&format!("/proxies/{name}"));
    let (status, body) = call(Method::POST, &url, Some(json!({ "enabled": enabled })));
    assert_eq!(status, 200, "{body}");
}

on_both_servers! {
    fn no_byte_passes_once_a_disable_or_delete_returns(server) {
        let Some(proc_) = spawn_server(server) else { return };
        let api: &Api = &proc_;
        let (up, accepted) = upstream();
        let listen = create(api, "cut", up);
        for round in 0..ROUNDS {
            nothing_passes_after(listen, &accepted, &format!("disable, round {round}"), BOTH, nothing, || {
                set_enabled(api, "cut", false)
            });
            set_enabled(api, "cut", true);
        }
        for round in 0..ROUNDS {
            let name = format!("deleted{round}");
            let listen = create(api, &name, up);
            nothing_passes_after(listen, &accepted, &format!("delete, round {round}"), BOTH, nothing, || {
                let url = api.url(&format!("/proxies/{name}"));
                assert_eq!(call(Method::DELETE, &url, None).0, 204);
            });
        }
    }
}

on_both_servers! {
    fn no_byte_passes_once_reset_peer_or_a_reset_of_timeout_returns(server) {
        let Some(proc_) = spawn_server(server) else { return };
        let api: &Api = &proc_;
        let (up, accepted) = upstream();
        let listen = create(api, "toxic", up);
        let toxics = api.url("/proxies/toxic/toxics");
        let downstream = Cut { upstream: false, downstream: true };
        for round in 0..ROUNDS {
            nothing_passes_after(listen, &accepted, &format!("reset_peer, round {round}"), downstream, nothing, || {
                let toxic = json!({"name": "rp", "type": "reset_peer", "stream": "downstream", "attributes": {"timeout": 0}});
                assert_eq!(call(Method::POST, &toxics, Some(toxic)).0, 200);
            });
            assert_eq!(call(Method::DELETE, &api.url("/proxies/toxic/toxics/rp"), None).0, 204);
        }
        let upstream_only = Cut { upstream: true, downstream: false };
        // A timeout toxic that never fires holds the upstream data; /reset removes it, which
        // closes the connection instead of letting the held stream go on.
        let hold = || {
            let toxic = json!({"name": "hold", "type": "timeout", "stream": "upstream", "attributes": {"timeout": 0}});
            assert_eq!(call(Method::POST, &toxics, Some(toxic)).0, 200);
            std::thread::sleep(Duration::from_millis(10));
        };
        for round in 0..ROUNDS {
            nothing_passes_after(listen, &accepted, &format!("reset with timeout, round {round}"), upstream_only, hold, || {
                assert_eq!(call(Method::POST, &api.url("/reset"), None).0, 204);
            });
        }
    }
}
