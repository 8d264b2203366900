//! Read replicas (issue 14) on real MariaDB replication: the race of a fill from a lagging
//! replica is flagged in every run (not by luck), a replica applies every committed write and
//! catches up after each fault mode, and nothing is left running.

use crate::support::*;
use std::path::Path;

/// The forced race, over several seeds: db-then-delete filling from the replica diverges in
/// every run; db-only reading the replica is stale but converges; reads carry `source:
/// "replica"`; the replica holds the primary's commits at the end.
#[test]
fn the_replica_lag_race_is_flagged_in_every_run() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/races/replica-lag-fill.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    for seed in ["1", "2", "3"] {
        let inv = run_workload(&text, &["-q", "--seed", seed]);
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
