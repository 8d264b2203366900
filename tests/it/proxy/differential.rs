//! The differential contract test: one scripted sequence of REST calls (proxies created,
//! listed, shown, updated by POST and PATCH, deleted; `/populate`; every toxic type on both
//! streams, some with a toxicity below 1; toxics updated and removed; `/reset`; every error
//! case) sent to the real Toxiproxy and to `cachecheck proxy-server`, each answer's status code
//! and JSON body compared. The differences known and accepted are listed, with how the
//! comparison removes each, in [`KNOWN_DIFFERENCES`]; any other difference fails the test.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};

use reqwest::Method;
use serde_json::Value;

use super::{call_text, echo_server, spawn_server, ServerProcess};
use crate::support::ProxyServer;

/// Every accepted difference between Toxiproxy 2.12.0 and the built-in server: what differs,
/// and what [`normalise`] does about it.
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "version",
        "GET /version: Toxiproxy answers \"2.12.0\", ours \"2.12.0+cachecheck\" (tagged, so a \
         client can tell them apart): `version` values become <version>",
    ),
    (
        "Logger",
        "Toxiproxy's proxy JSON carries \"Logger\": {} (its Go struct's logger field leaks \
         into the JSON; no client reads it): the key is dropped",
    ),
    (
        "ordering",
        "JSON objects are compared as maps (Go writes `GET /proxies` sorted by name, ours too, \
         but key order is not part of the contract); arrays keep their order",
    ),
    (
        "ports",
        "a listen address asked for with port 0 gets a different free port on each server: \
         each bound address becomes <port N>, N by order of first appearance",
    ),
    (
        "parser messages",
        "after \"bad request body: \" each server gives its JSON parser's own words (Go's \
         encoding/json, serde_json): the rest of the message becomes <parser message>",
    ),
];

/// One call of the script. In `path` and `body`, `{UP}` is the upstream every proxy uses (an
/// echo server), `{BUSY}` an address the test holds (so listening there fails) and
/// `{listen:NAME}` the address proxy NAME listens on, on the server being called.
struct Step {
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
}

fn step(method: Method, path: &'static str, body: Option<&'static str>) -> Step {
    Step { method, path, body }
}

