//! `cachecheck suite` on real servers: a small suite (two race workloads given as a directory,
//! `--repeat 2`, short runs) whose matrix.json must agree with every run's own summary.json,
//! the exit code of a failed expectation, Ctrl-C keeping the finished runs, the HTML matrix in
//! Chromium, and bad input.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(p: &Path) -> Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn median(mut v: Vec<u64>) -> f64 {
    v.sort_unstable();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

/// A control that any run passes, and one strategy held to an expectation it cannot meet.
const FAILING: &str = r#"
name = "suite-fail"
keys = 4
clients = 4
duration_s = 1.0
strategies = ["db-only", "db-then-delete"]
[strategy.db-only]
expect = ["converges"]
[strategy.db-then-delete]
expect = ["impossible_reads > 0"]
"#;

#[test]
fn suite_matrix_agrees_with_every_run_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("races");
    std::fs::create_dir(&dir).unwrap();
    for w in ["cache-then-db-dirty", "db-then-delete-slow-fill"] {
        std::fs::copy(
            repo().join(format!("workloads/races/{w}.toml")),
            dir.join(format!("{w}.toml")),
        )
        .unwrap();
    }
    let out = tmp.path().join("results");
    let d = dir.to_str().unwrap();
    let o = out.to_str().unwrap();
    let args = [
        "suite",
        d,
        "--repeat",
        "2",
        "--duration",
        "1.5",
        "--out",
        o,
        "--format",
        "json",
    ];
    let (code, stdout, stderr) = cachecheck(&args, None);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    // Progress across the suite, as stable lines (stderr is not a terminal here).
    assert!(
        stderr.contains("suite: run 1/4: cache-then-db-dirty (repeat 1/2"),
        "{stderr}"
    );
    assert!(stderr.contains("suite: 4/4 runs done in"), "{stderr}");
    let suite = std::fs::canonicalize(out.join("latest")).unwrap();
    let m = read_json(&suite.join("matrix.json"));
    let printed: Value = serde_json::from_str(&stdout).expect("--format json prints matrix.json");
    assert_eq!(printed, m);
    assert_eq!(m["schema_version"], 1);
    assert_eq!(m["runs_planned"], 4);
    assert_eq!(m["runs_done"], 4);
    assert_eq!(m["interrupted"], false);
    assert_eq!(m["failed"], false);
    assert_eq!(
        m["workloads"],
        serde_json::json!(["cache-then-db-dirty", "db-then-delete-slow-fill"])
    );
    // Each workload's own strategy list: 5 + 7 cells.
    let cells = m["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 12, "{m:#}");
    let mut seen_anomalies = false;
    for c in cells {
        let dirs: Vec<PathBuf> = c["dirs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| suite.join(d.as_str().unwrap()))
            .collect();
        assert_eq!(dirs.len(), 2, "{c}");
        assert_eq!(c["runs"], 2);
        let seeds = c["seeds"].as_array().unwrap();
        assert_ne!(seeds[0], seeds[1], "repeats run with different seeds");
        let sums: Vec<Value> = dirs
            .iter()
            .map(|d| read_json(&d.join("summary.json")))
            .collect();
        for (s, seed) in sums.iter().zip(seeds) {
            assert_eq!(s["strategy"], c["strategy"]);
            assert_eq!(s["workload"], c["workload"]);
            assert_eq!(&s["seed"], seed);
        }
        // Every kind found in some run, with its median and in how many runs.
        let mut expected: BTreeMap<String, Value> = BTreeMap::new();
        for kind in sums[0]["anomalies"].as_object().unwrap().keys() {
            let counts: Vec<u64> = sums
                .iter()
                .map(|s| s["anomalies"][kind].as_u64().unwrap())
                .collect();
            let found = counts.iter().filter(|&&n| n > 0).count();
            if found > 0 {
                expected.insert(
                    kind.clone(),
                    serde_json::json!({"median": median(counts), "found_in": found}),
                );
            }
        }
        let got: BTreeMap<String, Value> = c["anomalies"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(got, expected, "{c}");
        seen_anomalies |= !expected.is_empty();
        // Expectations: held in how many runs.
        for e in c["expectations"].as_array().unwrap() {
            let held = sums
                .iter()
                .filter(|s| {
                    s["expectations"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["expr"] == e["expr"] && x["held"] == true)
                })
                .count();
            assert_eq!(e["held"].as_u64(), Some(held as u64), "{c}");
        }
        let failed = sums.iter().filter(|s| s["valid"] != true).count();
        assert_eq!(c["failed_runs"].as_u64(), Some(failed as u64));
        let agreed = c["agreed"].as_u64().unwrap();
        assert!((1..=2).contains(&agreed), "{c}");
        let verdict = if failed > 0 {
            "expectation_failed"
        } else if expected.is_empty() {
            "clean"
        } else {
            "anomalies"
        };
        assert_eq!(c["verdict"], verdict, "{c}");
    }
    assert!(seen_anomalies, "the racy strategies were flagged");
    let control = cells
        .iter()
        .find(|c| c["strategy"] == "db-only" && c["workload"] == "cache-then-db-dirty")
        .unwrap();
    assert_eq!(control["verdict"], "clean", "{control}");
    assert_eq!(control["agreed"], 2);

    // Every cell's runs are ordinary results: compare, check and report work on them.
    let cell = &cells[0];
    let first = suite.join(cell["dirs"][0].as_str().unwrap());
    let second = suite.join(cell["dirs"][1].as_str().unwrap());
    let (code, table, err) = cachecheck(
        &["compare", first.to_str().unwrap(), second.to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        table.contains(cell["strategy"].as_str().unwrap()),
        "{table}"
    );
    let (code, _, err) = cachecheck(&["check", first.to_str().unwrap()], None);
    assert!(code == 0 || code == 1, "{err}");
    let run_dir = suite.join(m["runs"][0]["dir"].as_str().unwrap());
    let (code, _, err) = cachecheck(&["report", run_dir.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(run_dir.join("report.html").exists());

    // The Markdown and the HTML from the same matrix, written beside it.
    let md = std::fs::read_to_string(suite.join("matrix.md")).unwrap();
    assert!(
        md.starts_with("| strategy | `cache-then-db-dirty` | `db-then-delete-slow-fill` |"),
        "{md}"
    );
    assert!(
        md.contains("| `db-only` | clean · 2/2 | clean · 2/2 |"),
        "{md}"
    );
    html_matrix_renders(&suite, cells);
}

/// The HTML matrix in Chromium: no console error, one coloured cell per matrix cell (its colour
/// from its verdict), links to each run's directory that exist.
fn html_matrix_renders(suite: &Path, cells: &[Value]) {
    let page = suite.join("matrix.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "self-contained, no scripts");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing loaded from elsewhere"
    );
    let loaded = super::browser::load(
        &page,
        "JSON.stringify([...document.querySelectorAll('#matrix td.cell')].map(td => ({v: td.dataset.verdict, bg: getComputedStyle(td).backgroundColor, w: td.getBoundingClientRect().width, links: [...td.querySelectorAll('a')].map(a => a.getAttribute('href'))})))",
        1400,
        900,
    );
    assert!(
        loaded.errors.is_empty(),
        "console errors: {:?}",
        loaded.errors
    );
    let shown: Vec<Value> = serde_json::from_str(loaded.value.as_str().unwrap()).unwrap();
    assert_eq!(shown.len(), cells.len());
    let colour = |v: &str| match v {
        "clean" => "rgb(227, 244, 228)",
        "anomalies" => "rgb(255, 241, 214)",
        _ => "rgb(251, 211, 211)",
    };
    for td in &shown {
        let v = td["v"].as_str().unwrap();
        assert_eq!(td["bg"], colour(v), "{td}");
        assert!(td["w"].as_f64().unwrap() > 50.0, "{td}");
        let links = td["links"].as_array().unwrap();
        assert_eq!(links.len(), 2, "{td}");
        for l in links {
            assert!(
                suite
                    .join(l.as_str().unwrap())
                    .join("summary.json")
                    .exists(),
                "{l}"
            );
        }
    }
    let by_verdict = |v: &str| cells.iter().filter(|c| c["verdict"] == v).count();
    for v in ["clean", "anomalies"] {
        let n = shown.iter().filter(|t| t["v"] == v).count();
        assert_eq!(n, by_verdict(v), "{v}");
        assert!(n > 0, "some {v} cells");
    }
    let (ink, colours) = super::browser::ink(&loaded.png);
    assert!(
        ink > 0.02 && colours > 3,
        "the page did not render ({ink:.3} inked, {colours} colours)"
    );
}

#[test]
fn suite_exits_1_when_an_expectation_fails_and_marks_the_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("fail.toml");
    std::fs::write(&wl, FAILING).unwrap();
    let out = tmp.path().join("results");
    let (code, stdout, stderr) = cachecheck(
        &[
            "suite",
            wl.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ],
        None,
    );
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        !stderr.contains("suite: run"),
        "--quiet: no progress: {stderr}"
    );
    assert!(stdout.contains("impossible_reads > 0 held 0/1"), "{stdout}");
    let m = read_json(
        &std::fs::canonicalize(out.join("latest"))
            .unwrap()
            .join("matrix.json"),
    );
    assert_eq!(m["failed"], true);
    let cell = |s: &str| {
        m["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["strategy"] == s)
            .unwrap()
            .clone()
    };
    assert_eq!(cell("db-then-delete")["verdict"], "expectation_failed");
    assert_eq!(cell("db-then-delete")["failed_runs"], 1);
    assert_eq!(cell("db-only")["verdict"], "clean");
    assert_eq!(
        cell("db-only")["expectations"],
        serde_json::json!([{"expr": "converges", "held": 1}])
    );
}

#[test]
fn suite_ctrl_c_keeps_the_finished_runs_in_the_matrix() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("long.toml");
    std::fs::write(
        &wl,
        FAILING.replace("impossible_reads > 0", "impossible_reads == 0"),
    )
    .unwrap();
    let out = tmp.path().join("results");
    let err_path = tmp.path().join("stderr");
    let mut child = Command::new(bin())
        .args([
            "suite",
            wl.to_str().unwrap(),
            "--repeat",
            "5",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // Interrupt once the second run has started (the first one is finished and checked).
    let t0 = Instant::now();
    loop {
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        if err.contains("suite: run 2/5") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no second run: {err}"
        );
        assert!(child.try_wait().unwrap().is_none(), "ended early: {err}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("interrupted: the matrix"), "{err}");
    let m = read_json(
        &std::fs::canonicalize(out.join("latest"))
            .unwrap()
            .join("matrix.json"),
    );
    assert_eq!(m["interrupted"], true);
    assert_eq!(m["runs_planned"], 5);
    let done = m["runs_done"].as_u64().unwrap();
    assert!((1..5).contains(&done), "{m:#}");
    // The run cut short is listed but not counted; every cell holds exactly the finished runs.
    let runs = m["runs"].as_array().unwrap();
    assert!(runs.len() as u64 <= done + 1 && runs.len() < 5, "{m:#}");
    for c in m["cells"].as_array().unwrap() {
        let n = c["runs"].as_u64().unwrap();
        assert!(n >= done && n <= done + 1, "{c}");
        assert_eq!(c["failed_runs"], 0, "{c}");
    }
}

#[test]
fn suite_bad_input_is_one_line_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["suite", "/nonexistent/races"],
            "no such workload file or directory",
        ),
        (
            &["suite", tmp.path().to_str().unwrap()],
            "holds no workload file",
        ),
        (&["suite", "--repeat", "0", "workloads/races"], "--repeat 0"),
    ];
    for (args, what) in cases {
        let (code, _, err) = cachecheck(args, Some(&repo()));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(what) && err.contains("fix:"),
            "{args:?}: {err}"
        );
    }
    let (code, _, err) = cachecheck(
        &["suite", "workloads/races", "--strategy", "nope"],
        Some(&repo()),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--strategy nope"), "{err}");
}

/// The suite on a user's service (issue 19 item 3): the Python example's modes, each a cell,
/// the racy one flagged in every repeat, the correct one clean, each cell's runs re-checkable.
#[test]
fn suite_runs_a_users_service_like_a_built_in_strategy() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let wl = repo().join("workloads/service-python.toml");
    let args = [
        "suite",
        wl.to_str().unwrap(),
        "--strategy",
        "service@racy-delete-then-db",
        "--strategy",
        "service@fixed",
        "--repeat",
        "2",
        "--duration",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ];
    let (code, stdout, err) = cachecheck(&args, Some(&repo()));
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {err}");
    let suite = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("matrix.json").is_file())
        .expect("a suite directory with matrix.json");
    let m = read_json(&suite.join("matrix.json"));
    let cells = m["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2, "{m}");
    let cell = |s: &str| {
        cells
            .iter()
            .find(|c| c["strategy"] == s)
            .unwrap_or_else(|| panic!("no cell for {s}: {m}"))
    };
    let racy = cell("service@racy-delete-then-db");
    assert_eq!(racy["runs"], 2, "{racy}");
    assert_eq!(racy["anomalies"]["stale_reads"]["found_in"], 2, "{racy}");
    assert_eq!(racy["verdict"], "anomalies", "{racy}");
    let fixed = cell("service@fixed");
    assert_eq!(fixed["verdict"], "clean", "{fixed}");
    assert_eq!(fixed["agreed"], 2, "{fixed}");
    for c in cells {
        for d in c["dirs"].as_array().unwrap() {
            let dir = suite.join(d.as_str().unwrap());
            assert!(dir.join("service.log").is_file(), "{}", dir.display());
            let (code, _, err) = cachecheck(&["check", dir.to_str().unwrap()], None);
            assert!(code == 0 || code == 1, "check {}: {err}", dir.display());
        }
    }
}
