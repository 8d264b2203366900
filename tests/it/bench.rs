//! `cachecheck bench`: smoke tests that keep both commands working. Benchmarks are not tests:
//! nothing here asserts a timing, only that the commands run and report figures of the right
//! shape (and, for the checker, that the injected anomalies were all found).

use crate::support::{cachecheck, ANOMALIES};

#[test]
fn bench_checker_finds_every_injected_anomaly_and_reports_figures() {
    let (code, out, err) = cachecheck(&["bench", "checker", "--ops", "20000", "--json"], None);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["ops"].as_u64().unwrap() >= 20_000, "{v}");
    assert_eq!(
        v["events"].as_u64().unwrap(),
        2 * v["ops"].as_u64().unwrap()
    );
    for figure in ["check_s", "events_per_s", "rss_bytes_per_op", "generate_s"] {
        assert!(v[figure].as_f64().unwrap() > 0.0, "{figure}: {v}");
    }
    assert_eq!(v["counts_match"], true, "{v}");
    assert_eq!(v["expected"], v["found"]);
    for kind in ANOMALIES {
        assert!(v["found"][kind].as_u64().unwrap() > 0, "{kind}: {v}");
    }
}

#[test]
fn bench_checker_text_output_names_the_targets() {
    let (code, out, err) = cachecheck(&["bench", "checker", "--ops", "5000", "--keys", "50"], None);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    for needle in ["events/s", "B/op", "check wall", "counts: all found"] {
        assert!(out.contains(needle), "{needle} missing: {out}");
    }
}

#[test]
fn bench_checker_bad_input_is_one_line_exit_2() {
    let (code, _, err) = cachecheck(&["bench", "checker", "--ops", "0"], None);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--ops"), "{err}");
}

#[test]
fn bench_harness_reports_both_runs_and_redis_benchmark() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("bench.toml");
    std::fs::write(
        &wl,
        "name = \"bench-smoke\"\nkeys = 4\nread_fraction = 0.95\nclients = 2\nduration_s = 1.0\n\
         settle_ms = 50\nstrategies = [\"db-then-delete\"]\n[infra]\nkind = \"local\"\ndirect = true\n",
    )
    .unwrap();
    let (code, out, err) = cachecheck(
        &[
            "bench",
            "harness",
            wl.to_str().unwrap(),
            "--requests",
            "2000",
            "--rounds",
            "1",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for run in ["recording_on", "recording_off"] {
        assert!(v[run]["ops"].as_u64().unwrap() > 0, "{run}: {v}");
        assert!(v[run]["ops_per_s"].as_f64().unwrap() > 0.0, "{run}: {v}");
    }
    assert!(v["recording_cost"].as_f64().is_some(), "{v}");
    assert!(
        v["redis_benchmark_get_per_s"].as_f64().unwrap() > 0.0,
        "{v}"
    );
    assert!(v["read_hit_share_of_redis"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn bench_harness_missing_workload_is_one_line_exit_2() {
    let (code, _, err) = cachecheck(&["bench", "harness", "/nonexistent/bench.toml"], None);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn bench_harness_zero_rounds_is_one_line_exit_2() {
    let (code, _, err) = cachecheck(
        &["bench", "harness", "workloads/bench.toml", "--rounds", "0"],
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR"))),
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--rounds"), "{err}");
}
