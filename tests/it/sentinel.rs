//! Redis behind Sentinel (issue 15) on real `redis-server` and `redis-sentinel` processes: the
//! clients follow a failover (through the proxies, with only fail/info cache steps while no
//! primary is reachable), the forced lost-delete race is flagged, reads from a replica
//! (`cache_read_from = "replica"`) are served and staler, and nothing is left running.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

/// The ports of the Redis replicas and sentinels, from the start-up line on stderr
/// ("..., 1 redis replica(s) on 127.0.0.1:P, 3 sentinels on 127.0.0.1:A, B, C (master ...").
fn started_ports(inv: &Invocation) -> Vec<u16> {
    let stdout = format!("{}\n{}", inv.stdout, inv.stderr);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("started ") && l.contains("sentinels on"))
        .unwrap_or_else(|| panic!("no start-up line with sentinels: {stdout}"));
    let tail = &line[line.find("redis replica(s) on").expect("replicas")..];
    let tail = &tail[..tail.find("(master").expect("master")];
    tail.split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse::<u16>().ok())
        .filter(|p| *p > 1000)
        .collect()
}

/// Nothing answers on the ports any more (the run removed its replicas and sentinels).
fn assert_nothing_listens(ports: &[u16]) {
    assert!(ports.len() >= 4, "ports {ports:?}");
    for p in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", *p)).is_err(),
            "something still listens on 127.0.0.1:{p} after the run"
        );
    }
}

fn failover_record(s: &Value) -> &Value {
    s["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fault"] == "failover")
        .unwrap_or_else(|| panic!("no failover interval: {}", s["faults"]))
}

/// A primary killed while the clients run: Sentinel promotes the replica, the proxies follow
/// it, and the clients are served again. While the proxies still forward to the dead primary
/// (from the kill until the sentinels report the new one) no cache step succeeds, some fail;
/// after the failover, cache steps succeed again.
#[test]
fn a_failover_is_followed_by_the_clients() {
    let wl = r#"
name = "sentinel-failover"
keys = 8
clients = 4
read_fraction = 0.5
duration_s = 4.5
op_timeout_ms = 500
trace_steps = true
strategies = ["db-then-delete"]
[infra]
redis = "sentinel"
[[nemesis]]
fault = "failover"
mode = "kill"
at_s = 0.5
duration_s = 60.0
"#;
    let inv = run_workload(wl, &[]);
    assert_eq!(inv.code, 0, "{}\n{}", inv.stdout, inv.stderr);
    let s = inv.summary("db-then-delete");
    let f = failover_record(&s);
    assert!(f["error"].is_null(), "{f}");
    let a = &f["applied"];
    assert_ne!(a["promoted"], a["old_primary"], "{a}");
    let served_ms = a["served_ms"].as_u64().unwrap();
    let promoted_ms = a["promoted_ms"].as_u64().unwrap();
    // start_ns is taken when the fault returned (clients served again).
    let served_ns = f["start_ns"].as_u64().unwrap();
    let killed_ns = served_ns - served_ms * 1_000_000;
    let promoted_ns = killed_ns + promoted_ms * 1_000_000;
    let text =
        std::fs::read_to_string(inv.strategy_dir("db-then-delete").join("history.jsonl")).unwrap();
    let steps: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["process"].as_i64().unwrap() >= 0)
        .filter(|e| e["f"].as_str().unwrap().starts_with("cache-"))
        .collect();
    let during = |e: &&Value| {
        let t = e["time"].as_u64().unwrap();
        t > killed_ns + 20_000_000 && t < promoted_ns
    };
    let ok_during: Vec<&Value> = steps
        .iter()
        .filter(during)
        .filter(|e| e["type"] == "ok")
        .collect();
    assert!(
        ok_during.is_empty(),
        "cache steps ok while no primary was reachable: {:?}",
        &ok_during[..ok_during.len().min(3)]
    );
    assert!(
        steps
            .iter()
            .filter(during)
            .any(|e| e["type"] == "fail" || e["type"] == "info"),
        "no failed cache step during the failover (killed at {killed_ns} ns)"
    );
    let ok_after = steps
        .iter()
        .filter(|e| e["time"].as_u64().unwrap() > served_ns && e["type"] == "ok")
        .count();
    assert!(
        ok_after > 10,
        "only {ok_after} ok cache steps after the failover"
    );
    assert_nothing_listens(&started_ports(&inv));
}

