//! Each fault kind takes effect and the run stays whole (real servers, real fault proxy).

use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// The history's events as JSON.
fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (start, stop) times of the fault with id `id`.
fn fault_window(evs: &[Value], id: &str) -> (u64, u64) {
    let t = |phase: &str| {
        evs.iter()
            .find(|e| e["f"] == "fault" && e["detail"]["id"] == id && e["detail"]["phase"] == phase)
            .unwrap_or_else(|| panic!("no {phase} event for fault {id}"))["time"]
            .as_u64()
            .unwrap()
    };
    (t("start"), t("stop"))
}

/// A client operation: (f, invoke time, completion time, completion type, source).
type Op = (String, u64, u64, String, Option<String>);

/// The client operations of a history.
fn ops(evs: &[Value]) -> Vec<Op> {
    let mut open = std::collections::HashMap::new();
    let mut out = Vec::new();
    for e in evs {
        let p = e["process"].as_i64().unwrap();
        let f = e["f"].as_str().unwrap();
        if p < 0 || (f != "read" && f != "write") {
            continue;
        }
        let t = e["time"].as_u64().unwrap();
        if e["type"] == "invoke" {
            open.insert(p, t);
        } else {
            let inv = open.remove(&p).unwrap();
            out.push((
                f.to_string(),
                inv,
                t,
                e["type"].as_str().unwrap().to_string(),
                e["source"].as_str().map(String::from),
            ));
        }
    }
    out
}

/// A one-strategy run with one scheduled fault (id `0-0`): its history and the fault's window.
///
/// `start` is recorded once the fault holds (the proxy's API call returned: for a partition no
/// byte passes from then on), `stop` once it is healed. The heal takes effect somewhere while
/// its call runs, before `stop` is recorded (under load, tens of ms before): what happened
/// before `stop` may already be healed. `held` is the earliest the heal can begin (the start
/// event plus the fault's `duration_s`: the nemesis records the start, then sleeps that long),
/// so the fault certainly holds in `start..held`.
struct FaultRun {
    inv: Invocation,
    evs: Vec<Value>,
    start: u64,
    held: u64,
    stop: u64,
}

/// Runs `toml` quietly (through the fault proxy `server`, if given), checks that it succeeded
/// and left a complete history for `strategy`.
fn fault_run(server: Option<ProxyServer>, toml: &str, strategy: &str) -> FaultRun {
    let inv = match server {
        Some(server) => run_workload_on(server, toml, &["-q"]),
        None => run_workload(toml, &["-q"]),
    };
    assert_eq!(inv.code, 0, "{}\n{}", inv.stdout, inv.stderr);
    let dir = inv.strategy_dir(strategy);
    assert_complete_history(&dir);
    let evs = events(&dir);
    let (start, stop) = fault_window(&evs, "0-0");
    let workload: toml::Table = toml::from_str(toml).unwrap();
    let duration_s = workload["nemesis"][0]["duration_s"].as_float().unwrap();
    FaultRun {
        inv,
        evs,
        start,
        held: start + (duration_s * 1e9) as u64,
        stop,
    }
}

impl FaultRun {
    /// Median latency of the ok operations while the fault certainly held (invoked after
    /// `start + EDGE`, completed before `held`), and of those well outside it.
    fn p50_with_and_without(&self) -> (u64, u64) {
        let ops = ops(&self.evs);
        let p50 = |inside: bool| {
            median(
                ops.iter()
                    .filter(|o| o.3 == "ok")
                    .filter(|o| {
                        if inside {
                            o.1 > self.start + EDGE && o.2 < self.held
                        } else {
                            o.2 < self.start || o.1 > self.stop + EDGE
                        }
                    })
                    .map(|o| o.2 - o.1)
                    .collect(),
            )
        };
        (p50(true), p50(false))
    }
}

/// The cache serves reads again after the fault was healed.
fn assert_cache_hit_after(ops: &[Op], stop: u64) {
    assert!(
        ops.iter()
            .any(|o| o.1 > stop + EDGE && o.4.as_deref() == Some("cache")),
        "no cache hit after healing"
    );
}

/// A step in flight when a fault starts or heals may land either way: 20 ms margins.
const EDGE: u64 = 20_000_000;

