//! Strategy `service`: the example services of `examples/` (Python: Flask, redis-py, PyMySQL;
//! Node.js: http, node-redis, mysql) started by cachecheck on its servers and proxies, under
//! the seed races' faults (as `workloads/races/` force them on the built-in strategies): their
//! racy modes are flagged, their correct mode (versioned fills) stays clean. And the errors of
//! a service that never becomes healthy or exits at start, and a kill of the service mid-run.

use crate::support::*;
use std::path::Path;

/// The argv of an example service, absolute.
fn example(lang: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    match lang {
        "python" => format!(
            "[\"/usr/bin/python3\", \"{}\"]",
            root.join("python/app.py").display()
        ),
        _ => format!("[\"node\", \"{}\"]", root.join("node/app.js").display()),
    }
}

/// A race workload: `racy` and `fixed` modes of an example under one fault (the fault of a
/// workload in `workloads/races/`).
fn race_workload(lang: &str, racy_mode: &str, fault: &str) -> String {
    let cmd = example(lang);
    format!(
        r#"name = "service-race"
seed = 34
keys = 2
clients = 16
read_fraction = 0.8
duration_s = 3.0
op_timeout_ms = 1000
settle_ms = 500
strategies = ["service@racy", "service@fixed"]

[strategy."service@racy"]
command = {cmd}
env = {{ CACHE_MODE = "{racy_mode}" }}

[strategy."service@fixed"]
command = {cmd}
env = {{ CACHE_MODE = "versioned" }}
cache_value = "/value"

[[nemesis]]
{fault}
at_s = 0.3
duration_s = 10
"#
    )
}

/// workloads/races/delete-then-db-refill.toml's fault: the delete's reply held back 100 ms.
const SLOW_DELETE: &str =
    "fault = \"latency\"\nrole = \"cache-write\"\nstream = \"downstream\"\nlatency_ms = 100";
/// workloads/races/db-then-delete-slow-fill.toml's fault: every fill lands 100 ms late.
const SLOW_FILL: &str =
    "fault = \"latency\"\nrole = \"cache-fill\"\nstream = \"upstream\"\nlatency_ms = 100";

fn race(lang: &str, racy_mode: &str, fault: &str) {
    let inv = run_workload(&race_workload(lang, racy_mode, fault), &["-q"]);
    let ctx = format!("{lang} {racy_mode}: {}\n{}", inv.stdout, inv.stderr);
    assert!(inv.code == 0 || inv.code == 1, "{ctx}");
    let racy = inv.summary("service@racy");
    let fixed = inv.summary("service@fixed");
    let ops = |s: &serde_json::Value| {
        s["ops"]["read"]["ok"].as_u64().unwrap_or(0) + s["ops"]["write"]["ok"].as_u64().unwrap_or(0)
    };
    assert!(
        ops(&racy) > 100 && ops(&fixed) > 100,
        "too few operations: {ctx}"
    );
    assert!(
        inv.anomaly("service@racy", "stale_reads") > 0,
        "racy mode {racy_mode} not flagged: {ctx}"
    );
    assert_eq!(inv.anomaly("service@fixed", "stale_reads"), 0, "{ctx}");
    assert_eq!(inv.anomaly("service@fixed", "divergent_keys"), 0, "{ctx}");
    assert_eq!(
        inv.anomaly("service@fixed", "failed_writes_committed"),
        0,
        "{ctx}"
    );
    // The fault was applied and recorded.
    assert!(
        racy["faults"].as_array().is_some_and(|f| !f.is_empty()),
        "no fault recorded: {ctx}"
    );
    // The service's output is in the strategy's directory.
    assert!(inv
        .strategy_dir("service@racy")
        .join("service.log")
        .exists());
    assert_complete_history(&inv.strategy_dir("service@racy"));
}

#[test]
fn python_example_delete_then_db_refill() {
    race("python", "delete-then-db", SLOW_DELETE);
}

#[test]
fn python_example_db_then_delete_slow_fill() {
    race("python", "db-then-delete", SLOW_FILL);
}

#[test]
fn node_example_delete_then_db_refill() {
    race("node", "delete-then-db", SLOW_DELETE);
}

#[test]
fn node_example_db_then_delete_slow_fill() {
    race("node", "db-then-delete", SLOW_FILL);
}

fn one_service(command: &str, extra: &str) -> String {
    format!(
        r#"name = "service-errors"
keys = 2
clients = 2
duration_s = 1.0
strategies = ["service"]

[strategy.service]
command = {command}
{extra}
"#
    )
}

