//! `cachecheck bench`: smoke tests that keep both commands working. Benchmarks are not tests:
//! nothing here asserts a timing, only that the commands run and report figures of the right
//! shape (and, for the checker, that the injected anomalies were all found).

use crate::support::{cachecheck, ANOMALIES};
use cachecheck::bench::shapes::{self, SHAPES};
use cachecheck::bench::sim;
use cachecheck::checker::{check_dir_with, CheckOptions};
use cachecheck::history::files::{HISTORY_FILE, HISTORY_ZST_FILE};
use std::path::Path;

#[test]
fn bench_checker_finds_every_injected_anomaly_on_every_shape_and_reports_figures() {
    let (code, out, err) = cachecheck(&["bench", "checker", "--ops", "20000", "--json"], None);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema_version"], 2, "{v}");
    let rows = v["rows"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|r| r["shape"].as_str().unwrap()).collect();
    let want: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
    assert_eq!(names, want);
    for r in rows {
        assert!(r["ops"].as_u64().unwrap() >= 20_000, "{r}");
        assert_eq!(
            r["events"].as_u64().unwrap(),
            2 * r["ops"].as_u64().unwrap()
        );
        for figure in [
            "check_s",
            "check_1t_s",
            "wc_l_s",
            "events_per_s",
            "ratio_to_wc_l",
            "rss_bytes_per_op",
        ] {
            assert!(r[figure].as_f64().unwrap() > 0.0, "{figure}: {r}");
        }
        assert_eq!(r["counts_match"], true, "{r}");
        assert_eq!(r["reports_identical"], true, "{r}");
        assert_eq!(r["expected"], r["found"]);
    }
    let heavy = rows.iter().find(|r| r["shape"] == "anomaly-heavy").unwrap();
    for kind in ANOMALIES {
        assert!(
            heavy["found"][kind].as_u64().unwrap() > 0,
            "{kind}: {heavy}"
        );
    }
    let clean = rows.iter().find(|r| r["shape"] == "clean").unwrap();
    for kind in ANOMALIES {
        assert_eq!(clean["found"][kind].as_u64().unwrap(), 0, "{kind}: {clean}");
    }
}

#[test]
fn bench_checker_text_output_names_the_targets() {
    let (code, out, err) = cachecheck(
        &[
            "bench",
            "checker",
            "--ops",
            "5000",
            "--keys",
            "50",
            "--shape",
            "default",
            "--linearity",
        ],
        None,
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    for needle in [
        "events/s",
        "B/op",
        "wc -l",
        "ratio",
        "all found",
        "targets:",
    ] {
        assert!(out.contains(needle), "{needle} missing: {out}");
    }
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("default ")).collect();
    assert_eq!(rows.len(), 2, "5000 and 50000 ops: {out}");
}

#[test]
fn bench_checker_measures_a_real_runs_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    std::fs::create_dir(&dir).unwrap();
    let (_, exp) = write_shape("clients-8", 3000, &dir);
    let d = dir.to_str().unwrap();
    let (code, out, err) = cachecheck(
        &[
            "bench",
            "checker",
            "--ops",
            "1000",
            "--shape",
            "clean",
            "--history-dir",
            d,
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let real = &v["rows"][1];
    assert_eq!(real["shape"], "real run", "{v}");
    assert_eq!(real["counts_match"], serde_json::Value::Null);
    assert_eq!(real["reports_identical"], true);
    assert_eq!(
        real["found"]["stale_reads"].as_u64(),
        Some(exp.anomalies["stale_reads"])
    );
}

/// Generates `shape` at `ops` operations into `dir`.
fn write_shape(shape: &str, ops: u64, dir: &Path) -> (CheckOptions, sim::Expected) {
    let cfg = shapes::shape(shape).unwrap().config(ops, None, 3);
    let exp = sim::write_dir(&cfg, dir).unwrap();
    let opts = CheckOptions {
        ttl_set: Some(true),
        max_examples_per_kind: 20,
    };
    (opts, exp)
}

/// The multi-threaded check gives the single-threaded report, whole, on every shape (also from
/// a compressed copy of the history).
#[test]
fn the_report_is_the_same_on_one_two_and_three_threads_on_every_shape() {
    for shape in SHAPES {
        let tmp = tempfile::tempdir().unwrap();
        let (opts, exp) = write_shape(shape.name, 30_000, tmp.path());
        let (one, read1) = check_dir_with(tmp.path(), &opts, 1).unwrap();
        assert_eq!(one.anomalies, exp.anomalies, "{}", shape.name);
        assert_eq!(read1.events, exp.lines, "{}", shape.name);
        for threads in [2, 3] {
            let (many, read) = check_dir_with(tmp.path(), &opts, threads).unwrap();
            assert!(many == one, "{} on {threads} threads differs", shape.name);
            assert_eq!(read, read1);
        }
        if shape.name == "default" {
            let plain = tmp.path().join(HISTORY_FILE);
            let zst = tmp.path().join(HISTORY_ZST_FILE);
            let bytes = zstd::encode_all(&std::fs::read(&plain).unwrap()[..], 3).unwrap();
            std::fs::write(&zst, bytes).unwrap();
            std::fs::remove_file(&plain).unwrap();
            let (z, _) = check_dir_with(tmp.path(), &opts, 2).unwrap();
            assert!(z == one, "the compressed history checks differently");
        }
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

#[test]
fn check_stats_prints_events_seconds_speed_and_memory_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, exp) = write_shape("default", 5000, tmp.path());
    let d = tmp.path().to_str().unwrap();
    for threads in ["1", "2"] {
        let (code, out, err) = cachecheck(&["check", d, "--stats", "--threads", threads], None);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("stale"),
            "the table still goes to stdout: {out}"
        );
        let line = err.lines().find(|l| l.starts_with("stats: ")).expect(&err);
        assert!(
            line.starts_with(&format!("stats: {} events, ", exp.lines)),
            "{line}"
        );
        for needle in [" s, ", " events/s, peak memory ", " MB, "] {
            assert!(line.contains(needle), "{needle}: {line}");
        }
    }
    let (code, out, _) = cachecheck(&["check", d], None);
    assert_eq!(code, 0);
    assert!(!out.contains("stats:"));
    let (code, _, err) = cachecheck(&["check", d, "--threads", "0"], None);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--threads"), "{err}");
}
