//! Each toxic on a live connection. Timing is only checked from below (the injected delay).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{connect, echo_server, read_to_end, round_trip, serve, server};

/// Median round trip of `n` small messages on one connection.
fn median_round_trip(stream: &mut TcpStream, n: usize) -> Duration {
    let mut times: Vec<_> = (0..n).map(|_| round_trip(stream, b"ping")).collect();
    times.sort();
    times[n / 2]
}

#[test]
fn latency_adds_at_least_the_injected_delay() {
    let server = server();
    let listen = server.create_proxy("db", echo_server());
    let mut stream = connect(listen);
    let without = median_round_trip(&mut stream, 7);

    // Added while the connection is open: it applies to it.
    server.add_toxic(
        "db",
        json!({"type": "latency", "attributes": {"latency": 50}}),
    );
    let with = median_round_trip(&mut stream, 7);
    let mut fresh = connect(listen);
    let fresh_with = median_round_trip(&mut fresh, 3);
    eprintln!("latency through the proxy: without toxic {without:?}, with 50 ms toxic {with:?} (new connection {fresh_with:?})");
    assert!(
        with >= without + Duration::from_millis(45),
        "{with:?} vs {without:?}"
    );
    assert!(fresh_with >= Duration::from_millis(45));

    server.remove_toxic("db", "latency_downstream");
    round_trip(&mut stream, b"after removal");
}

#[test]
fn reset_peer_resets_the_connection() {
    let server = server();
    let listen = server.create_proxy("cache", echo_server());
    let mut before = connect(listen);
    round_trip(&mut before, b"fine");
    server.add_toxic(
        "cache",
        json!({"type": "reset_peer", "attributes": {"timeout": 0}}),
    );

    for mut stream in [before, connect(listen)] {
        stream.write_all(b"DEL k").unwrap();
        let (data, ended) = read_to_end(&mut stream);
        assert!(data.is_empty());
        assert_eq!(ended.unwrap_err().kind(), ErrorKind::ConnectionReset);
    }
}

#[test]
fn timeout_stops_data_and_closes_after_its_timeout() {
    let server = server();
    let listen = server.create_proxy("db", echo_server());
    server.add_toxic(
        "db",
        json!({"name": "hold", "type": "timeout", "attributes": {"timeout": 0}}),
    );
    let mut held = connect(listen);
    held.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    held.write_all(b"lost").unwrap();
    let mut buf = [0u8; 16];
    let err = held.read(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );

    // Removing a timeout toxic closes the connections it held.
    server.remove_toxic("db", "hold");
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (data, _) = read_to_end(&mut held);
    assert!(data.is_empty());

    // With a timeout the connection is closed once it has passed.
    server.add_toxic(
        "db",
        json!({"type": "timeout", "attributes": {"timeout": 200}}),
    );
    let start = Instant::now();
    let mut closing = connect(listen);
    closing.write_all(b"lost too").unwrap();
    let (data, _) = read_to_end(&mut closing);
    assert!(data.is_empty());
    assert!(start.elapsed() >= Duration::from_millis(190));
}

#[test]
fn limit_data_closes_after_n_bytes() {
    let server = server();
    let listen = server.create_proxy("db", echo_server());
    server.add_toxic(
        "db",
        json!({"type": "limit_data", "attributes": {"bytes": 10}}),
    );
    let mut stream = connect(listen);
    stream.write_all(&[7u8; 25]).unwrap();
    let (data, _) = read_to_end(&mut stream);
    assert_eq!(data, [7u8; 10]);

    // Upstream: the server sees only N bytes, then end of stream.
    let (seen_tx, seen) = std::sync::mpsc::channel();
    let sink = serve(move |mut stream| {
        let (data, _) = read_to_end(&mut stream);
        let _ = seen_tx.send(data);
    });
    let listen = server.create_proxy("sink", sink);
    server.add_toxic(
        "sink",
        json!({"type": "limit_data", "stream": "upstream", "attributes": {"bytes": 4}}),
    );
    let mut stream = connect(listen);
    stream.write_all(b"0123456789").unwrap();
    assert_eq!(seen.recv_timeout(Duration::from_secs(10)).unwrap(), b"0123");
}