#[test]
fn a_service_that_never_becomes_healthy_exits_2_naming_its_log() {
    let wl = one_service(
        r#"["/usr/bin/python3", "-c", "import time; print('warming up', flush=True); time.sleep(60)"]"#,
        "start_timeout_s = 1",
    );
    let inv = run_workload(&wl, &["-q"]);
    assert_eq!(inv.code, 2, "{}\n{}", inv.stdout, inv.stderr);
    let err = inv.stderr.trim();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("did not answer") && err.contains("service.log"),
        "{err}"
    );
    let log = err
        .split("(log: ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("the log file is named");
    assert!(std::fs::read_to_string(log).unwrap().contains("warming up"));
}

#[test]
fn a_service_that_exits_at_start_exits_2_naming_its_log() {
    let wl = one_service(r#"["sh", "-c", "echo boom >&2; exit 3"]"#, "");
    let inv = run_workload(&wl, &["-q"]);
    assert_eq!(inv.code, 2, "{}\n{}", inv.stdout, inv.stderr);
    assert!(
        inv.stderr.contains("exited") && inv.stderr.contains("service.log"),
        "{}",
        inv.stderr
    );
}

#[test]
fn a_killed_service_is_restarted_and_the_run_completes() {
    let wl = format!(
        r#"name = "service-kill"
keys = 4
clients = 8
read_fraction = 0.5
duration_s = 3.0
op_timeout_ms = 1000
settle_ms = 500
strategies = ["service"]

[strategy.service]
command = {}
env = {{ CACHE_MODE = "db-then-delete" }}

[[nemesis]]
fault = "kill"
service = "app"
at_s = 1.0
duration_s = 0.5
"#,
        example("python")
    );
    let inv = run_workload(&wl, &["-q"]);
    assert!(
        inv.code == 0 || inv.code == 1,
        "{}\n{}",
        inv.stdout,
        inv.stderr
    );
    let s = inv.summary("service");
    let faults = s["faults"].as_array().expect("faults");
    assert!(
        faults.iter().any(|f| f.to_string().contains("app")),
        "{faults:?}"
    );
    // Started twice: at the start and when the kill healed.
    let log = std::fs::read_to_string(inv.strategy_dir("service").join("service.log")).unwrap();
    assert_eq!(log.matches("Serving Flask app").count(), 2, "{log}");
    // Operations during the kill did not succeed; others did.
    let count = |f: &str, t: &str| s["ops"][f][t].as_u64().unwrap_or(0);
    let not_ok = ["fail", "info"]
        .iter()
        .map(|t| count("read", t) + count("write", t))
        .sum::<u64>();
    assert!(not_ok > 0, "{s}");
    assert!(count("read", "ok") + count("write", "ok") > 100, "{s}");
}

/// A service that dies during the run, outside a `kill` fault (`timeout` ends it 2 s after
/// start), is the run's error: one line naming it and its log, exit 2. Before, the run went
/// on with every operation failing and judged that.
#[test]
fn a_service_that_exits_mid_run_exits_2_naming_its_log() {
    let app = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/python/app.py");
    let wl = one_service(
        &format!(
            "[\"timeout\", \"2\", \"/usr/bin/python3\", \"{}\"]",
            app.display()
        ),
        "",
    )
    .replace("duration_s = 1.0", "duration_s = 3.5");
    let inv = run_workload(&wl, &["-q"]);
    assert_eq!(inv.code, 2, "{}\n{}", inv.stdout, inv.stderr);
    let err = inv.stderr.trim();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("exited") && err.contains("during the run") && err.contains("service.log"),
        "{err}"
    );
}

/// The tune-delay workload (slow fills: 100 +/- 50 ms) on the Python example's double delete.
fn tune_workload() -> String {
    format!(
        r#"name = "service-tune"
seed = 11
keys = 8
distribution = "uniform"
read_fraction = 0.9
clients = 8
duration_s = 1.5
ttl_ms = 60000
op_timeout_ms = 3000
settle_ms = 500
strategies = ["service@double-delete"]

[strategy."service@double-delete"]
command = {}
env = {{ CACHE_MODE = "double-delete" }}
delay_env = "DOUBLE_DELETE_DELAY_MS"
delay_ms = 300

[strategy."service@no-delay-env"]
command = ["true"]

[[nemesis]]
fault = "latency"
role = "cache-fill"
stream = "upstream"
latency_ms = 100
jitter_ms = 50
at_s = 0.0
duration_s = 3600.0
"#,
        example("python")
    )
}

