//! The three uses on result files of real runs: the CI gate (exit codes, JUnit XML, plain and
//! TTY output), `compare`, `report` (loaded in a real headless Chromium) and `tune-delay`.

use crate::browser;
use crate::support::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One real run shared by the tests that only read its files: a control that stays clean, a
/// racy strategy whose expectation fails, and a fault interval to shade.
struct Shared {
    inv: Invocation,
    junit: PathBuf,
    _dir: tempfile::TempDir,
}

const SHARED: &str = r#"
name = "uses"
seed = 5
keys = 3
clients = 12
duration_s = 2.0
read_fraction = 0.6
strategies = ["db-only", "db-then-cache", "delete-then-db"]
[strategy.db-only]
expect = ["stale_reads == 0", "converges", "dirty_reads == 0"]
[strategy.db-then-cache]
expect = ["stale_reads == 0", "impossible_reads == 0"]
[[nemesis]]
fault = "latency"
role = "cache-fill"
stream = "upstream"
latency_ms = 20
at_s = 0.5
duration_s = 1.0
"#;

fn shared() -> &'static Shared {
    static S: OnceLock<Shared> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("ci").join("junit.xml");
        let inv = run_workload(SHARED, &["--junit", junit.to_str().unwrap()]);
        assert!(inv.run_dir.is_some(), "stderr: {}", inv.stderr);
        Shared {
            inv,
            junit,
            _dir: dir,
        }
    })
}

fn run_dir() -> &'static Path {
    shared().inv.run_dir.as_deref().unwrap()
}

/// A second run on another seed: a different workload for `compare`, and `--quiet` output.
fn other_run() -> &'static Invocation {
    static S: OnceLock<Invocation> = OnceLock::new();
    S.get_or_init(|| {
        let inv = run_workload(
            "name = \"uses\"\nseed = 7\nkeys = 3\nclients = 4\nduration_s = 1.0\nstrategies = [\"db-only\"]\n",
            &["-q"],
        );
        assert_eq!(inv.code, 0, "{}", inv.stderr);
        inv
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn ci_gate_exit_code_junit_and_plain_lines() {
    let sh = shared();
    let inv = &sh.inv;
    // db-then-cache's `stale_reads == 0` fails on hot keys: exit 1.
    assert_eq!(
        inv.code, 1,
        "stdout: {}\nstderr: {}",
        inv.stdout, inv.stderr
    );
    let stale = inv.anomaly("db-then-cache", "stale_reads");
    assert!(stale > 0);

    // Not a TTY: plain, stable lines, no progress bar or control characters.
    for out in [&inv.stdout, &inv.stderr] {
        assert!(
            !out.contains('\x1b') && !out.contains('\r'),
            "control characters in: {out}"
        );
    }
    assert!(
        inv.stderr.contains("db-only: running (2 s, 12 clients)"),
        "{}",
        inv.stderr
    );
    assert!(
        inv.stderr
            .lines()
            .any(|l| l.starts_with("db-then-cache: ") && l.contains("-> FAIL")),
        "{}",
        inv.stderr
    );
    assert!(inv
        .stderr
        .contains("db-then-cache: expectation `stale_reads == 0` failed"));
    // --quiet: nothing but the table.
    assert_eq!(other_run().stderr, "", "--quiet printed on stderr");

    // JUnit: well-formed, testsuites/testsuite/testcase/failure, one case per expectation.
    let xml = std::fs::read_to_string(&sh.junit).unwrap();
    check_junit(&xml, stale);

    // `check --junit` on the stored results gives the same cases and the same exit code.
    let again = sh.junit.with_file_name("check.xml");
    let (code, _, err) = cachecheck(&["check", s(run_dir()), "--junit", s(&again)], None);
    assert_eq!(code, 1, "{err}");
    let names = |x: &str| -> Vec<String> {
        let d = roxmltree::Document::parse(x).unwrap();
        d.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|n| n.attribute("name").unwrap().to_string())
            .collect()
    };
    let x2 = std::fs::read_to_string(&again).unwrap();
    assert_eq!(names(&xml), names(&x2));
}

fn check_junit(xml: &str, stale: u64) {
    let doc = roxmltree::Document::parse(xml).expect("JUnit XML is well-formed");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 3, "one testsuite per strategy");
    let mut total = 0;
    let mut failures = 0;
    for suite in &suites {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        let fails = cases
            .iter()
            .filter(|c| c.children().any(|f| f.has_tag_name("failure")))
            .count();
        assert_eq!(suite.attribute("tests").unwrap(), cases.len().to_string());
        assert_eq!(suite.attribute("failures").unwrap(), fails.to_string());
        for c in &cases {
            assert!(c.attribute("classname").is_some() && c.attribute("name").is_some());
            for ch in c.children().filter(|n| n.is_element()) {
                assert_eq!(ch.tag_name().name(), "failure", "only failures in a case");
            }
        }
        total += cases.len();
        failures += fails;
    }
    assert_eq!(root.attribute("tests").unwrap(), total.to_string());
    assert_eq!(root.attribute("failures").unwrap(), failures.to_string());
    // db-only: 3 expectations + complete; db-then-cache: 2 + complete; delete-then-db: complete.
    assert_eq!(total, 4 + 3 + 1);
    assert_eq!(failures, 1);
    let failure = doc
        .descendants()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    let case = failure.parent().unwrap();
    assert_eq!(case.attribute("name"), Some("stale_reads == 0"));
    assert!(case
        .attribute("classname")
        .unwrap()
        .contains("db-then-cache"));
    let msg = failure.attribute("message").unwrap();
    assert!(
        msg.starts_with(&format!("expected stale_reads == 0, actual {stale}")),
        "{msg}"
    );
    assert!(failure
        .text()
        .unwrap()
        .contains(&format!("stale reads {stale}")));
}

