//! JUnit XML for CI systems (`--junit FILE` on `run` and `check`).
//!
//! The shape every common CI system reads (GitHub Actions test reporters, GitLab, Jenkins,
//! Azure): one `<testsuite>` per strategy, one `<testcase>` per expectation, plus a `complete`
//! case that fails when the run was interrupted. A case fails exactly when its expectation
//! fails, so the XML and the exit code always agree.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <testsuites name="cachecheck" tests="3" skipped="0" failures="1" errors="0" time="6.000">
//!     <testsuite name="smoke/db-then-cache" tests="3" skipped="0" errors="0" failures="1"
//!                timestamp="2026-11-27T10:15:00.000+00:00" time="3.000">
//!         <properties><property name="seed" value="42"/>...</properties>
//!         <testcase name="stale_reads == 0" classname="cachecheck.smoke.db-then-cache" time="0.000">
//!             <failure message="expected stale_reads == 0, actual 12" type="expectation">...</failure>
//!         </testcase>
//!         ...
//!         <system-out>strategy db-then-cache (workload smoke, ...)</system-out>
//!     </testsuite>
//! </testsuites>
//! ```
//!
//! Written with `quick-junit` (cargo-nextest's JUnit model and serializer), which escapes
//! the text and drops characters XML 1.0 does not allow.

use crate::checker::registry;
use crate::output::verdict_name;
use crate::summary::Summary;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

/// A number as the summary shows it (integers without a fraction).
fn num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// The figures of a strategy, as one block of text for failure bodies and system-out.
pub fn figures(s: &Summary) -> String {
    let c = &s.check;
    let counts: Vec<String> = registry::properties()
        .map(|p| format!("{} {}", p.label, c.anomalies.get(p.name)))
        .collect();
    format!(
        "strategy {} (workload {}, seed {}, run {})\n\
         ops/s {:.0}; reads ok {}, writes ok {}, fail {}, info {}\n\
         read latency p50 {:.2} ms p99 {:.2} ms; write latency p50 {:.2} ms p99 {:.2} ms\n\
         {}\n\
         staleness p99 {:.2} ms max {:.2} ms; inconsistency window p99 {:.2} ms max {:.2} ms\n\
         verdict {}\n",
        s.strategy,
        s.workload,
        s.seed,
        s.run_id,
        c.throughput_ops_s,
        c.ops.read.ok,
        c.ops.write.ok,
        c.ops.read.fail + c.ops.write.fail,
        c.ops.read.info + c.ops.write.info,
        c.latency_ms.read.p50,
        c.latency_ms.read.p99,
        c.latency_ms.write.p50,
        c.latency_ms.write.p99,
        counts.join(", "),
        c.staleness.time_ms.p99,
        c.staleness.time_ms.max,
        c.inconsistency_window.ms.p99,
        c.inconsistency_window.ms.max,
        verdict_name(c.verdict),
    )
}

struct Case {
    name: String,
    failure: Option<(String, String)>,
}

fn cases(s: &Summary) -> Vec<Case> {
    let mut out: Vec<Case> = s
        .expectations
        .iter()
        .map(|e| Case {
            name: e.expr.clone(),
            failure: (!e.held).then(|| {
                let actual = e.actual.map(num).unwrap_or_else(|| "not reported".into());
                let mut msg = format!("expected {}, actual {actual}", e.expr);
                // Name the evidence of the first anomaly of the kind, when there is one.
                if let Some(ex) = s.check.examples.iter().find(|x| e.expr.contains(&x.kind)) {
                    let _ = write!(msg, "; e.g. key {}: {}", ex.key, ex.explanation);
                }
                (msg, figures(s))
            }),
        })
        .collect();
    out.push(Case {
        name: "complete".into(),
        failure: s.incomplete.then(|| {
            (
                "the run was interrupted: figures cover only what was recorded".into(),
                figures(s),
            )
        }),
    });
    out
}

/// Seconds as a [`Duration`] (0 for a negative or non-finite figure).
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or_default()
}

/// One strategy's `<testsuite>`.
fn suite(s: &Summary) -> TestSuite {
    let mut suite = TestSuite::new(format!("{}/{}", s.workload, s.strategy));
    suite.set_time(secs(s.check.duration_s));
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&s.started_at) {
        suite.set_timestamp(t);
    }
    for (k, v) in [
        ("workload", s.workload.clone()),
        ("strategy", s.strategy.clone()),
        ("seed", s.seed.to_string()),
        ("run_id", s.run_id.clone()),
        ("infra", s.infra.clone()),
        ("verdict", verdict_name(s.check.verdict).to_string()),
    ] {
        suite.add_property(quick_junit::Property::new(k, v));
    }
    let class = format!("cachecheck.{}.{}", s.workload, s.strategy);
    for c in cases(s) {
        let status = match c.failure {
            None => TestCaseStatus::success(),
            Some((msg, body)) => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(msg)
                    .set_type("expectation")
                    .set_description(body);
                st
            }
        };
        let mut case = TestCase::new(c.name, status);
        case.set_classname(class.as_str()).set_time(Duration::ZERO);
        suite.add_test_case(case);
    }
    suite.set_system_out(figures(s));
    suite
}

