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
