//! The server driven by the `toxiproxy_rust` client, as the harness drives it.

use std::net::TcpStream;

use toxiproxy_rust::client::Client;
use toxiproxy_rust::proxy::ProxyPack;

use super::{connect, echo_server, round_trip, server};

#[test]
fn toxiproxy_rust_client_drives_the_server() {
    let server = server();
    let echo = echo_server();
    let client = Client::new(server.addr);
    assert!(client.is_running());
    assert!(client.version().unwrap().contains("\"version\""));

    // A free port, known before populate (populate with port 0 would pick a new one each time).
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let proxies = client
        .populate(vec![ProxyPack::new(
            "cache-write".into(),
            listen.to_string(),
            echo.to_string(),
        )])
        .unwrap();
    assert_eq!(proxies.len(), 1);
    assert_eq!(proxies[0].proxy_pack.listen, listen.to_string());
    assert!(client.all().unwrap().contains_key("cache-write"));

    let proxy = client.find_proxy("cache-write").unwrap();
    proxy.with_latency("downstream".into(), 40, 0, 1.0);
    let toxics = proxy.toxics().unwrap();
    assert_eq!(toxics.len(), 1);
    assert_eq!(
        (toxics[0].name.as_str(), toxics[0].attributes["latency"]),
        ("latency_downstream", 40)
    );
    let found = client.find_proxy("cache-write").unwrap();
    assert_eq!(found.proxy_pack.toxics.len(), 1);
    assert!(round_trip(&mut connect(listen), b"slow").as_millis() >= 35);

    proxy.delete_all_toxics().unwrap();
    assert!(proxy.toxics().unwrap().is_empty());

    proxy.disable().unwrap();
    assert!(!client.find_proxy("cache-write").unwrap().proxy_pack.enabled);
    assert!(
        TcpStream::connect(listen).is_err(),
        "disabled proxy refuses connections"
    );
    proxy.enable().unwrap();
    assert!(client.find_proxy("cache-write").unwrap().proxy_pack.enabled);
    round_trip(&mut connect(listen), b"up again");

    // reset: enables everything and removes toxics in both directions.
    proxy
        .with_limit_data("upstream".into(), 1, 1.0)
        .with_slow_close("downstream".into(), 10, 1.0);
    proxy.disable().unwrap();
    client.reset().unwrap();
    let after = client.find_proxy("cache-write").unwrap();
    assert!(after.proxy_pack.enabled);
    assert!(after.proxy_pack.toxics.is_empty());

    // find_and_reset_proxy and a repeated populate leave the proxy where it is.
    let again = client
        .populate(vec![ProxyPack::new(
            "cache-write".into(),
            listen.to_string(),
            echo.to_string(),
        )])
        .unwrap();
    assert_eq!(again[0].proxy_pack.listen, listen.to_string());
    client.find_and_reset_proxy("cache-write").unwrap();
    round_trip(&mut connect(listen), b"still here");
}