fn median(mut v: Vec<u64>) -> u64 {
    assert!(!v.is_empty());
    v.sort_unstable();
    v[v.len() / 2]
}

#[test]
fn redis_kill_empties_the_cache_and_the_run_stays_whole() {
    let FaultRun { inv, evs, stop, .. } = fault_run(
        None,
        r#"
name = "redis-kill"
keys = 4
clients = 4
duration_s = 3.0
read_fraction = 0.9
strategies = ["db-then-delete"]
[infra]
direct = true
[[nemesis]]
fault = "kill"
service = "redis"
at_s = 1.0
duration_s = 0.5
"#,
        "db-then-delete",
    );
    let ops = ops(&evs);
    assert!(ops
        .iter()
        .any(|o| o.0 == "read" && o.2 < stop && o.4.as_deref() == Some("cache")));
    assert!(
        ops.iter().any(|o| o.1 > stop && o.3 == "ok"),
        "no successful operation after the restart"
    );
    let s = inv.summary("db-then-delete");
    assert_eq!(s["faults"].as_array().unwrap().len(), 1);
    assert!(s["faults"][0]["error"].is_null(), "{}", s["faults"][0]);
}

#[test]
fn database_kill_gives_fail_or_info_then_recovery() {
    let FaultRun {
        evs, start, stop, ..
    } = fault_run(
        None,
        r#"
name = "db-kill"
keys = 4
clients = 4
duration_s = 4.0
read_fraction = 0.5
op_timeout_ms = 500
strategies = ["db-only"]
[infra]
direct = true
[[nemesis]]
fault = "kill"
service = "db"
at_s = 1.0
duration_s = 1.0
[strategy.db-only]
expect = ["impossible_reads == 0", "lost_writes == 0", "dirty_reads == 0"]
"#,
        "db-only",
    );
    let ops = ops(&evs);
    let broken = ops
        .iter()
        .filter(|o| o.2 >= start && o.1 <= stop && (o.3 == "fail" || o.3 == "info"))
        .count();
    assert!(
        broken > 0,
        "no fail/info operation while the database was down"
    );
    let recovered = ops.iter().filter(|o| o.1 > stop && o.3 == "ok").count();
    assert!(recovered > 0, "no successful operation after the restart");
}

