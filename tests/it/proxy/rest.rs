//! The REST calls Toxiproxy's README documents, with status codes and bodies.

use std::net::TcpStream;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::{call, connect, echo_server, read_to_end, round_trip, server};

#[test]
fn documented_rest_calls_answer_like_toxiproxy() {
    let server = server();
    let echo = echo_server();
    let url = |path: &str| server.url(path);

    let version = reqwest::blocking::get(url("/version")).unwrap();
    assert_eq!(version.status(), 200);
    let version: serde_json::Value = serde_json::from_str(&version.text().unwrap()).unwrap();
    assert!(version["version"].as_str().unwrap().starts_with("2."));

    // POST /proxies: 201 with the proxy, the listen port resolved; 409 on a duplicate name.
    let create = json!({"name": "redis", "listen": "127.0.0.1:0", "upstream": echo.to_string()});
    let (status, proxy) = call(Method::POST, &url("/proxies"), Some(create.clone()));
    assert_eq!(status, 201);
    assert_eq!(proxy["name"], "redis");
    assert_eq!(proxy["upstream"], echo.to_string());
    assert_eq!(proxy["enabled"], true);
    assert_eq!(proxy["toxics"], json!([]));
    assert_ne!(proxy["listen"], "127.0.0.1:0");
    let listen: std::net::SocketAddr = proxy["listen"].as_str().unwrap().parse().unwrap();
    let (status, body) = call(Method::POST, &url("/proxies"), Some(create));
    assert_eq!(
        (status, body),
        (409, json!({"error": "proxy already exists", "status": 409}))
    );
    let (status, body) = call(Method::POST, &url("/proxies"), Some(json!({"name": "x"})));
    assert_eq!(status, 400);
    assert_eq!(body["error"], "missing required field: upstream");
    let (status, body) = call(Method::POST, &url("/proxies"), Some(json!("not an object")));
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("bad request body: "));

    // GET /proxies (a map by name) and GET /proxies/{proxy}.
    let (status, all) = call(Method::GET, &url("/proxies"), None);
    assert_eq!(status, 200);
    assert_eq!(all["redis"], proxy);
    assert_eq!(
        call(Method::GET, &url("/proxies/redis"), None),
        (200, proxy.clone())
    );
    let not_found = json!({"error": "proxy not found", "status": 404});
    assert_eq!(
        call(Method::GET, &url("/proxies/nope"), None),
        (404, not_found.clone())
    );

    // POST /proxies/{proxy}/toxics: 200, defaults name <type>_<stream>, downstream, toxicity 1.
    let toxics = url("/proxies/redis/toxics");
    let latency = json!({"type": "latency", "attributes": {"latency": 1000}});
    let (status, toxic) = call(Method::POST, &toxics, Some(latency.clone()));
    assert_eq!(status, 200);
    assert_eq!(
        toxic,
        json!({"attributes": {"latency": 1000, "jitter": 0}, "name": "latency_downstream",
               "type": "latency", "stream": "downstream", "toxicity": 1})
    );
    let (status, body) = call(Method::POST, &toxics, Some(latency));
    assert_eq!(
        (status, body),
        (409, json!({"error": "toxic already exists", "status": 409}))
    );
    let (status, body) = call(
        Method::POST,
        &toxics,
        Some(json!({"type": "latency", "stream": "sideways"})),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "stream was invalid, can be either upstream or downstream"
    );
    let (status, body) = call(Method::POST, &toxics, Some(json!({"type": "bogus"})));
    assert_eq!(
        (status, body),
        (400, json!({"error": "invalid toxic type", "status": 400}))
    );
    let (status, up) = call(
        Method::POST,
        &toxics,
        Some(
            json!({"name": "cut", "type": "timeout", "stream": "upstream", "toxicity": 0.5,
                    "attributes": {"timeout": 10}}),
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(up["toxicity"], 0.5);

    // GET toxics (upstream first), GET one, update (POST and PATCH), DELETE.
    let (status, list) = call(Method::GET, &toxics, None);
    assert_eq!(status, 200);
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, [json!("cut"), json!("latency_downstream")]);
    assert_eq!(
        call(Method::GET, &url("/proxies/redis/toxics/cut"), None),
        (200, up)
    );
    let toxic_url = url("/proxies/redis/toxics/latency_downstream");
    let (status, updated) = call(
        Method::POST,
        &toxic_url,
        Some(json!({"attributes": {"jitter": 5}})),
    );
    assert_eq!(status, 200);
    assert_eq!(updated["attributes"], json!({"latency": 1000, "jitter": 5}));
    let (status, updated) = call(Method::PATCH, &toxic_url, Some(json!({"toxicity": 0.25})));
    assert_eq!(status, 200);
    assert_eq!(
        (
            updated["toxicity"].clone(),
            updated["attributes"]["jitter"].clone()
        ),
        (json!(0.25), json!(5))
    );
    assert_eq!(
        call(Method::DELETE, &toxic_url, None),
        (204, serde_json::Value::Null)
    );
    let toxic_not_found = json!({"error": "toxic not found", "status": 404});
    assert_eq!(
        call(Method::DELETE, &toxic_url, None),
        (404, toxic_not_found.clone())
    );
    assert_eq!(call(Method::GET, &toxic_url, None), (404, toxic_not_found));

    // POST /proxies/{proxy}: take the proxy down and up again.
    let (status, down) = call(
        Method::POST,
        &url("/proxies/redis"),
        Some(json!({"enabled": false})),
    );
    assert_eq!((status, down["enabled"].clone()), (200, json!(false)));
    let (status, up) = call(
        Method::PATCH,
        &url("/proxies/redis"),
        Some(json!({"enabled": true})),
    );
    assert_eq!(
        (status, up["enabled"].clone(), up["listen"].clone()),
        (200, json!(true), json!(listen.to_string()))
    );

    // POST /populate: 201 {"proxies": [...]}; an identical entry is left as it is.
    let populate = json!([
        {"name": "redis", "listen": listen.to_string(), "upstream": echo.to_string()},
        {"name": "mysql", "listen": "127.0.0.1:0", "upstream": echo.to_string(), "enabled": false},
    ]);
    let (status, populated) = call(Method::POST, &url("/populate"), Some(populate));
    assert_eq!(status, 201);
    let proxies = populated["proxies"].as_array().unwrap();
    assert_eq!(
        proxies[0]["toxics"].as_array().unwrap().len(),
        1,
        "redis kept its toxic"
    );
    assert_eq!(
        (proxies[1]["name"].clone(), proxies[1]["enabled"].clone()),
        (json!("mysql"), json!(false))
    );
    let (status, body) = call(
        Method::POST,
        &url("/populate"),
        Some(json!([{"name": "bad"}])),
    );
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("missing required field: upstream at proxy 1"))
    );

    // POST /reset: 204; every proxy enabled, no toxics left.
    assert_eq!(
        call(Method::POST, &url("/reset"), None),
        (204, serde_json::Value::Null)
    );
    let (_, all) = call(Method::GET, &url("/proxies"), None);
    for proxy in all.as_object().unwrap().values() {
        assert_eq!(
            (proxy["enabled"].clone(), proxy["toxics"].clone()),
            (json!(true), json!([]))
        );
    }

    // The proxy still proxies; DELETE /proxies/{proxy} takes it away.
    round_trip(&mut connect(listen), b"ping");
    assert_eq!(
        call(Method::DELETE, &url("/proxies/redis"), None),
        (204, serde_json::Value::Null)
    );
    assert_eq!(
        call(Method::DELETE, &url("/proxies/redis"), None),
        (404, not_found)
    );
    assert!(
        TcpStream::connect(listen).is_err(),
        "a deleted proxy refuses connections"
    );

    // Browsers are kept away from the API.
    let browser = reqwest::blocking::Client::new()
        .get(url("/proxies"))
        .header("User-Agent", "Mozilla/5.0")
        .send()
        .unwrap();
    assert_eq!(browser.status(), 403);
}

