//! History fixtures named by verdict: every directory under `tests/fixtures/histories/` holds a
//! run (`history.jsonl`, `commits.jsonl`, `final.jsonl`) and `expected.json`
//! (`{"anomalies": {<exact counts>}, "verdict": "valid"|"invalid"}`). A name ending in `-ok`
//! must be valid, one ending in `-bad` invalid. Adding a fixture is adding a directory.

use cachecheck::checker::{check_dir, AnomalyCounts, CheckOptions, Verdict};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
struct Expected {
    anomalies: AnomalyCounts,
    verdict: Verdict,
}

fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/histories");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Checks one fixture; returns what differs from its expectation.
fn check_fixture(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(dir.join("expected.json"))
        .unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));
    let want: Expected =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}/expected.json: {e}"));
    let got = match check_dir(dir, &CheckOptions::default()) {
        Ok(r) => r,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut problems = Vec::new();
    if got.anomalies != want.anomalies {
        problems.push(format!(
            "{name}: anomalies\n  got  {:?}\n  want {:?}",
            got.anomalies, want.anomalies
        ));
    }
    if got.verdict != want.verdict {
        problems.push(format!(
            "{name}: verdict {:?}, want {:?} (verdicts {:?})",
            got.verdict, want.verdict, got.verdicts
        ));
    }
    let by_name = if name.ends_with("-ok") {
        Verdict::Valid
    } else if name.ends_with("-bad") {
        Verdict::Invalid
    } else {
        problems.push(format!("{name}: a fixture's name ends in -ok or -bad"));
        want.verdict
    };
    if want.verdict != by_name {
        problems.push(format!("{name}: expected.json contradicts the name"));
    }
    if !got.warnings.is_empty() {
        problems.push(format!("{name}: warnings {:?}", got.warnings));
    }
    for a in &got.examples {
        if a.explanation.is_empty() || (a.kind != "divergent_keys" && a.events.is_empty()) {
            problems.push(format!("{name}: an example without evidence: {a:?}"));
        }
    }
    problems
}

#[test]
fn every_fixture_gives_its_expected_counts_and_verdict() {
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 9, "fixtures missing: {dirs:?}");
    let problems: Vec<String> = dirs.iter().flat_map(|d| check_fixture(d)).collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// A result directory written by cachecheck before the checker's property registry (commit
/// 3078566, `tests/fixtures/results/pre-refactor/`): re-checking it gives every figure its
/// summary.json recorded then, and `cachecheck check` prints the same table. Properties added
/// since are not in the old summaries and are not compared.
#[test]
fn results_written_before_the_registry_recheck_to_the_same_figures() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results/pre-refactor");
    let dirs = cachecheck::results::strategy_dirs(&run).unwrap();
    assert_eq!(dirs.len(), 3);
    let mut stored = Vec::new();
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let old: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        let new = serde_json::to_value(cachecheck::recheck::check_one(dir, &[]).unwrap()).unwrap();
        for field in [
            "ops",
            "duration_s",
            "throughput_ops_s",
            "latency_ms",
            "staleness",
            "inconsistency_window",
            "divergent",
            "warnings",
            "fault_events",
            "expectations",
            "valid",
        ] {
            assert!(
                same(&new[field], &old[field]),
                "{name}: {field}: {} vs {}",
                new[field],
                old[field]
            );
        }
        for section in ["anomalies", "verdicts"] {
            for (property, value) in old[section].as_object().unwrap() {
                assert!(
                    same(&new[section][property], value),
                    "{name}: {section}.{property}"
                );
            }
        }
        let kinds: Vec<&str> = old["anomalies"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let examples = |v: &serde_json::Value| -> Vec<serde_json::Value> {
            v["examples"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| kinds.contains(&e["kind"].as_str().unwrap()))
                .cloned()
                .collect()
        };
        let (a, b) = (examples(&new), examples(&old));
        assert!(
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| same(x, y)),
            "{name}: examples"
        );
        assert!(
            old["anomalies"]
                .as_object()
                .unwrap()
                .values()
                .any(|v| v != 0)
                || name == "db-only"
        );
        stored.push(cachecheck::summary::Summary::read(&dir.join("summary.json")).unwrap());
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cachecheck"))
        .arg("check")
        .arg(&run)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        cachecheck::output::table(&stored)
    );
}

/// JSON equality, with numbers equal to the last digits a float's decimal text keeps (a stored
/// figure is read back through its shortest decimal form).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Object(x), Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