#[test]
fn injected_delete_failures_only_inside_their_interval() {
    let FaultRun {
        evs, start, stop, ..
    } = fault_run(
        None,
        r#"
name = "del-fail"
keys = 4
clients = 4
duration_s = 3.0
read_fraction = 0.5
strategies = ["db-then-delete"]
[infra]
direct = true
[[nemesis]]
fault = "delete-failure"
mode = "error"
probability = 1.0
at_s = 1.0
duration_s = 1.0
"#,
        "db-then-delete",
    );
    let dels: Vec<(u64, String)> = evs
        .iter()
        .filter(|e| e["f"] == "cache-del")
        .map(|e| {
            (
                e["time"].as_u64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let inside: Vec<_> = dels
        .iter()
        .filter(|d| d.0 > start + EDGE && d.0 + EDGE < stop)
        .collect();
    let outside: Vec<_> = dels
        .iter()
        .filter(|d| d.0 + EDGE < start || d.0 > stop + EDGE)
        .collect();
    assert!(!inside.is_empty() && !outside.is_empty());
    assert!(
        inside.iter().all(|d| d.1 == "fail"),
        "a delete succeeded inside the interval"
    );
    assert!(
        outside.iter().all(|d| d.1 == "ok"),
        "a delete failed outside the interval"
    );
}

#[test]
fn pause_of_redis_delays_but_loses_nothing() {
    let FaultRun {
        evs, start, stop, ..
    } = fault_run(
        None,
        r#"
name = "pause"
keys = 4
clients = 4
duration_s = 3.0
op_timeout_ms = 300
strategies = ["db-then-delete"]
[infra]
direct = true
[[nemesis]]
fault = "pause"
service = "redis"
at_s = 1.0
duration_s = 1.0
"#,
        "db-then-delete",
    );
    // While Redis is stopped, cache steps time out or fail.
    let bad_steps = evs
        .iter()
        .filter(|e| {
            let t = e["time"].as_u64().unwrap();
            t > start
                && t < stop + 50_000_000
                && e["f"].as_str().is_some_and(|f| f.starts_with("cache-"))
                && e["type"] != "ok"
        })
        .count();
    assert!(bad_steps > 0, "no cache step failed while redis was paused");
    // And every client operation still completed within the per-op timeout (plus slack).
    for o in ops(&evs) {
        assert!(o.2 - o.1 < 3_000_000_000, "an operation hung: {o:?}");
    }
}

on_both_servers! {
    fn latency_toxic_slows_the_role_it_is_on(server) {
        let run = fault_run(
            Some(server),
            r#"
name = "latency"
keys = 8
clients = 4
duration_s = 4.0
read_fraction = 1.0
strategies = ["db-only"]
[[nemesis]]
fault = "latency"
role = "db"
latency_ms = 50
at_s = 1.5
duration_s = 1.5
"#,
            "db-only",
        );
        let (with, without) = run.p50_with_and_without();
        eprintln!(
            "read p50 through the db proxy: {:.2} ms without, {:.2} ms with a 50 ms toxic",
            without as f64 / 1e6,
            with as f64 / 1e6
        );
        assert!(
            with >= without + 45_000_000,
            "latency toxic added only {} ns",
            with - without
        );
    }
}

on_both_servers! {
    fn reset_peer_makes_deletes_fail_only_inside_the_interval(server) {
        let FaultRun {
            evs, start, held, stop, ..
        } = fault_run(
            Some(server),
            r#"
name = "reset-peer"
keys = 4
clients = 4
duration_s = 3.0
read_fraction = 0.5
strategies = ["db-then-delete"]
[[nemesis]]
fault = "delete-failure"
mode = "reset_peer"
at_s = 1.0
duration_s = 1.0
"#,
            "db-then-delete",
        );
        let dels: Vec<(u64, bool)> = evs
            .iter()
            .filter(|e| e["f"] == "cache-del")
            .map(|e| (e["time"].as_u64().unwrap(), e["type"] == "ok"))
            .collect();
        // Allow a few ms at the edges for the toxic to be added and removed.
        let inside: Vec<_> = dels
            .iter()
            .filter(|d| d.0 > start + EDGE && d.0 < held)
            .collect();
        let outside: Vec<_> = dels
            .iter()
            .filter(|d| d.0 + EDGE < start || d.0 > stop + EDGE)
            .collect();
        assert!(!inside.is_empty() && !outside.is_empty());
        let failed_inside = inside.iter().filter(|d| !d.1).count();
        eprintln!(
            "reset_peer: {failed_inside}/{} deletes failed inside the interval",
            inside.len()
        );
        assert_eq!(
            failed_inside,
            inside.len(),
            "a delete got through reset_peer"
        );
        assert!(
            outside.iter().all(|d| d.1),
            "a delete failed outside the interval"
        );
    }
}

on_both_servers! {
    fn partition_of_the_cache_read_role_cuts_cache_reads_only(server) {
        let FaultRun {
            evs, start, held, stop, ..
        } = fault_run(
            Some(server),
            r#"
name = "partition"
keys = 4
clients = 4
duration_s = 3.0
read_fraction = 0.9
strategies = ["db-then-delete"]
[[nemesis]]
fault = "partition"
role = "cache-read"
at_s = 1.0
duration_s = 1.0
"#,
            "db-then-delete",
        );
        let ops = ops(&evs);
        // No margin at the start: the proxy has closed the role's connections when its
        // disable returns (tests/it/proxy/disable.rs), so no read invoked after the start
        // event reaches the cache. The end is `held`: a read completing after the heal began
        // may already be served through the re-enabled proxy.
        let inside: Vec<_> = ops
            .iter()
            .filter(|o| o.0 == "read" && o.3 == "ok" && o.1 > start && o.2 < held)
            .collect();
        assert!(!inside.is_empty());
        assert!(
            inside.iter().all(|o| o.4.as_deref() == Some("db")),
            "a cache hit through a partitioned role"
        );
        assert_cache_hit_after(&ops, stop);
    }
}

on_both_servers! {
    /// A `timeout` toxic with no deadline holds the role's data: no cache read gets through
    /// while it is on (reads stall until their timeout), and removing it closes the held
    /// connections so that cache hits resume.
    fn timeout_toxic_stalls_the_role_it_is_on(server) {
        let FaultRun {
            evs, start, held, stop, ..
        } = fault_run(
            Some(server),
            r#"
name = "timeout"
keys = 4
clients = 4
duration_s = 3.0
read_fraction = 0.9
op_timeout_ms = 200
strategies = ["db-then-delete"]
[[nemesis]]
fault = "timeout"
role = "cache-read"
timeout_ms = 0
stream = "upstream"
at_s = 1.0
duration_s = 1.0
"#,
            "db-then-delete",
        );
        let ops = ops(&evs);
        // The stalled GET takes the whole op_timeout_ms: such reads end as `info`.
        let inside: Vec<_> = ops
            .iter()
            .filter(|o| o.0 == "read" && o.1 > start + EDGE && o.2 < held)
            .collect();
        let stalled = inside.iter().filter(|o| o.3 == "info").count();
        assert!(stalled > 0, "no read stalled under the timeout toxic");
        assert!(
            inside.iter().all(|o| o.4.as_deref() != Some("cache")),
            "a cache hit through a timed-out role"
        );
        assert_cache_hit_after(&ops, stop);
    }
}

on_both_servers! {
    /// A `toxic` fault with its own attributes (bandwidth, 2 KB/s down the `db` role) slows
    /// every database read while it is on.
    fn bandwidth_toxic_slows_the_role_it_is_on(server) {
        let run = fault_run(
            Some(server),
            r#"
name = "bandwidth"
keys = 8
clients = 4
duration_s = 4.0
read_fraction = 1.0
strategies = ["db-only"]
[[nemesis]]
fault = "toxic"
type = "bandwidth"
role = "db"
stream = "downstream"
attributes = { rate = 2 }
at_s = 1.5
duration_s = 1.5
"#,
            "db-only",
        );
        let (with, without) = run.p50_with_and_without();
        eprintln!(
            "read p50 through the db proxy: {:.2} ms without, {:.2} ms with 2 KB/s of bandwidth",
            without as f64 / 1e6,
            with as f64 / 1e6
        );
        assert!(
            with >= without + 20_000_000,
            "the bandwidth toxic added only {} ns",
            with.saturating_sub(without)
        );
    }
}

#[test]
fn redis_kill_and_restart_loses_the_cache_database_kill_keeps_commits() {
    use cachecheck::infra::{local::LocalInfra, Service, Stack};
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut stack = Stack::Local(Box::new(LocalInfra::start(None).await.unwrap()));
        let ep = stack.endpoints().clone();
        let client = redis::Client::open(ep.redis_url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(1)
            .query_async(&mut c)
            .await
            .unwrap();
        // A pause keeps the data...
        stack.pause(Service::Redis).await.unwrap();
        stack.resume(Service::Redis).await.unwrap();
        let v: Option<i64> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(v, Some(1));
        // ...a kill and restart loses it.
        stack.kill(Service::Redis).await.unwrap();
        stack.restart(Service::Redis).await.unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let v: Option<i64> = redis::cmd("GET")
            .arg("k")
            .query_async(&mut c)
            .await
            .unwrap();
        assert_eq!(v, None, "the cache survived a kill and restart");

        // The database recovers committed writes after a kill.
        use mysql_async::prelude::Queryable;
        let mut db = mysql_async::Conn::new(ep.db.opts(false)).await.unwrap();
        cachecheck::register::reset(&mut db, &ep.db.database, 2)
            .await
            .unwrap();
        let version = cachecheck::register::write(&mut db, 1, 77).await.unwrap();
        assert_eq!(version, Some(2));
        drop(db);
        stack.kill(Service::Db).await.unwrap();
        stack.restart(Service::Db).await.unwrap();
        let mut db = mysql_async::Conn::new(ep.db.opts(true)).await.unwrap();
        let v: Option<i64> = db
            .query_first("SELECT v FROM register WHERE k = 1")
            .await
            .unwrap();
        assert_eq!(v, Some(77));
        stack.stop().await;
    });
}