/// The JUnit XML document for `summaries`.
pub fn render(summaries: &[Summary]) -> String {
    let mut report = Report::new("cachecheck");
    report.set_time(secs(summaries.iter().map(|s| s.check.duration_s).sum()));
    report.add_test_suites(summaries.iter().map(suite));
    // Serialising to memory fails only on an I/O error of the writer, which a Vec never has.
    report.to_string().expect("JUnit XML to a string")
}

/// Writes the JUnit XML for `summaries` to `path`, naming the file in the error.
pub fn write(path: &Path, summaries: &[Summary]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            anyhow::anyhow!(
                "--junit {}: cannot create its directory: {e}",
                path.display()
            )
        })?;
    }
    std::fs::write(path, render(summaries)).map_err(|e| {
        anyhow::anyhow!(
            "--junit {}: cannot write: {e} (fix: give a writable path)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::Anomaly;
    use crate::expect::ExpectationResult;

    fn expectation(expr: &str, held: bool, actual: f64) -> ExpectationResult {
        ExpectationResult {
            expr: expr.into(),
            held,
            actual: Some(actual),
        }
    }

    /// Two strategies, one failing expectation whose workload, expression and evidence hold
    /// every character XML escapes, and one interrupted run.
    fn summaries() -> Vec<Summary> {
        let mut racy = Summary {
            strategy: "db-then-cache".into(),
            workload: "w<&>\"'".into(),
            seed: 42,
            started_at: "2026-11-27T10:15:00Z".into(),
            ..Default::default()
        };
        racy.check.duration_s = 2.5;
        racy.check.anomalies.set("stale_reads", 12);
        racy.check.examples.push(Anomaly {
            kind: "stale_reads".into(),
            key: 3,
            explanation: "read <v1> & not \"v2\"".into(),
            ..Default::default()
        });
        racy.expectations = vec![
            expectation("stale_reads < 1", false, 12.0),
            expectation("converges", true, 0.0),
        ];
        let mut cut = Summary {
            strategy: "db-only".into(),
            workload: "w".into(),
            incomplete: true,
            ..Default::default()
        };
        cut.check.duration_s = 1.0;
        vec![racy, cut]
    }

    #[test]
    fn one_case_per_expectation_and_failures_carry_figures() {
        let x = render(&summaries());
        assert!(
            x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{x}"
        );
        assert!(x.contains("stale reads 12"), "{x}");
        assert!(x.contains("w&lt;&amp;&gt;&quot;"), "{x}");
    }

    /// The XML read back by a JUnit reader (junit-parser, not the writer's own crate): the
    /// suites, cases and failures, with the escaped characters intact.
    #[test]
    fn a_junit_reader_reads_back_suites_cases_and_failures() {
        let x = render(&summaries());
        let r = junit_parser::from_reader(std::io::Cursor::new(x.as_bytes())).expect("JUnit");
        assert_eq!(r.name, "cachecheck");
        assert_eq!((r.tests, r.failures, r.errors), (4, 2, 0));
        assert!((r.time - 3.5).abs() < 1e-9, "{}", r.time);
        let names: Vec<&str> = r.suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["w<&>\"'/db-then-cache", "w/db-only"]);

        let racy = &r.suites[0];
        assert_eq!((racy.tests, racy.failures), (3, 1));
        assert_eq!(racy.properties.hashmap["workload"], "w<&>\"'");
        assert_eq!(racy.properties.hashmap["seed"], "42");
        let cases: Vec<&str> = racy
            .cases
            .iter()
            .map(|c| c.original_name.as_str())
            .collect();
        assert_eq!(cases, ["stale_reads < 1", "converges", "complete"]);
        for c in &racy.cases {
            assert_eq!(
                c.classname.as_deref(),
                Some("cachecheck.w<&>\"'.db-then-cache")
            );
        }
        let f = racy.cases[0].status.failure_as_ref();
        assert_eq!(
            f.message,
            "expected stale_reads < 1, actual 12; e.g. key 3: read <v1> & not \"v2\""
        );
        assert_eq!(f.failure_type, "expectation");
        // junit-parser drops the entity references of element text (quick-xml hands them over
        // as separate events it does not read), so the body's escaped characters are checked
        // with a plain XML reader below.
        assert!(f.text.contains("stale reads 12"), "{}", f.text);
        assert!(racy.cases[1].status.is_success() && racy.cases[2].status.is_success());
        assert!(racy.system_out.as_deref().unwrap().contains("verdict "));

        let cut = &r.suites[1];
        assert_eq!((cut.tests, cut.failures), (1, 1));
        assert_eq!(cut.cases[0].original_name, "complete");
        assert!(cut.cases[0]
            .status
            .failure_as_ref()
            .message
            .starts_with("the run was interrupted"));

        let doc = roxmltree::Document::parse(&x).unwrap();
        let body = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .and_then(|n| n.text())
            .unwrap();
        assert_eq!(body, figures(&summaries()[0]));
        assert!(body.starts_with("strategy db-then-cache (workload w<&>\"', seed 42"));
    }
}
