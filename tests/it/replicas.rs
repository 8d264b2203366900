//! Read replicas (issue 14) on real MariaDB replication: the race of a fill from a lagging
//! replica is flagged in every run (not by luck), a replica applies every committed write and
//! catches up after each fault mode, and nothing is left running.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

fn jsonl(dir: &Path, file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The forced race, over several seeds: db-then-delete filling from the replica diverges in
/// every run; db-only reading the replica is stale but converges; reads carry `source:
/// "replica"`; the replica holds the primary's commits at the end.
#[test]
fn the_replica_lag_race_is_flagged_in_every_run() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/races/replica-lag-fill.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    for seed in ["1", "2", "3"] {
        // Only the strategies checked here (the fixers have their own tests).
        let inv = run_workload(
            &text,
            &[
                "-q",
                "--seed",
                seed,
                "--strategy",
                "db-then-delete",
                "--strategy",
                "db-only",
                "--strategy",
                "db-then-delete@primary",
            ],
        );
        assert_eq!(inv.code, 0, "seed {seed}: {}\n{}", inv.stdout, inv.stderr);
        assert!(
            inv.anomaly("db-then-delete", "divergent_keys") > 0,
            "seed {seed}"
        );
        assert!(inv.anomaly("db-only", "stale_reads") > 0, "seed {seed}");
        assert_eq!(inv.anomaly("db-only", "divergent_keys"), 0, "seed {seed}");
        let history =
            std::fs::read_to_string(inv.strategy_dir("db-then-delete").join("history.jsonl"))
                .unwrap();
        assert!(history.contains("\"source\":\"replica\""), "seed {seed}");
        let s = inv.summary("db-then-delete");
        assert_eq!(
            s["replicas"]["replica-1"]["matches_primary"], true,
            "{}",
            s["replicas"]
        );
        // The SQL thread was stopped for most of the run: the lag shows it.
        assert!(
            s["replica_lag_ms"]["max"].as_f64().unwrap() > 1000.0,
            "{}",
            s["replica_lag_ms"]
        );
        assert!(
            inv.summary("db-then-delete@primary")["replicas"]["replica-1"]["matches_primary"]
                == true
        );
    }
    assert_no_servers_left();
}

/// `remote-marker` under the race: every miss that saw a marker read the primary and every
/// miss that saw none read the replica; every acknowledged write set its marker first; it
/// leaves fewer keys divergent than db-then-delete filling from the replica in the same run.
#[test]
fn remote_marker_reads_the_primary_while_the_marker_lives() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/races/replica-lag-fill.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let inv = run_workload(
        &text,
        &[
            "-q",
            "--duration",
            "2",
            "--strategy",
            "db-then-delete",
            "--strategy",
            "remote-marker",
        ],
    );
    assert_eq!(inv.code, 0, "{}\n{}", inv.stdout, inv.stderr);
    let h = jsonl(&inv.strategy_dir("remote-marker"), "history.jsonl");
    // The last marker-get of each process, until its read completes.
    let mut pending: std::collections::HashMap<i64, (i64, bool)> = Default::default();
    let (mut marked, mut unmarked, mut marker_sets, mut writes) = (0, 0, 0, 0);
    for e in &h {
        let p = e["process"].as_i64().unwrap();
        match (e["f"].as_str().unwrap(), e["type"].as_str().unwrap()) {
            ("marker-get", "ok") => {
                let m = e["detail"]["marked"].as_bool().unwrap();
                pending.insert(p, (e["key"].as_i64().unwrap(), m));
            }
            ("marker-set", "ok") => marker_sets += 1,
            ("write", "ok") => writes += 1,
            ("read", "ok") => {
                if let Some((k, m)) = pending.remove(&p) {
                    assert_eq!(e["key"], k, "{e}");
                    let want = if m { "db" } else { "replica" };
                    assert_eq!(e["source"], want, "marked {m}: {e}");
                    if m {
                        marked += 1;
                    } else {
                        unmarked += 1;
                    }
                }
            }
            _ => {}
        }
    }
    assert!(
        marked > 0 && unmarked > 0,
        "{marked} marked, {unmarked} not"
    );
    assert!(
        writes > 20 && marker_sets >= writes,
        "{marker_sets} markers, {writes} writes"
    );
    assert!(
        inv.anomaly("remote-marker", "divergent_keys")
            < inv.anomaly("db-then-delete", "divergent_keys")
    );
}

fn faulted(fault: &str) -> String {
    format!(
        r#"
name = "replica-fault"
keys = 8
clients = 6
read_fraction = 0.5
duration_s = 3.0
op_timeout_ms = 1000
strategies = ["db-then-delete"]
[strategy.db-then-delete]
fill_from = "replica"
[infra]
db_replicas = 1
[[nemesis]]
{fault}
at_s = 0.5
duration_s = 1.5
"#
    )
}