#[test]
fn bandwidth_limits_the_rate() {
    let server = server();
    let listen = server.create_proxy("db", echo_server());
    // 10 KB/s: 5000 bytes take at least half a second.
    server.add_toxic(
        "db",
        json!({"type": "bandwidth", "attributes": {"rate": 10}}),
    );
    let mut stream = connect(listen);
    let payload = vec![42u8; 5000];
    let start = Instant::now();
    round_trip(&mut stream, &payload);
    assert!(
        start.elapsed() >= Duration::from_millis(450),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn slicer_slices_the_stream() {
    let server = server();
    let listen = server.create_proxy("db", echo_server());
    server.add_toxic(
        "db",
        json!({"type": "slicer", "attributes": {"average_size": 10, "size_variation": 0, "delay": 5000}}),
    );
    let mut stream = connect(listen);
    let payload: Vec<u8> = (0..100u8).collect();
    let start = Instant::now();
    stream.write_all(&payload).unwrap();
    let mut back = Vec::new();
    let mut reads = 0;
    let mut buf = [0u8; 256];
    while back.len() < payload.len() {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        back.extend_from_slice(&buf[..n]);
        reads += 1;
    }
    assert_eq!(back, payload);
    assert!(reads > 1, "the data arrived in {reads} piece(s)");
    // Ten slices with 5 ms between them.
    assert!(start.elapsed() >= Duration::from_millis(40));
}

#[test]
fn slow_close_delays_the_close() {
    let server = server();
    let closing = serve(|mut stream| {
        let _ = stream.write_all(b"bye");
    });
    let listen = server.create_proxy("db", closing);
    server.add_toxic(
        "db",
        json!({"type": "slow_close", "attributes": {"delay": 300}}),
    );
    let start = Instant::now();
    let mut stream = connect(listen);
    let (data, _) = read_to_end(&mut stream);
    assert_eq!(data, b"bye");
    assert!(
        start.elapsed() >= Duration::from_millis(290),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn changing_toxics_mid_stream_keeps_every_byte_in_order() {
    let server = server();
    let listen = server.create_proxy("db", echo_server());
    let stream = connect(listen);
    let mut reader = stream.try_clone().unwrap();
    let mut writer = stream;
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = payload.clone();
    let sender = std::thread::spawn(move || {
        for piece in payload.chunks(8192) {
            writer.write_all(piece).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let receiver = std::thread::spawn(move || {
        let mut back = vec![0u8; expected.len()];
        reader.read_exact(&mut back).unwrap();
        back == expected
    });

    let toxics = server.url("/proxies/db/toxics");
    let post =
        |url: &str, body: serde_json::Value| super::call(reqwest::Method::POST, url, Some(body)).0;
    for round in 0..20 {
        assert_eq!(
            post(
                &toxics,
                json!({"name": "lat", "type": "latency", "attributes": {"latency": 1}})
            ),
            200
        );
        let slicer = json!({"name": "sl", "type": "slicer", "stream": "upstream",
                            "attributes": {"average_size": 2000, "size_variation": 500}});
        assert_eq!(post(&toxics, slicer), 200);
        let bandwidth = json!({"name": "bw", "type": "bandwidth", "attributes": {"rate": 100_000}});
        assert_eq!(post(&toxics, bandwidth), 200);
        std::thread::sleep(Duration::from_millis(10));
        let jitter = json!({"attributes": {"jitter": 1}, "toxicity": 0.5});
        assert_eq!(post(&format!("{toxics}/lat"), jitter), 200);
        let middle = if round % 2 == 0 { "lat" } else { "bw" };
        server.remove_toxic("db", middle);
        server.remove_toxic("db", "sl");
        std::thread::sleep(Duration::from_millis(10));
        assert_eq!(
            super::call(reqwest::Method::POST, &server.url("/reset"), None).0,
            204
        );
    }
    sender.join().unwrap();
    assert!(receiver.join().unwrap(), "bytes lost or reordered");
}