/// The forced race of workloads/races/redis-failover-lost-delete.toml: the replica misses the
/// deletes behind a partition and is promoted; db-then-delete serves the resurrected old
/// values (divergent keys), db-only is clean, and the run meets the workload's expectations.
#[test]
fn the_failover_lost_delete_race_is_flagged() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workloads/races")
        .join("redis-failover-lost-delete.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let inv = run_workload(
        &text,
        &["--strategy", "db-then-delete", "--strategy", "db-only"],
    );
    assert_eq!(inv.code, 0, "{}\n{}", inv.stdout, inv.stderr);
    assert!(inv.anomaly("db-then-delete", "divergent_keys") > 0);
    for a in ANOMALIES {
        assert_eq!(inv.anomaly("db-only", a), 0, "db-only {a}");
    }
    let s = inv.summary("db-then-delete");
    let f = failover_record(&s);
    assert!(f["error"].is_null(), "{f}");
    // The partition of the replication link was applied before the failover.
    let p = s["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["fault"] == "partition")
        .expect("partition");
    assert_eq!(p["target"], "redis-replication");
    assert!(p["start_ns"].as_u64() < f["start_ns"].as_u64());
    assert_nothing_listens(&started_ports(&inv));
}

/// `cache_read_from = "replica"` with the replication link slowed by 300 ms: db-then-delete
/// reading a Redis replica is served (its cache reads succeed) and serves the values its
/// deletes have not yet removed on the replica, so more stale reads than the same strategy
/// reading the primary.
#[test]
fn replica_reads_are_served_and_staler() {
    let wl = r#"
name = "sentinel-replica-reads"
keys = 4
clients = 4
read_fraction = 0.8
duration_s = 2.0
op_timeout_ms = 1000
trace_steps = true
strategies = ["db-then-delete", "db-then-delete@replica"]
[infra]
redis = "sentinel"
[strategy."db-then-delete@replica"]
cache_read_from = "replica"
[[nemesis]]
fault = "latency"
role = "redis-replication"
latency_ms = 300
at_s = 0.0
duration_s = 60.0
"#;
    let inv = run_workload(wl, &[]);
    assert_eq!(inv.code, 0, "{}\n{}", inv.stdout, inv.stderr);
    let text = std::fs::read_to_string(
        inv.strategy_dir("db-then-delete@replica")
            .join("history.jsonl"),
    )
    .unwrap();
    let ok_cache_reads = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["f"] == "read" && e["type"] == "ok" && e["source"] == "cache")
        .count();
    assert!(
        ok_cache_reads > 20,
        "{ok_cache_reads} reads served by the replica"
    );
    // No GET failed (a replica serves reads).
    assert!(!text.contains("\"cache-get\""), "failed cache-get steps");
    let primary = inv.anomaly("db-then-delete", "stale_reads");
    let replica = inv.anomaly("db-then-delete@replica", "stale_reads");
    assert!(
        replica > primary,
        "stale reads: {replica} reading the replica, {primary} reading the primary"
    );
    assert_nothing_listens(&started_ports(&inv));
}

/// Bad combinations are one-line errors with exit code 2 before any server starts.
#[test]
fn sentinel_misconfigurations_exit_2() {
    for (extra, needle) in [
        (
            "[infra]\nredis = \"sentinel\"\nkind = \"docker\"\n",
            "local\" only",
        ),
        ("[infra]\nredis = \"cluster\"\n", "not implemented"),
        (
            "[[nemesis]]\nfault = \"failover\"\nmode = \"kill\"\nat_s = 1.0\nduration_s = 1.0\n",
            "needs Redis replicas",
        ),
        (
            "[strategy.db-then-delete]\nwait_replicas = 1\n",
            "wait_replicas",
        ),
        (
            "[strategy.db-then-delete]\ncache_read_from = \"replica\"\n",
            "cache_read_from",
        ),
    ] {
        let wl = format!(
            "name = \"bad\"\nkeys = 2\nduration_s = 1.0\nstrategies = [\"db-then-delete\"]\n{extra}"
        );
        let inv = run_workload(&wl, &[]);
        assert_eq!(inv.code, 2, "{extra}: {}\n{}", inv.stdout, inv.stderr);
        let err = inv.stderr.trim();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{extra}: {err}");
    }
}