#[test]
fn tty_gets_a_progress_bar() {
    // `script` gives the binary a pseudo-terminal for stdout and stderr.
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("w.toml");
    std::fs::write(
        &wl,
        "name = \"tty\"\nkeys = 2\nclients = 2\nduration_s = 1.5\nstrategies = [\"db-only\"]\n",
    )
    .unwrap();
    let cmd = format!(
        "{} run {} --out {}",
        bin(),
        wl.display(),
        tmp.path().join("r").display()
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("ops/s · anomalies: counted when checked"),
        "{out}"
    );
    assert!(out.contains('\x1b'), "no terminal drawing: {out}");
    assert!(out.contains("-> PASS"), "{out}");
}

/// A copy of a strategy directory with its summary.json replaced (`None`: removed).
fn broken_copy(from: &Path, to: &Path, summary: Option<&str>) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["history.jsonl", "commits.jsonl", "final.jsonl"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    if let Some(text) = summary {
        std::fs::write(to.join("summary.json"), text).unwrap();
    }
}

#[test]
fn compare_side_by_side_with_mismatches_and_bad_inputs() {
    let run = run_dir();
    let other = other_run().strategy_dir("db-only");
    let tmp = tempfile::tempdir().unwrap();
    let corrupt = tmp.path().join("corrupt");
    let missing = tmp.path().join("missing");
    broken_copy(
        &run.join("db-only"),
        &corrupt,
        Some("{\"schema_version\": 1, trunc"),
    );
    broken_copy(&run.join("db-only"), &missing, None);
    let args = |fmt: &str| -> Vec<String> {
        vec![
            "compare".into(),
            s(run).into(),
            s(&other).into(),
            s(&corrupt).into(),
            s(&missing).into(),
            "--format".into(),
            fmt.into(),
        ]
    };
    let call = |fmt: &str| {
        let a = args(fmt);
        cachecheck(&a.iter().map(String::as_str).collect::<Vec<_>>(), None)
    };

    let (code, out, err) = call("table");
    assert_eq!(code, 2, "{err}");
    let errs: Vec<&str> = err.lines().collect();
    assert_eq!(errs.len(), 2, "{err}");
    assert!(errs[0].contains(&format!("{}", corrupt.join("summary.json").display())));
    assert!(errs[1].contains(&format!("{}", missing.join("summary.json").display())));
    for e in &errs {
        assert!(e.contains("fix: `cachecheck check"), "{e}");
    }
    // All four readable strategies, side by side; the two db-only columns get unique labels.
    let header = out.lines().next().unwrap();
    for col in ["db-then-cache", "delete-then-db"] {
        assert!(header.contains(col), "{header}");
    }
    assert_eq!(header.matches("db-only").count(), 2, "{header}");
    for row in [
        "ops/s",
        "read p50 ms",
        "write p99 ms",
        "stale reads",
        "monotonic-read violations",
        "staleness max ms",
        "window p99 ms",
        "writes consistent within 100 ms",
        "writes consistent within 1 s",
        "divergent keys",
        "verdict",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(row)),
            "no row {row}: {out}"
        );
    }
    assert!(out.contains(" *"), "best values are marked: {out}");
    assert!(out.contains("workloads differ: seed: 5 ("), "{out}");

    let (code, out, _) = call("json");
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&out).unwrap();
    let strategies = v["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), 4);
    assert_eq!(v["errors"].as_array().unwrap().len(), 2);
    let stale_of = |name: &str| {
        strategies.iter().find(|x| x["strategy"] == name).unwrap()["metrics"]["stale_reads"]
            .as_f64()
            .unwrap()
    };
    let racy = shared().inv.anomaly("db-then-cache", "stale_reads") as f64;
    assert_eq!(stale_of("db-then-cache"), racy);
    assert_eq!(stale_of("db-only"), 0.0);
    // The control has the fewest stale reads: it is marked best, the racy one is not.
    let best = v["best"]["stale_reads"].as_array().unwrap();
    assert!(!best.iter().any(|l| l == "db-then-cache"), "{best:?}");
    assert!(v["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["field"] == "seed"));

    let (code, out, _) = call("markdown");
    assert_eq!(code, 2);
    assert!(out.starts_with("| metric |"), "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with("|:---|"), "{out}");
    assert!(out.contains("**"), "{out}");

    // Only good inputs: exit 0.
    let (code, _, err) = cachecheck(&["compare", s(run)], None);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn report_is_one_self_contained_page_that_renders() {
    let run = run_dir();
    let (code, out, err) = cachecheck(&["report", s(run)], None);
    assert_eq!(code, 0, "{err}");
    let page = run.join("report.html");
    assert!(out.contains(s(&page)), "{out}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<script"), "no scripts");
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(external), "external resource `{external}`");
    }
    for strategy in ["db-only", "db-then-cache", "delete-then-db"] {
        assert!(html.contains(&format!("id=\"{strategy}\"")), "{strategy}");
    }
    // A timeline with the stale read and the write that superseded it highlighted.
    assert!(html.contains("class=\"op read anomalous\""));
    assert!(html.contains("class=\"op write superseding\""));
    assert!(html.contains("class=\"fault\""), "fault intervals shaded");

    // In a real browser: no console error, every chart laid out, pixels drawn.
    let loaded = browser::load(
        &page,
        "JSON.stringify({svgs: document.querySelectorAll('svg').length, \
          drawn: [...document.querySelectorAll('svg')].filter(s => { const r = s.getBoundingClientRect(); return r.width > 100 && r.height > 50; }).length, \
          timelines: [...document.querySelectorAll('svg rect.anomalous')].length})",
        1280,
        1800,
    );
    assert!(
        loaded.errors.is_empty(),
        "console errors: {:?}",
        loaded.errors
    );
    let v: Value = serde_json::from_str(loaded.value.as_str().unwrap()).unwrap();
    let svgs = v["svgs"].as_u64().unwrap();
    assert!(svgs >= 3 * 5, "{v}");
    assert_eq!(v["drawn"].as_u64(), Some(svgs), "{v}");
    assert!(v["timelines"].as_u64().unwrap() > 0, "{v}");
    let shot = run.join("report.png");
    std::fs::write(&shot, &loaded.png).unwrap();
    let (ink, colours) = browser::ink(&loaded.png);
    assert!(
        ink > 0.03,
        "the screenshot is nearly blank ({ink:.4} inked)"
    );
    assert!(
        colours > 20,
        "only {colours} colours: charts did not render"
    );

    // A strategy directory and -o FILE.
    let out_file = run.join("one.html");
    let (code, _, err) = cachecheck(
        &["report", s(&run.join("db-then-cache")), "-o", s(&out_file)],
        None,
    );
    assert_eq!(code, 0, "{err}");
    let one = std::fs::read_to_string(&out_file).unwrap();
    assert!(one.contains("id=\"db-then-cache\"") && !one.contains("id=\"db-only\""));
}

#[test]
fn browser_harness_sees_console_errors() {
    // The check above is only worth something if an error would be seen.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.html");
    std::fs::write(
        &p,
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let loaded = browser::load(&p, "1 + 1", 400, 300);
    assert_eq!(loaded.value, serde_json::json!(2));
    assert!(
        loaded.errors.iter().any(|e| e.contains("boom")),
        "{:?}",
        loaded.errors
    );
}

#[test]
fn report_of_a_run_with_a_corrupt_summary_names_it_and_exits_2() {
    let run = run_dir();
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("run");
    broken_copy(
        &run.join("db-only"),
        &bad.join("a-corrupt"),
        Some("not json"),
    );
    broken_copy(&run.join("db-then-cache"), &bad.join("b-good"), None);
    std::fs::copy(
        run.join("db-then-cache/summary.json"),
        bad.join("b-good/summary.json"),
    )
    .unwrap();
    let (code, _, err) = cachecheck(&["report", s(&bad)], None);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("a-corrupt/summary.json") && err.contains("fix:"),
        "{err}"
    );
    let html = std::fs::read_to_string(bad.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"db-then-cache\""),
        "the other strategy is reported"
    );
}

