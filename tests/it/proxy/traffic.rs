//! Each toxic's effect on the same traffic through the real Toxiproxy and the built-in
//! server: latency with jitter, bandwidth, slicer, limit_data, timeout, slow_close and
//! reset_peer, measured from the client's side, the two servers' figures within the stated
//! tolerances of each other and of what the toxic's settings say. The test prints the figures
//! as the table in docs/toxiproxy.md.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{connect, echo_server, read_to_end, round_trip, serve, spawn_server, Api};
use crate::support::ProxyServer;

/// An upstream that writes `n` bytes to each connection, then closes it.
fn blast(n: usize) -> SocketAddr {
    serve(move |mut stream| {
        let _ = stream.write_all(&vec![b'x'; n]);
        let _ = stream.shutdown(Shutdown::Write);
        let mut sink = [0u8; 1024];
        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
    })
}

/// An upstream that reads and discards.
fn sink() -> SocketAddr {
    serve(|mut stream| {
        let mut buf = [0u8; 4096];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A proxy named `name` to `upstream` with `toxic` on it; returns where it listens.
fn proxied(api: &Api, name: &str, upstream: SocketAddr, toxic: Value) -> SocketAddr {
    let listen = api.create_proxy(name, upstream);
    api.add_toxic(name, toxic);
    listen
}

/// One measured figure per server: the values, and whether they agree.
struct Row {
    toxic: &'static str,
    settings: &'static str,
    figure: &'static str,
    tolerance: &'static str,
    values: Vec<String>,
}

/// Round trips of 16 bytes through `latency` 50 ms ± 20 ms on the downstream: (median, min,
/// max) in ms.
fn latency(api: &Api) -> (f64, f64, f64) {
    let toxic = json!({"type": "latency", "attributes": {"latency": 50, "jitter": 20}});
    let mut stream = connect(proxied(api, "latency", echo_server(), toxic));
    let rtts: Vec<f64> = (0..40)
        .map(|_| ms(round_trip(&mut stream, b"0123456789abcdef")))
        .collect();
    let (min, max) = rtts
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    (median(rtts), min, max)
}

/// 100 KB down through `bandwidth` 200 KB/s: the rate received, KB/s.
fn bandwidth(api: &Api) -> f64 {
    let toxic = json!({"type": "bandwidth", "attributes": {"rate": 200}});
    let start = Instant::now();
    let mut stream = connect(proxied(api, "bandwidth", blast(100_000), toxic));
    let (data, _) = read_to_end(&mut stream);
    assert_eq!(data.len(), 100_000);
    100.0 / start.elapsed().as_secs_f64()
}

/// 20 KB down through `slicer` (average 1000 B, variation 200 B, 5 ms apart): (reads, median
/// read size, total ms).
fn slicer(api: &Api) -> (usize, f64, f64) {
    let toxic = json!({"type": "slicer", "attributes": {"average_size": 1000, "size_variation": 200, "delay": 5000}});
    let start = Instant::now();
    let mut stream = connect(proxied(api, "slicer", blast(20_000), toxic));
    let mut sizes = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => sizes.push(n as f64),
        }
    }
    assert_eq!(sizes.iter().sum::<f64>() as usize, 20_000);
    (sizes.len(), median(sizes), ms(start.elapsed()))
}

/// 10 KB down through `limit_data` 1000 bytes: the bytes received before the close.
fn limit_data(api: &Api) -> usize {
    let toxic = json!({"type": "limit_data", "attributes": {"bytes": 1000}});
    let mut stream = connect(proxied(api, "limit", blast(10_000), toxic));
    read_to_end(&mut stream).0.len()
}

/// A connection through `timeout` 300 ms upstream, written to at once: ms until it closes.
fn timeout(api: &Api) -> f64 {
    let toxic = json!({"type": "timeout", "stream": "upstream", "attributes": {"timeout": 300}});
    let listen = proxied(api, "timeout", sink(), toxic);
    let start = Instant::now();
    let mut stream = connect(listen);
    stream.write_all(b"dropped").unwrap();
    let (data, _) = read_to_end(&mut stream);
    assert!(data.is_empty());
    ms(start.elapsed())
}

/// 100 bytes down, then the upstream closes, through `slow_close` 300 ms: ms until the
/// client sees the close.
fn slow_close(api: &Api) -> f64 {
    let toxic = json!({"type": "slow_close", "attributes": {"delay": 300}});
    let start = Instant::now();
    let mut stream = connect(proxied(api, "slow_close", blast(100), toxic));
    let (data, _) = read_to_end(&mut stream);
    assert_eq!(data.len(), 100);
    ms(start.elapsed())
}

/// How a connection through `reset_peer` (timeout 100 ms, upstream) ends when written to:
/// (ms until it ends, how: "reset" or "eof"), for a connection opened after the toxic was
/// added and for one opened before.
fn reset_peer(api: &Api) -> [(f64, &'static str); 2] {
    let listen = api.create_proxy("reset_peer", sink());
    let before = connect(listen);
    api.add_toxic(
        "reset_peer",
        json!({"type": "reset_peer", "stream": "upstream", "attributes": {"timeout": 100}}),
    );
    let after = connect(listen);
    [after, before].map(|mut stream| {
        let start = Instant::now();
        stream.write_all(b"reset me").unwrap();
        let how = match read_to_end(&mut stream) {
            (_, Ok(())) => "eof",
            (_, Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => "reset",
            (_, Err(e)) => panic!("reset_peer: {e}"),
        };
        (ms(start.elapsed()), how)
    })
}

/// Asserts that `x` is within `tol` of `want`.
fn near(what: &str, server: ProxyServer, x: f64, want: f64, tol: f64) {
    assert!(
        (x - want).abs() <= tol,
        "{what} through {server:?}: {x:.1}, want {want} ± {tol}"
    );
}

#[test]
fn toxics_have_the_same_effect_through_toxiproxy_and_the_builtin_server() {
    let Some(real) = spawn_server(ProxyServer::Toxiproxy) else {
        return;
    };
    let ours = spawn_server(ProxyServer::Builtin).unwrap();
    let mut rows = vec![
        Row {
            toxic: "latency",
            settings: "latency 50 ms, jitter 20 ms, downstream",
            figure: "40 echo round trips: median (min-max) ms",
            tolerance: "medians 50 ± 8 and within 8 of each other; all in 25-80",
            values: vec![],
        },
        Row {
            toxic: "bandwidth",
            settings: "rate 200 KB/s, downstream",
            figure: "100 KB received: KB/s",
            tolerance: "200 ± 15%, within 10% of each other",
            values: vec![],
        },
        Row {
            toxic: "slicer",
            settings: "average 1000 B, variation 200 B, delay 5 ms, downstream",
            figure: "20 KB received: reads, median read B, ms",
            tolerance: "reads within 25% of each other, median read 400-1200 B",
            values: vec![],
        },
        Row {
            toxic: "limit_data",
            settings: "1000 bytes, downstream",
            figure: "bytes received of 10 KB, then closed",
            tolerance: "exactly 1000",
            values: vec![],
        },
        Row {
            toxic: "timeout",
            settings: "timeout 300 ms, upstream",
            figure: "ms from connect to close, nothing received",
            tolerance: "300 ± 60, within 40 of each other",
            values: vec![],
        },
        Row {
            toxic: "slow_close",
            settings: "delay 300 ms, downstream",
            figure: "ms from connect to the close after 100 B",
            tolerance: "300 ± 60, within 40 of each other",
            values: vec![],
        },
        Row {
            toxic: "reset_peer",
            settings: "timeout 100 ms, upstream",
            figure: "a connection opened after the toxic: ms to its end, how it ends",
            tolerance: "100 ± 40 ms, both reset",
            values: vec![],
        },
        Row {
            toxic: "reset_peer",
            settings: "timeout 100 ms, upstream",
            figure: "a connection opened before the toxic: ms to its end, how it ends",
            tolerance: "100 ± 40 ms (how: a known difference)",
            values: vec![],
        },
    ];
    let mut figures = Vec::new();
    for server in [&real, &ours] {
        let kind = server.kind;
        let (lat, lat_min, lat_max) = latency(server);
        near("latency median", kind, lat, 50.0, 8.0);
        assert!(
            lat_min >= 25.0 && lat_max <= 80.0,
            "{kind:?}: latency {lat_min}-{lat_max} ms"
        );
        let rate = bandwidth(server);
        near("bandwidth", kind, rate, 200.0, 30.0);
        let (reads, read_size, slicer_ms) = slicer(server);
        assert!(
            (400.0..=1200.0).contains(&read_size),
            "{kind:?}: slicer reads of {read_size} B"
        );
        let limit = limit_data(server);
        assert_eq!(
            limit, 1000,
            "{kind:?}: limit_data let {limit} bytes through"
        );
        let timeout_ms = timeout(server);
        near("timeout", kind, timeout_ms, 300.0, 60.0);
        let slow_ms = slow_close(server);
        near("slow_close", kind, slow_ms, 300.0, 60.0);
        let [(reset_new_ms, reset_new), (reset_old_ms, reset_old)] = reset_peer(server);
        near(
            "reset_peer (new connection)",
            kind,
            reset_new_ms,
            100.0,
            40.0,
        );
        near(
            "reset_peer (old connection)",
            kind,
            reset_old_ms,
            100.0,
            40.0,
        );
        assert_eq!(
            reset_new, "reset",
            "{kind:?}: reset_peer on a new connection"
        );
        if kind == ProxyServer::Builtin {
            // Deliberately different (see the README): Toxiproxy 2.12.0 sets SO_LINGER 0 only
            // on connections opened while the toxic exists, so older ones end with a FIN.
            assert_eq!(reset_old, "reset", "reset_peer on an older connection");
        }
        let values = [
            format!("{lat:.1} ({lat_min:.1}-{lat_max:.1})"),
            format!("{rate:.0}"),
            format!("{reads}, {read_size:.0}, {slicer_ms:.0}"),
            format!("{limit}"),
            format!("{timeout_ms:.0}"),
            format!("{slow_ms:.0}"),
            format!("{reset_new_ms:.0}, {reset_new}"),
            format!("{reset_old_ms:.0}, {reset_old}"),
        ];
        for (row, v) in rows.iter_mut().zip(values) {
            row.values.push(v);
        }
        figures.push((lat, rate, reads as f64, timeout_ms, slow_ms));
    }
    let (a, b) = (figures[0], figures[1]);
    assert!(
        (a.0 - b.0).abs() <= 8.0,
        "latency medians {} vs {}",
        a.0,
        b.0
    );
    assert!(
        (a.1 - b.1).abs() <= 0.1 * a.1,
        "bandwidth {} vs {}",
        a.1,
        b.1
    );
    assert!(
        (a.2 - b.2).abs() <= 0.25 * a.2,
        "slicer reads {} vs {}",
        a.2,
        b.2
    );
    assert!((a.3 - b.3).abs() <= 40.0, "timeout {} vs {}", a.3, b.3);
    assert!((a.4 - b.4).abs() <= 40.0, "slow_close {} vs {}", a.4, b.4);
    eprintln!("| toxic | settings | figure | Toxiproxy 2.12.0 | built-in | tolerance |");
    eprintln!("|---|---|---|---|---|---|");
    for r in &rows {
        eprintln!(
            "| `{}` | {} | {} | {} | {} | {} |",
            r.toxic, r.settings, r.figure, r.values[0], r.values[1], r.tolerance
        );
    }
}