/// The latencies (ms) of the reads not served by the cache in a history, sorted.
fn miss_latencies_ms(history: &Path) -> Vec<f64> {
    let mut invoked = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in std::fs::read_to_string(history).unwrap().lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["f"] != "read" || e["process"].as_i64().unwrap() < 0 {
            continue;
        }
        let (p, t) = (e["process"].as_i64().unwrap(), e["time"].as_u64().unwrap());
        match e["type"].as_str().unwrap() {
            "invoke" => {
                invoked.insert(p, t);
            }
            "ok" if e["source"] != "cache" => out.push((t - invoked[&p]) as f64 / 1e6),
            _ => {}
        }
    }
    out.sort_by(f64::total_cmp);
    out
}

#[test]
fn tune_delay_on_a_service_measures_its_misses_and_sweeps_its_delay_env() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("workload.toml");
    std::fs::write(&wl, tune_workload()).unwrap();
    let out = tmp.path().join("results");
    let (code, stdout, err) = cachecheck(
        &[
            "tune-delay",
            s(&wl),
            "--measure-with",
            "service@double-delete",
            "--json",
            "--out",
            s(&out),
        ],
        None,
    );
    assert!(code == 0 || code == 1, "stdout: {stdout}\nstderr: {err}");
    let t: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(t["window"], "read_miss_latency", "{t}");
    assert_eq!(t["sweep_strategy"], "service@double-delete", "{t}");
    assert_eq!(t["second_delete"], "scheduled", "{t}");
    // The recommendation comes from the measured service's missed reads, recomputed here
    // from its history: every miss waited for its fill (100 +/- 50 ms).
    let run_dir = Path::new(t["run_dir"].as_str().unwrap());
    let misses = miss_latencies_ms(&run_dir.join("service@double-delete/history.jsonl"));
    assert!(misses.len() > 20, "{t}");
    assert_eq!(t["fill_window_ms"]["count"], misses.len() as u64, "{t}");
    assert!(misses[misses.len() / 2] >= 50.0, "{misses:?}");
    let p999 = misses[((misses.len() as f64 * 0.999).ceil() as usize).min(misses.len()) - 1];
    let basis = t["basis_ms"].as_f64().unwrap();
    assert!(
        (basis - p999).abs() <= p999 * 0.01 + 0.1,
        "{basis} vs {p999}: {t}"
    );
    let rec = t["recommended_delay_ms"].as_u64().unwrap();
    assert_eq!(rec, (basis * 1.5 + 10.0).ceil() as u64, "{t}");
    // Each point ran a fresh service with its own delay in DOUBLE_DELETE_DELAY_MS.
    let sweep = t["sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 5, "{t}");
    assert_eq!(sweep[3]["delay_ms"], rec, "{t}");
    for p in sweep {
        let ms = p["delay_ms"].as_u64().unwrap();
        let dir = Path::new(p["dir"].as_str().unwrap());
        assert_eq!(
            dir.file_name().unwrap().to_str().unwrap(),
            format!(
                "service@double-delete-{}-{ms}ms",
                p["point"].as_str().unwrap()
            )
        );
        let log = std::fs::read_to_string(dir.join("service.log")).unwrap();
        assert!(
            log.contains(&format!(
                "CACHE_MODE=double-delete DOUBLE_DELETE_DELAY_MS={ms}\n"
            )),
            "{ms}: {log}"
        );
    }
    // With no delay the slow fills race the second delete.
    assert!(sweep[0]["stale_reads"].as_u64().unwrap() > 0, "{t}");
}