#[test]
fn tune_delay_recommends_a_delay_and_proves_it() {
    let wl = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/tune-delay.toml");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("results");
    let args = [
        "tune-delay",
        s(&wl),
        "--json",
        "--duration",
        "3",
        "--out",
        s(&out),
    ];
    let (code, stdout, err) = cachecheck(&args, None);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {err}");
    let t: Value = serde_json::from_str(&stdout).unwrap();
    let fill = &t["fill_window_ms"];
    assert!(fill["count"].as_u64().unwrap() > 50, "{t}");
    // 100 ms +/- 50 ms of latency on every fill.
    assert!(fill["p50"].as_f64().unwrap() >= 50.0, "{t}");
    let p999 = fill["p999"].as_f64().unwrap();
    let rec = t["recommended_delay_ms"].as_u64().unwrap();
    assert_eq!(rec, (p999 * 1.5 + 10.0).ceil() as u64, "{t}");
    let sweep = t["sweep"].as_array().unwrap();
    let points: Vec<(&str, u64, bool)> = sweep
        .iter()
        .map(|p| {
            (
                p["point"].as_str().unwrap(),
                p["delay_ms"].as_u64().unwrap(),
                p["clean"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(points.len(), 5, "{t}");
    assert_eq!(points[0].0, "0");
    assert_eq!(points[3], ("recommended", rec, true), "{t}");
    assert_eq!(points[4], ("2x", 2 * rec, true), "{t}");
    // Well below the fill time the race shows.
    assert!(!points[0].2, "0 ms came out clean: {t}");
    assert!(sweep[0]["stale_reads"].as_u64().unwrap() > 0, "{t}");
    assert_eq!(t["proven"], true);
    // Inline second deletes make writes wait: write latency grows with the delay.
    let w_rec = sweep[3]["write_p50_ms"].as_f64().unwrap();
    assert!(w_rec >= rec as f64, "{t}");
    // Every run is a normal strategy directory: compare reads them all.
    let run_dir = PathBuf::from(t["run_dir"].as_str().unwrap());
    let (code, table, err) = cachecheck(&["compare", s(&run_dir)], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        table.contains(&format!("double-delete@recommended-{rec}ms")),
        "{table}"
    );
}

#[test]
fn tune_delay_text_names_the_rule_and_flags_validate() {
    let wl = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/tune-delay.toml");
    let (code, _, err) = cachecheck(&["tune-delay", s(&wl), "--factor", "0.5"], None);
    assert_eq!(code, 2);
    assert!(err.contains("--factor"), "{err}");
    let (code, _, err) = cachecheck(&["tune-delay", s(&wl), "--measure-with", "no-such"], None);
    assert_eq!(code, 2);
    assert!(err.contains("no-such") && err.lines().count() == 1, "{err}");
}
