//! The spine against real MariaDB and Redis: the control stays clean, racy strategies are
//! flagged, results can be re-checked, bad input exits 2.

use crate::support::*;

#[test]
fn db_only_reports_nothing_over_thousands_of_ops() {
    let inv = run_workload(
        r#"
name = "control"
keys = 4
clients = 8
duration_s = 2.0
read_fraction = 0.5
strategies = ["db-only"]
[strategy.db-only]
expect = ["stale_reads == 0", "converges", "dirty_reads == 0", "impossible_reads == 0",
          "monotonic_read_violations == 0", "read_your_writes_violations == 0", "lost_writes == 0"]
"#,
        &["-q"],
    );
    assert_eq!(
        inv.code, 0,
        "stdout: {}\nstderr: {}",
        inv.stdout, inv.stderr
    );
    let s = inv.summary("db-only");
    let ops = s["ops"]["read"]["ok"].as_u64().unwrap() + s["ops"]["write"]["ok"].as_u64().unwrap();
    assert!(ops >= 2000, "only {ops} operations");
    for (name, v) in s["anomalies"].as_object().unwrap() {
        assert_eq!(v.as_u64(), Some(0), "{name} on db-only");
    }
    assert_complete_history(&inv.strategy_dir("db-only"));
}

#[test]
fn racy_strategies_on_hot_keys_are_flagged() {
    let inv = run_workload(
        r#"
name = "hot"
keys = 2
clients = 16
duration_s = 3.0
read_fraction = 0.5
strategies = ["db-then-cache", "delete-then-db"]
"#,
        &["-q"],
    );
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    let stale =
        inv.anomaly("db-then-cache", "stale_reads") + inv.anomaly("delete-then-db", "stale_reads");
    let diverged = inv.anomaly("db-then-cache", "divergent_keys")
        + inv.anomaly("delete-then-db", "divergent_keys");
    assert!(stale > 0, "no stale read flagged on hot keys");
    assert!(diverged + stale > 0);
    for s in ["db-then-cache", "delete-then-db"] {
        assert_eq!(inv.anomaly(s, "impossible_reads"), 0, "{s}");
        assert_eq!(inv.anomaly(s, "dirty_reads"), 0, "{s}");
    }
}

#[test]
fn check_reproduces_the_stored_figures() {
    let inv = run_workload(
        "name = \"recheck\"\nkeys = 3\nclients = 6\nduration_s = 1.0\nstrategies = [\"delete-then-db\"]\n",
        &["-q"],
    );
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    let dir = inv.strategy_dir("delete-then-db");
    let stored = inv.summary("delete-then-db");
    let (code, out, err) = cachecheck(&["check", dir.to_str().unwrap(), "--json"], None);
    assert_eq!(code, 0, "{err}");
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    for field in [
        "anomalies",
        "ops",
        "staleness",
        "inconsistency_window",
        "latency_ms",
        "verdicts",
    ] {
        assert_eq!(
            stored[field], again[field],
            "{field} differs after re-check"
        );
    }
    // check wrote nothing into the directory.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
}

#[test]
fn malformed_workload_exits_2_with_one_line() {
    let inv = run_workload("name = \"bad\"\nclients = 0\n", &[]);
    assert_eq!(inv.code, 2);
    let lines: Vec<&str> = inv.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", inv.stderr);
    assert!(
        lines[0].contains("clients") && lines[0].contains("workload.toml"),
        "{}",
        lines[0]
    );
    assert!(inv.run_dir.is_none(), "no run directory for a bad workload");

    let inv = run_workload("name = \"bad\"\nstrategies = [\"no-such\"]\n", &[]);
    assert_eq!(inv.code, 2);
    assert!(inv.stderr.contains("no-such"), "{}", inv.stderr);
}

#[test]
fn unknown_strategy_on_the_command_line_exits_2() {
    let inv = run_workload("name = \"x\"\n", &["--strategy", "nope"]);
    assert_eq!(inv.code, 2, "{}", inv.stderr);
    assert!(
        inv.stderr.contains("nope") && inv.stderr.lines().count() == 1,
        "{}",
        inv.stderr
    );
}

#[test]
fn missing_server_binary_is_one_line_naming_the_package() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("w.toml");
    std::fs::write(&wl, "name = \"x\"\n").unwrap();
    let o = std::process::Command::new(bin())
        .args(["run", wl.to_str().unwrap(), "--out"])
        .arg(tmp.path().join("results"))
        .env("PATH", tmp.path())
        .env("CACHECHECK_PATH_ONLY", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("apt-get install mariadb-server"), "{err}");
}
