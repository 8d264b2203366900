//! JUnit XML for CI systems (`--junit FILE` on `run` and `check`).
//!
//! The shape every common CI system reads (GitHub Actions test reporters, GitLab, Jenkins,
//! Azure): one `<testsuite>` per strategy, one `<testcase>` per expectation, plus a `complete`
//! case that fails when the run was interrupted. A case fails exactly when its expectation
//! fails, so the XML and the exit code always agree.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <testsuites name="cachecheck" tests="3" failures="1" errors="0" time="6.0">
//!   <testsuite name="smoke/db-then-cache" tests="3" failures="1" errors="0" skipped="0" time="3.0">
//!     <properties><property name="seed" value="42"/>...</properties>
//!     <testcase classname="cachecheck.smoke.db-then-cache" name="stale_reads == 0" time="0">
//!       <failure message="expected stale_reads == 0, actual 12" type="expectation">...</failure>
//!     </testcase>
//!   </testsuite>
//! </testsuites>
//! ```

use crate::checker::registry;
use crate::output::{escape_xml as escape, verdict_name};
use crate::summary::Summary;
use std::fmt::Write;
use std::path::Path;

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

/// The JUnit XML document for `summaries`.
pub fn render(summaries: &[Summary]) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut time) = (0usize, 0usize, 0f64);
    for s in summaries {
        let cs = cases(s);
        let fails = cs.iter().filter(|c| c.failure.is_some()).count();
        tests += cs.len();
        failures += fails;
        time += s.check.duration_s;
        let class = format!("cachecheck.{}.{}", s.workload, s.strategy);
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
            escape(&format!("{}/{}", s.workload, s.strategy)),
            cs.len(),
            s.check.duration_s,
            escape(s.started_at.trim_end_matches('Z')),
        );
        suites.push_str("    <properties>\n");
        for (k, v) in [
            ("workload", s.workload.clone()),
            ("strategy", s.strategy.clone()),
            ("seed", s.seed.to_string()),
            ("run_id", s.run_id.clone()),
            ("infra", s.infra.clone()),
            ("verdict", verdict_name(s.check.verdict).to_string()),
        ] {
            let _ = writeln!(
                suites,
                "      <property name=\"{k}\" value=\"{}\"/>",
                escape(&v)
            );
        }
        suites.push_str("    </properties>\n");
        for c in &cs {
            let _ = write!(
                suites,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
                escape(&class),
                escape(&c.name)
            );
            match &c.failure {
                None => suites.push_str("/>\n"),
                Some((msg, body)) => {
                    let _ = writeln!(
                        suites,
                        ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>",
                        escape(msg),
                        escape(body)
                    );
                }
            }
        }
        let _ = writeln!(
            suites,
            "    <system-out>{}</system-out>\n  </testsuite>",
            escape(&figures(s))
        );
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"cachecheck\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">\n{suites}</testsuites>\n"
    )
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
    use crate::expect::ExpectationResult;

    #[test]
    fn one_case_per_expectation_and_failures_carry_figures() {
        let mut s = Summary {
            strategy: "db-then-cache".into(),
            workload: "w<&>".into(),
            ..Default::default()
        };
        s.check.anomalies.set("stale_reads", 12);
        s.expectations = vec![
            ExpectationResult {
                expr: "stale_reads == 0".into(),
                held: false,
                actual: Some(12.0),
            },
            ExpectationResult {
                expr: "converges".into(),
                held: true,
                actual: Some(0.0),
            },
        ];
        let x = render(&[s]);
        assert!(x.contains("tests=\"3\" failures=\"1\""), "{x}");
        assert!(
            x.contains("message=\"expected stale_reads == 0, actual 12\""),
            "{x}"
        );
        assert!(x.contains("stale reads 12"), "{x}");
        assert!(x.contains("w&lt;&amp;&gt;/db-then-cache"), "{x}");
    }
}