/// The script: a user's whole session with the API, every route and every error case.
fn script() -> Vec<Step> {
    use Method as M;
    let get = |p| step(M::GET, p, None);
    let post = |p, b| step(M::POST, p, Some(b));
    let patch = |p, b| step(M::PATCH, p, Some(b));
    let delete = |p| step(M::DELETE, p, None);
    let mut s = vec![
        get("/version"),
        get("/proxies"),
        // Proxies: create, duplicates, missing fields, bad JSON, an address in use.
        post(
            "/proxies",
            r#"{"name": "a", "listen": "127.0.0.1:0", "upstream": "{UP}"}"#,
        ),
        post(
            "/proxies",
            r#"{"name": "a", "listen": "127.0.0.1:0", "upstream": "{UP}"}"#,
        ),
        post(
            "/proxies",
            r#"{"name": "b", "listen": "127.0.0.1:0", "upstream": "{UP}", "enabled": false}"#,
        ),
        post(
            "/proxies",
            r#"{"listen": "127.0.0.1:0", "upstream": "{UP}"}"#,
        ),
        post("/proxies", r#"{"name": "c", "listen": "127.0.0.1:0"}"#),
        post("/proxies", r#"{"name": "c", "upstream": "#),
        post("/proxies", r#"["not", "an", "object"]"#),
        post(
            "/proxies",
            r#"{"name": "busy", "listen": "{BUSY}", "upstream": "{UP}"}"#,
        ),
        get("/proxies"),
        get("/proxies/a"),
        get("/proxies/nope"),
        // Updates, by POST and by PATCH.
        post("/proxies/a", r#"{"enabled": false}"#),
        get("/proxies/a"),
        patch("/proxies/a", r#"{"enabled": true}"#),
        patch("/proxies/a", r#"{"upstream": "127.0.0.1:9"}"#),
        post("/proxies/a", r#"{"upstream": "{UP}", "name": "ignored"}"#),
        patch("/proxies/nope", r#"{"enabled": false}"#),
        patch("/proxies/a", r#"{"enabled": "#),
        patch("/proxies/b", r#"{"listen": "{BUSY}", "enabled": true}"#),
        get("/proxies/b"),
        patch(
            "/proxies/b",
            r#"{"listen": "127.0.0.1:0", "enabled": true}"#,
        ),
        patch("/proxies/b", r#"{"listen": "127.0.0.1:0"}"#),
    ];
    // Every toxic type, upstream (toxicity 0.5, named) and downstream (defaults).
    s.extend([
        post(
            "/proxies/a/toxics",
            r#"{"name": "lat", "type": "latency", "stream": "upstream", "toxicity": 0.5, "attributes": {"latency": 100, "jitter": 10}}"#,
        ),
        post("/proxies/a/toxics", r#"{"type": "latency", "attributes": {"latency": 5}}"#),
        post(
            "/proxies/a/toxics",
            r#"{"name": "bw", "type": "bandwidth", "stream": "upstream", "toxicity": 0.5, "attributes": {"rate": 100}}"#,
        ),
        post(
            "/proxies/a/toxics",
            r#"{"type": "bandwidth", "stream": "downstream", "attributes": {"rate": 1000}}"#,
        ),
        post(
            "/proxies/a/toxics",
            r#"{"name": "sc", "type": "slow_close", "stream": "upstream", "toxicity": 0.25, "attributes": {"delay": 10}}"#,
        ),
        post("/proxies/a/toxics", r#"{"type": "slow_close", "attributes": {"delay": 20}}"#),
        post(
            "/proxies/a/toxics",
            r#"{"name": "to", "type": "timeout", "stream": "upstream", "toxicity": 0.5, "attributes": {"timeout": 1000}}"#,
        ),
        post("/proxies/a/toxics", r#"{"type": "timeout", "attributes": {}}"#),
        post(
            "/proxies/a/toxics",
            r#"{"name": "rp", "type": "reset_peer", "stream": "upstream", "toxicity": 0.1, "attributes": {"timeout": 50}}"#,
        ),
        post("/proxies/a/toxics", r#"{"type": "reset_peer", "stream": "downstream"}"#),
        post(
            "/proxies/a/toxics",
            r#"{"name": "sl", "type": "slicer", "stream": "upstream", "toxicity": 0.75, "attributes": {"average_size": 64, "size_variation": 16, "delay": 10}}"#,
        ),
        post(
            "/proxies/a/toxics",
            r#"{"type": "slicer", "stream": "downstream", "attributes": {"average_size": 8}}"#,
        ),
        post(
            "/proxies/a/toxics",
            r#"{"name": "ld", "type": "limit_data", "stream": "upstream", "toxicity": 0.5, "attributes": {"bytes": 4096}}"#,
        ),
        post(
            "/proxies/a/toxics",
            r#"{"type": "limit_data", "stream": "DownStream", "attributes": {"bytes": 1, "unknown": 7}}"#,
        ),
        get("/proxies/a/toxics"),
        get("/proxies/a/toxics/lat"),
        get("/proxies/a/toxics/latency_downstream"),
        get("/proxies/a"),
        // Toxic errors.
        post("/proxies/a/toxics", r#"{"name": "lat", "type": "latency"}"#),
        post("/proxies/a/toxics", r#"{"type": "latency"}"#),
        post("/proxies/a/toxics", r#"{"name": "x", "type": "nope"}"#),
        post("/proxies/a/toxics", r#"{"name": "x", "stream": "upstream"}"#),
        post("/proxies/a/toxics", r#"{"name": "x", "type": "latency", "stream": "sideways"}"#),
        post(
            "/proxies/a/toxics",
            r#"{"name": "x", "type": "latency", "attributes": {"latency": "fast"}}"#,
        ),
        post("/proxies/a/toxics", r#"{"name": "x", "type": "latency", "attributes": 5}"#),
        post("/proxies/a/toxics", r#"{"name": "x", "type": "nope", "attributes": 5}"#),
        post(
            "/proxies/a/toxics",
            r#"{"name": "x", "type": "latency", "toxicity": "high"}"#,
        ),
        post("/proxies/a/toxics", r#"{"name": "x", "#),
        post("/proxies/nope/toxics", r#"{"type": "latency"}"#),
        get("/proxies/nope/toxics"),
        get("/proxies/a/toxics/nope"),
        // Toxic updates (POST and PATCH) and removals.
        post("/proxies/a/toxics/lat", r#"{"attributes": {"latency": 200}}"#),
        patch("/proxies/a/toxics/lat", r#"{"toxicity": 0.25}"#),
        patch(
            "/proxies/a/toxics/lat",
            r#"{"name": "renamed", "type": "timeout", "stream": "downstream"}"#,
        ),
        patch("/proxies/a/toxics/bw", r#"{"attributes": {"rate": "slow"}}"#),
        patch("/proxies/a/toxics/bw", r#"{"attributes": "#),
        patch("/proxies/a/toxics/nope", r#"{"toxicity": 0.5}"#),
        patch("/proxies/nope/toxics/lat", r#"{"toxicity": 0.5}"#),
        get("/proxies/a/toxics/lat"),
        delete("/proxies/a/toxics/lat"),
        delete("/proxies/a/toxics/lat"),
        delete("/proxies/nope/toxics/lat"),
        get("/proxies/a/toxics"),
    ]);
    // /populate: new, unchanged (toxics kept), replaced, errors.
    s.extend([
        post(
            "/populate",
            r#"[{"name": "p1", "listen": "127.0.0.1:0", "upstream": "{UP}"}, {"name": "p2", "listen": "127.0.0.1:0", "upstream": "{UP}", "enabled": false}]"#,
        ),
        post(
            "/populate",
            r#"[{"name": "a", "listen": "{listen:a}", "upstream": "{UP}"}]"#,
        ),
        get("/proxies/a/toxics"),
        post(
            "/populate",
            r#"[{"name": "p1", "listen": "127.0.0.1:0", "upstream": "{UP}"}]"#,
        ),
        post(
            "/populate",
            r#"[{"name": "d", "listen": "127.0.0.1:0", "upstream": "{UP}"}, {"name": "d", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}]"#,
        ),
        post("/populate", r#"[{"listen": "127.0.0.1:0", "upstream": "{UP}"}]"#),
        post("/populate", r#"[{"name": "e", "listen": "127.0.0.1:0"}]"#),
        post(
            "/populate",
            r#"[{"name": "f", "listen": "127.0.0.1:0", "upstream": "{UP}"}, {"name": "g", "listen": "{BUSY}", "upstream": "{UP}"}, {"name": "h", "listen": "127.0.0.1:0", "upstream": "{UP}"}]"#,
        ),
        post("/populate", r#"{"name": "not a list"}"#),
        post("/populate", r#"[{"#),
        post("/populate", "[]"),
        get("/proxies"),
        // /reset: every proxy enabled, every toxic gone.
        post("/proxies/p1", r#"{"enabled": false}"#),
        post("/proxies/a/toxics", r#"{"type": "latency", "stream": "upstream"}"#),
        step(M::POST, "/reset", None),
        get("/proxies"),
        // Deletes, and routes that do not exist.
        delete("/proxies/a"),
        delete("/proxies/a"),
        get("/proxies/a"),
        get("/nope"),
        get("/proxies/a/b/c"),
    ]);
    s
}

/// What one server answered to the whole script, normalised, with what it took to get there.
struct Transcript {
    answers: Vec<(u16, Value)>,
}

/// Replaces, in `body`, the placeholders of [`Step`] for one server.
fn fill(text: &str, up: SocketAddr, busy: SocketAddr, listens: &HashMap<String, String>) -> String {
    let mut text = text.replace("{UP}", &up.to_string());
    text = text.replace("{BUSY}", &busy.to_string());
    for (name, listen) in listens {
        text = text.replace(&format!("{{listen:{name}}}"), listen);
    }
    text
}

/// Remembers the listen address of every proxy object in `v` (by its name).
fn learn_listens(v: &Value, listens: &mut HashMap<String, String>) {
    match v {
        Value::Object(map) => {
            if let (Some(Value::String(name)), Some(Value::String(listen))) =
                (map.get("name"), map.get("listen"))
            {
                listens.insert(name.clone(), listen.clone());
            }
            map.values().for_each(|v| learn_listens(v, listens));
        }
        Value::Array(items) => items.iter().for_each(|v| learn_listens(v, listens)),
        _ => {}
    }
}

/// Applies [`KNOWN_DIFFERENCES`] to one answer: `ports` maps each bound address of this server
/// to its `<port N>`; `fixed` are the addresses the test chose (kept as they are).
fn normalise(v: &mut Value, ports: &mut HashMap<String, String>, fixed: &[String]) {
    match v {
        Value::Object(map) => {
            map.remove("Logger");
            for (key, value) in map.iter_mut() {
                match (key.as_str(), &mut *value) {
                    ("version", Value::String(s)) => *s = "<version>".into(),
                    ("listen", Value::String(s)) if !s.ends_with(":0") && !fixed.contains(s) => {
                        let n = ports.len() + 1;
                        *s = ports
                            .entry(s.clone())
                            .or_insert(format!("<port {n}>"))
                            .clone();
                    }
                    ("error", Value::String(s)) if s.starts_with("bad request body: ") => {
                        *s = "bad request body: <parser message>".into()
                    }
                    _ => normalise(value, ports, fixed),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| normalise(v, ports, fixed)),
        _ => {}
    }
}

fn run_script(server: &ServerProcess, up: SocketAddr, busy: SocketAddr) -> Transcript {
    let fixed = [up.to_string(), busy.to_string(), "127.0.0.1:9".to_string()];
    let mut listens = HashMap::new();
    let mut ports = HashMap::new();
    let mut answers = Vec::new();
    for s in script() {
        let path = fill(s.path, up, busy, &listens);
        let body = s.body.map(|b| fill(b, up, busy, &listens));
        let (status, mut value) = call_text(s.method.clone(), &server.url(&path), body);
        learn_listens(&value, &mut listens);
        normalise(&mut value, &mut ports, &fixed);
        answers.push((status, value));
    }
    Transcript { answers }
}

#[test]
fn the_same_rest_calls_get_the_same_answers_from_toxiproxy_and_the_builtin_server() {
    let Some(real) = spawn_server(ProxyServer::Toxiproxy) else {
        return;
    };
    let ours = spawn_server(ProxyServer::Builtin).unwrap();
    let up = echo_server();
    let busy_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy_listener.local_addr().unwrap();

    let expected = run_script(&real, up, busy);
    let actual = run_script(&ours, up, busy);
    let steps = script();
    let mut differences = Vec::new();
    for (i, (want, got)) in expected.answers.iter().zip(&actual.answers).enumerate() {
        if want != got {
            let s = &steps[i];
            differences.push(format!(
                "step {i}: {} {} {}\n  toxiproxy: {} {}\n  builtin:   {} {}",
                s.method,
                s.path,
                s.body.unwrap_or(""),
                want.0,
                want.1,
                got.0,
                got.1
            ));
        }
    }
    eprintln!(
        "{} calls compared; known differences normalised: {}",
        steps.len(),
        KNOWN_DIFFERENCES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The script must exercise what it claims: every error status and both streams.
    let statuses: std::collections::BTreeSet<u16> =
        expected.answers.iter().map(|(s, _)| *s).collect();
    for status in [200, 201, 204, 400, 404, 409, 500] {
        assert!(statuses.contains(&status), "no call answered {status}");
    }
    assert!(
        differences.is_empty(),
        "{} differences:\n{}",
        differences.len(),
        differences.join("\n")
    );
    drop(busy_listener);
}