#[test]
fn tune_delay_sweeps_only_a_service_with_delay_env() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("workload.toml");
    std::fs::write(&wl, tune_workload()).unwrap();
    let (code, _, err) = cachecheck(
        &[
            "tune-delay",
            s(&wl),
            "--measure-with",
            "service@double-delete",
            "--sweep-with",
            "service@no-delay-env",
        ],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.lines().count() == 1 && err.contains("delay_env") && err.contains("no-delay-env"),
        "{err}"
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The Python example on its own table (`accounts (id, balance)`) in place of the register:
/// cachecheck loads it, logs its commits with its trigger (the ground truth holds every
/// acknowledged write) and reads the final values from it; the second strategy on the same
/// table installs the trigger again.
#[test]
fn a_service_on_its_own_table_is_logged_and_read_from_it() {
    let cmd = example("python");
    let wl = format!(
        r#"name = "service-own-table"
keys = 4
clients = 6
read_fraction = 0.5
duration_s = 1.5
strategies = ["service@a", "service@b"]

[strategy."service@a"]
command = {cmd}
env = {{ CACHE_MODE = "db-then-delete" }}
table = "accounts"
key_column = "id"
value_column = "balance"

[strategy."service@b"]
command = {cmd}
env = {{ CACHE_MODE = "delete-then-db" }}
table = "accounts"
key_column = "id"
value_column = "balance"
"#
    );
    let inv = run_workload(&wl, &["-q"]);
    assert!(inv.code == 0, "{}\n{}", inv.stdout, inv.stderr);
    for label in ["service@a", "service@b"] {
        let dir = inv.strategy_dir(label);
        let lines = |f: &str| -> Vec<serde_json::Value> {
            std::fs::read_to_string(dir.join(f))
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let commits = lines("commits.jsonl");
        let written: Vec<i64> = lines("history.jsonl")
            .iter()
            .filter(|e| e["f"] == "write" && e["type"] == "invoke")
            .map(|e| e["value"].as_i64().unwrap())
            .collect();
        let acked = inv.summary(label)["ops"]["write"]["ok"].as_u64().unwrap();
        assert!(acked > 20, "{label}: {acked} writes");
        let logged: Vec<i64> = commits
            .iter()
            .filter(|c| c["initial"] != true)
            .map(|c| c["value"].as_i64().unwrap())
            .collect();
        assert!(logged.len() as u64 >= acked, "{label}: {logged:?}");
        assert!(logged.iter().all(|v| written.contains(v)), "{label}");
        // The final values are the table's: each key's last commit.
        for f in lines("final.jsonl") {
            let last = commits
                .iter()
                .filter(|c| c["key"] == f["key"])
                .max_by_key(|c| c["version"].as_i64().unwrap())
                .unwrap();
            assert_eq!(f["db"], last["value"], "{label}: {f}");
        }
        assert_eq!(inv.anomaly(label, "lost_writes"), 0, "{label}");
    }
}

/// The Python example in `delete-then-db` mode on another infra (`tests/it/docker.rs`,
/// `tests/it/external.rs`): every cache-write reply held back 200 ms from the start, and a
/// `kill` of the service at 1 s. `mark` goes into the service's environment, so that
/// [`assert_service_gone`] finds it if it outlived the run.
pub fn elsewhere_workload(mark: &str) -> String {
    format!(
        r#"name = "service-elsewhere"
keys = 4
clients = 8
read_fraction = 0.5
duration_s = 2.5
op_timeout_ms = 1000
settle_ms = 300
strategies = ["service"]

[strategy.service]
command = {}
env = {{ CACHE_MODE = "delete-then-db", CC_TEST_MARK = "{mark}" }}

[[nemesis]]
fault = "latency"
role = "cache-write"
stream = "downstream"
latency_ms = 200
at_s = 0.0
duration_s = 10

[[nemesis]]
fault = "kill"
service = "app"
at_s = 1.0
duration_s = 0.3
"#,
        example("python")
    )
}

/// A run of [`elsewhere_workload`]: it ran and was judged; the service reached the role
/// proxies (its writes, a delete through `cache-write` each, took the fault's 200 ms); it was
/// started twice (the kill healed) with its log in the strategy's directory; nothing is left.
pub fn assert_ran_elsewhere(inv: &Invocation, mark: &str) {
    let ctx = format!("{}\n{}", inv.stdout, inv.stderr);
    assert!(inv.code == 0 || inv.code == 1, "{ctx}");
    let s = inv.summary("service");
    assert!(s["verdict"].is_string(), "not judged: {s}");
    assert!(s["anomalies"]["stale_reads"].is_u64(), "{s}");
    let ok = |f: &str| s["ops"][f]["ok"].as_u64().unwrap_or(0);
    assert!(ok("read") > 10 && ok("write") > 10, "{s}");
    let p50 = s["latency_ms"]["write"]["p50"].as_f64().unwrap_or(0.0);
    assert!(
        p50 >= 150.0,
        "writes did not go through the cache-write proxy: p50 {p50} ms"
    );
    let faults = s["faults"].to_string();
    assert!(
        faults.contains("cache-write") && faults.contains("app"),
        "{faults}"
    );
    let log = std::fs::read_to_string(inv.strategy_dir("service").join("service.log"))
        .expect("service.log in the strategy's directory");
    assert_eq!(log.matches("Serving Flask app").count(), 2, "{log}");
    assert_service_gone(mark);
}

/// No process has `CC_TEST_MARK=mark` in its environment.
pub fn assert_service_gone(mark: &str) {
    let needle = format!("CC_TEST_MARK={mark}");
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(env) = std::fs::read(e.path().join("environ")) {
            let left = env.split(|b| *b == 0).any(|v| v == needle.as_bytes());
            assert!(!left, "service left running: pid {:?}", e.file_name());
        }
    }
}