#[test]
fn reset_removes_upstream_and_downstream_toxics() {
    let server = server();
    let listen = server.create_proxy("db", echo_server());
    let mut open = connect(listen);
    server.add_toxic(
        "db",
        json!({"type": "latency", "stream": "upstream", "attributes": {"latency": 10000}}),
    );
    server.add_toxic(
        "db",
        json!({"type": "latency", "stream": "downstream", "attributes": {"latency": 10000}}),
    );
    let (status, list) = call(Method::GET, &server.url("/proxies/db/toxics"), None);
    assert_eq!((status, list.as_array().unwrap().len()), (200, 2));

    assert_eq!(call(Method::POST, &server.url("/reset"), None).0, 204);
    assert_eq!(
        call(Method::GET, &server.url("/proxies/db/toxics"), None),
        (200, json!([]))
    );
    // The connection opened before is clean again too.
    assert!(round_trip(&mut open, b"after reset") < Duration::from_secs(5));
}

#[test]
fn disabled_proxy_refuses_connections_and_reenabled_accepts() {
    let server = server();
    let listen = server.create_proxy("cache", echo_server());
    let mut open = connect(listen);
    round_trip(&mut open, b"before");

    let proxy_url = server.url("/proxies/cache");
    assert_eq!(
        call(Method::POST, &proxy_url, Some(json!({"enabled": false}))).0,
        200
    );
    let refused = TcpStream::connect(listen).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    let (_, ended) = read_to_end(&mut open);
    let _ = ended; // closed: end of stream, or a reset if data was in flight

    assert_eq!(
        call(Method::POST, &proxy_url, Some(json!({"enabled": true}))).0,
        200
    );
    round_trip(&mut connect(listen), b"after");
}