/// After each fault mode the replica catches up (waited for before quiescence) and holds
/// exactly the primary's commits, per key in version order; the fault applied without error;
/// the lag during the fault is visible.
#[test]
fn a_replica_applies_every_commit_and_catches_up_after_each_fault_mode() {
    for fault in [
        "fault = \"replica-lag\"\nmode = \"stop-sql\"",
        "fault = \"replica-lag\"\nmode = \"delay\"\ndelay_s = 1",
        "fault = \"latency\"\nrole = \"replication\"\nlatency_ms = 200",
        "fault = \"partition\"\nrole = \"replication\"",
    ] {
        let inv = run_workload(&faulted(fault), &["-q"]);
        assert_eq!(inv.code, 0, "{fault}: {}\n{}", inv.stdout, inv.stderr);
        let s = inv.summary("db-then-delete");
        for f in s["faults"].as_array().unwrap() {
            assert!(f["error"].is_null(), "{fault}: {f}");
        }
        assert!(!s["faults"].as_array().unwrap().is_empty(), "{fault}");
        let r = &s["replicas"]["replica-1"];
        assert_eq!(r["matches_primary"], true, "{fault}: {r}");
        assert!(r["commits"].as_u64().unwrap() > 8, "{fault}: {r}");
        assert!(
            s["replica_lag_ms"]["max"].as_f64().unwrap() > 100.0,
            "{fault}: no lag seen: {}",
            s["replica_lag_ms"]
        );
        assert!(
            !inv.stderr.contains("did not catch up"),
            "{fault}: {}",
            inv.stderr
        );
    }
    assert_no_servers_left();
}

/// `kill` and `pause` of a replica's server: each fault is recorded (history and summary) with
/// what it did and healed without error; the heal restarted (or resumed) the replica and waited
/// until it caught up, and it holds exactly the primary's commits at the end.
#[test]
fn a_killed_or_paused_replica_catches_up_when_healed() {
    let w = r#"
name = "replica-kill"
keys = 8
clients = 6
read_fraction = 0.5
duration_s = 2.5
op_timeout_ms = 500
strategies = ["db-then-delete"]
[strategy.db-then-delete]
fill_from = "replica"
[infra]
db_replicas = 1
[[nemesis]]
fault = "kill"
service = "replica"
at_s = 0.3
duration_s = 0.7
[[nemesis]]
fault = "pause"
service = "replica-1"
at_s = 1.4
duration_s = 0.6
"#;
    let inv = run_workload(w, &["-q"]);
    assert_eq!(inv.code, 0, "{}\n{}", inv.stdout, inv.stderr);
    let s = inv.summary("db-then-delete");
    let faults = s["faults"].as_array().unwrap();
    for (fault, target, signal) in [
        ("kill", "replica", "SIGKILL"),
        ("pause", "replica-1", "SIGSTOP"),
    ] {
        let f = faults
            .iter()
            .find(|f| f["fault"] == fault)
            .unwrap_or_else(|| panic!("no {fault}: {faults:?}"));
        assert!(f["error"].is_null(), "{f}");
        assert_eq!(f["target"], target, "{f}");
        assert_eq!(f["applied"]["signal"], signal, "{f}");
        assert_eq!(f["applied"]["replicas"][0], "replica-1", "{f}");
        assert!(f["end_ns"].as_u64().is_some(), "{f}");
    }
    let h = jsonl(&inv.strategy_dir("db-then-delete"), "history.jsonl");
    let phases = h.iter().filter(|e| e["f"] == "fault").count();
    assert_eq!(phases, 4, "start and stop of both faults");
    let r = &s["replicas"]["replica-1"];
    assert_eq!(r["matches_primary"], true, "{r}");
    assert!(r["commits"].as_u64().unwrap() > 8, "{r}");
    // Regression: reads cut off by the operation timeout while the replica was paused left
    // their connection behind, and its next read returned the previous read's value (209
    // impossible reads in one run).
    assert_eq!(s["anomalies"]["impossible_reads"], 0, "{}", s["anomalies"]);
    // While the replica was down its reads failed or timed out.
    assert!(
        s["ops"]["read"]["fail"].as_u64().unwrap() + s["ops"]["read"]["info"].as_u64().unwrap() > 0,
        "{}",
        s["ops"]
    );
    assert_no_servers_left();
}

/// A `service` that names no target is a one-line configuration error (exit 2).
#[test]
fn kill_of_an_unknown_replica_name_is_refused() {
    let inv = run_workload(
        "name = \"x\"\nstrategies = [\"db-then-delete\"]\n[infra]\ndb_replicas = 1\n[[nemesis]]\nfault = \"kill\"\nservice = \"replica-x\"\nat_s = 1\nduration_s = 1\n",
        &["-q"],
    );
    assert_eq!(inv.code, 2, "{}", inv.stderr);
    assert!(inv.stderr.contains("replica-N"), "{}", inv.stderr);
    assert_eq!(inv.stderr.trim().lines().count(), 1, "{}", inv.stderr);
}

/// `fill_from = "replica"` without replicas is a one-line configuration error (exit 2).
#[test]
fn fill_from_replica_needs_replicas() {
    let inv = run_workload(
        "name = \"x\"\nstrategies = [\"db-then-delete\"]\n[strategy.db-then-delete]\nfill_from = \"replica\"\n",
        &["-q"],
    );
    assert_eq!(inv.code, 2, "{}", inv.stderr);
    assert!(inv.stderr.contains("db_replicas"), "{}", inv.stderr);
    assert_eq!(inv.stderr.trim().lines().count(), 1, "{}", inv.stderr);
}

/// No replica process outlives its run: a replica whose cachecheck is gone would be reparented
/// (to init), so none of the replicas running may be an orphan. (Other tests' runs may be
/// running replicas of their own at the same time; those still have their parent.)
fn assert_no_servers_left() {
    let out = std::process::Command::new("ps")
        .args(["-eo", "pid=,ppid=,args="])
        .output()
        .unwrap();
    let orphans: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("mariadbd") && l.contains("/replica-"))
        .filter(|l| l.split_whitespace().nth(1) == Some("1"))
        .map(str::to_string)
        .collect();
    assert!(
        orphans.is_empty(),
        "replica processes left running: {orphans:?}"
    );
}
