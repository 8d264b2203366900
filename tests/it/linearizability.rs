//! Linearizability on real runs: a run's history exported as a Jepsen EDN history round-trips
//! through `check --format edn` with the linear path's verdict, and the report draws the
//! violation.

use super::support::{cachecheck, run_workload};
use cachecheck::checker::linearizable::check_dir;
use cachecheck::checker::Verdict;

/// db-only (linearizable) beside db-then-delete under slow fills (its stale reads are not).
pub const SLOW_FILL: &str = r#"
name = "lin-slow-fill"
seed = 16
keys = 2
clients = 8
read_fraction = 0.8
duration_s = 2.0
op_timeout_ms = 1000
settle_ms = 200
strategies = ["db-only", "db-then-delete"]

[[nemesis]]
fault = "latency"
role = "cache-fill"
stream = "upstream"
latency_ms = 100
at_s = 0.3
duration_s = 10
"#;

fn edn_verdict(edn: &std::path::Path) -> (Verdict, serde_json::Value) {
    let (code, out, err) = cachecheck(
        &["check", edn.to_str().unwrap(), "--format", "edn", "--json"],
        None,
    );
    assert!(code == 0 || code == 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (
        serde_json::from_value(v["linearizable"].clone()).unwrap(),
        v,
    )
}

#[test]
fn a_real_run_exports_to_edn_that_round_trips_with_the_same_verdict() {
    let inv = run_workload(SLOW_FILL, &["-q"]);
    assert!(inv.code == 0 || inv.code == 1, "{}", inv.stderr);
    for (strategy, want) in [
        ("db-only", Verdict::Valid),
        ("db-then-delete", Verdict::Invalid),
    ] {
        let dir = inv.strategy_dir(strategy);
        let linear = check_dir(&dir).unwrap();
        assert_eq!(
            linear.verdict,
            want,
            "{strategy}: {:?}",
            linear.keys.first()
        );
        let (code, _, err) =
            cachecheck(&["export", dir.to_str().unwrap(), "--format", "edn"], None);
        assert_eq!(code, 0, "{err}");
        let edn = dir.join("history.edn");
        assert!(err.contains("nemesis events"), "{err}");
        let text = std::fs::read_to_string(&edn).unwrap();
        assert!(text.contains(":process :nemesis, :f :start, :value \"latency cache-fill\""));
        let (verdict, v) = edn_verdict(&edn);
        assert_eq!(verdict, want, "{strategy}: {v}");
        let ops = v["operations"].as_u64().unwrap();
        assert!(ops > 1000, "{strategy}: {ops} operations");
    }
}

/// The picture of a violation, in a real Chromium: the run's report gets a linearizability
/// section with the picture, and `report FILE` on a foreign history a page of its own.
#[test]
fn the_violation_is_drawn_in_the_report_and_for_a_foreign_history() {
    let inv = run_workload(SLOW_FILL, &["-q", "--strategy", "db-then-delete"]);
    assert!(inv.code == 0 || inv.code == 1, "{}", inv.stderr);
    let dir = inv.strategy_dir("db-then-delete");
    let page = inv.tmp.path().join("report.html");
    let (code, _, err) = cachecheck(
        &[
            "report",
            dir.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("<h3>Linearizability</h3>") && !html.contains("<script"),
        "no section"
    );
    let js = "JSON.stringify([document.querySelectorAll('svg.lin').length, document.querySelectorAll('svg.lin rect.lin-stuck').length, document.querySelectorAll('svg.lin rect.lin-witness').length, document.body.innerText.includes('cannot be placed in the commit order')])";
    let loaded = super::browser::load(&page, js, 1000, 1600);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let v: Vec<serde_json::Value> = serde_json::from_str(loaded.value.as_str().unwrap()).unwrap();
    assert!(v[0].as_u64().unwrap() >= 1, "{v:?}");
    assert!(
        v[1].as_u64().unwrap() >= 1 && v[2].as_u64().unwrap() >= 1,
        "{v:?}"
    );
    assert_eq!(v[3], true);

    let bad = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/knossos/cas-register/bad/rethink-fail-minimal.edn");
    let out = inv.tmp.path().join("foreign.html");
    let (code, stdout, err) = cachecheck(
        &["report", bad.to_str().unwrap(), "-o", out.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("report: "), "{stdout}");
    let js = "JSON.stringify([document.querySelectorAll('svg.lin rect.lin-prefix').length, [...document.querySelectorAll('svg.lin g')].filter(g => g.querySelector('rect.lin-stuck')).map(g => g.textContent)])";
    let loaded = super::browser::load(&out, js, 1000, 800);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let v: Vec<serde_json::Value> = serde_json::from_str(loaded.value.as_str().unwrap()).unwrap();
    // write(0) then write(4) linearize; the concurrent read of 3 cannot be placed.
    assert_eq!(v[0], 2, "{v:?}");
    assert!(v[1][0].as_str().unwrap().contains("read() -> 3"), "{v:?}");
    let (ink, colours) = super::browser::ink(&loaded.png);
    assert!(ink > 0.02 && colours > 8, "ink {ink}, {colours} colours");
}

/// `bench linearizability` times every data set with its published verdicts, and the linear
/// path on a synthetic history whose injected anomalies make keys invalid.
#[test]
fn bench_linearizability_reports_every_data_set_and_the_linear_path() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let (code, out, err) = cachecheck(
        &[
            "bench",
            "linearizability",
            "--data",
            data.to_str().unwrap(),
            "--ops",
            "20000",
            "--rounds",
            "1",
            "--json",
        ],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sets = v["data_sets"].as_array().unwrap();
    let set = |prefix: &str| {
        sets.iter()
            .find(|s| s["name"].as_str().unwrap().starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {v}"))
    };
    let etcd = set("porcupine etcd");
    assert_eq!(
        (
            etcd["files"].as_u64(),
            etcd["valid"].as_u64(),
            etcd["invalid"].as_u64()
        ),
        (Some(102), Some(23), Some(79))
    );
    assert_eq!(set("knossos cas-register good")["valid"], 113);
    assert_eq!(set("knossos cas-register bad")["invalid"], 7);
    assert_eq!(set("porcupine kv c50-bad")["invalid"], 1);
    let lin = &v["linear"][0];
    assert!(lin["ops"].as_u64().unwrap() >= 20000, "{lin}"); // the last round is completed
    assert!(
        lin["invalid"].as_u64().unwrap() > 0 && lin["valid"].as_u64().unwrap() > 0,
        "{lin}"
    );
    assert!(lin["events_per_s"].as_f64().unwrap() > 0.0);
    let (code, _, err) = cachecheck(
        &[
            "bench",
            "linearizability",
            "--data",
            "/nonexistent",
            "--ops",
            "0",
        ],
        None,
    );
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
}
