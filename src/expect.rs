//! Expectations: `expect = ["converges", "dirty_reads == 0", "stale_p99_ms < 50"]`.
//!
//! An expectation is a property's shorthand (`converges`: `divergent_keys == 0`) or `METRIC OP
//! NUMBER` with OP one of `==`, `!=`, `<`, `<=`, `>`, `>=`. METRIC is a short name ([`aliases`]:
//! every property's name and every figure of the checker's
//! [registry](crate::checker::registry), and [`RUN_FIGURES`]) or a dotted path to a number in
//! summary.json (e.g. `inconsistency_window.ms.p999`).

use crate::checker::registry::{self, Figure};
use serde::{Deserialize, Serialize};

/// Figures the run reports beside the checker's (strategy and topology measurements).
pub static RUN_FIGURES: &[Figure] = &[
    Figure::named("binlog_lag_p50_ms", "binlog_lag_ms.p50"),
    Figure::named("binlog_lag_p99_ms", "binlog_lag_ms.p99"),
    Figure::named("binlog_lag_max_ms", "binlog_lag_ms.max"),
];

/// Every short metric name and the summary.json path it stands for: the properties' counts,
/// the checker's figures, the run's figures.
pub fn aliases() -> impl Iterator<Item = (&'static str, String)> {
    registry::properties()
        .map(|p| (p.name, registry::count_path(p)))
        .chain(
            registry::figures()
                .chain(RUN_FIGURES.iter())
                .map(|f| (f.name, f.path.to_string())),
        )
}

/// Top-level summary.json sections a dotted path may start with: those of every named figure,
/// plus these.
const SECTIONS: &[&str] = &["anomalies", "duration_s", "extra"];

fn is_section(first: &str) -> bool {
    SECTIONS.contains(&first) || aliases().any(|(_, path)| path.split('.').next() == Some(first))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Cmp {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// One parsed expectation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// As written in the workload.
    pub expr: String,
    /// The summary.json path it reads.
    pub path: String,
    pub cmp: Cmp,
    pub value: f64,
}

/// The outcome of one expectation on one summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    pub expr: String,
    pub held: bool,
    /// The measured value (`null` when the summary does not report the metric).
    pub actual: Option<f64>,
}

impl Expectation {
    pub fn parse(s: &str) -> Result<Expectation, String> {
        let t = s.trim();
        if let Some(p) = registry::properties().find(|p| p.shorthand == Some(t)) {
            return Ok(Expectation {
                expr: t.into(),
                path: registry::count_path(p),
                cmp: Cmp::Eq,
                value: 0.0,
            });
        }
        let ops = [
            ("==", Cmp::Eq),
            ("!=", Cmp::Ne),
            ("<=", Cmp::Le),
            (">=", Cmp::Ge),
            ("<", Cmp::Lt),
            (">", Cmp::Gt),
        ];
        let (pos, tok, cmp) = ops
            .iter()
            .filter_map(|(tok, c)| t.find(tok).map(|p| (p, *tok, *c)))
            .min_by_key(|(p, tok, _)| (*p, usize::MAX - tok.len()))
            .ok_or_else(|| {
                format!("`{t}` is not an expectation (write `converges` or `METRIC OP NUMBER`, e.g. `stale_reads == 0`)")
            })?;
        let metric = t[..pos].trim();
        let number = t[pos + tok.len()..].trim();
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{t}`: `{number}` is not a number"))?;
        let path = resolve(metric).ok_or_else(|| {
            let names: Vec<&str> = aliases().map(|(a, _)| a).collect();
            format!(
                "`{t}`: unknown metric `{metric}` (use one of {} or a summary.json path such as anomalies.stale_reads)",
                names.join(", ")
            )
        })?;
        Ok(Expectation {
            expr: t.into(),
            path,
            cmp,
            value,
        })
    }

    /// Evaluates against a summary (as JSON). A metric the summary lacks fails the expectation.
    pub fn evaluate(&self, summary: &serde_json::Value) -> ExpectationResult {
        let actual = lookup(summary, &self.path);
        ExpectationResult {
            expr: self.expr.clone(),
            held: actual.is_some_and(|a| self.cmp.holds(a, self.value)),
            actual,
        }
    }
}

/// The value of `metric` (a short name from [`aliases`] or a summary.json path) in a summary
/// as JSON; `None` when the summary does not report it.
pub fn metric(summary: &serde_json::Value, metric: &str) -> Option<f64> {
    lookup(summary, &resolve(metric)?)
}

fn resolve(metric: &str) -> Option<String> {
    if let Some((_, p)) = aliases().find(|(a, _)| *a == metric) {
        return Some(p);
    }
    let first = metric.split('.').next()?;
    let ok_chars = metric
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    (ok_chars && is_section(first)).then(|| metric.to_string())
}

fn lookup(v: &serde_json::Value, path: &str) -> Option<f64> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    cur.as_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_evaluates() {
        let s = json!({"anomalies": {"stale_reads": 3, "divergent_keys": 0},
                       "staleness": {"time_ms": {"p99": 12.5}}});
        let e = Expectation::parse("stale_reads > 0").unwrap();
        assert!(e.evaluate(&s).held);
        let e = Expectation::parse("stale_reads == 0").unwrap();
        assert!(!e.evaluate(&s).held);
        assert_eq!(e.evaluate(&s).actual, Some(3.0));
        assert!(Expectation::parse("converges").unwrap().evaluate(&s).held);
        assert!(
            Expectation::parse("stale_p99_ms <= 12.5")
                .unwrap()
                .evaluate(&s)
                .held
        );
        assert!(
            !Expectation::parse("stale_p99_ms < 12.5")
                .unwrap()
                .evaluate(&s)
                .held
        );
        // A metric the summary does not report fails, with no value.
        let r = Expectation::parse("binlog_lag_p99_ms < 5")
            .unwrap()
            .evaluate(&s);
        assert!(!r.held);
        assert_eq!(r.actual, None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Expectation::parse("stale_reads").is_err());
        assert!(Expectation::parse("stale_reads == many").is_err());
        assert!(Expectation::parse("nope == 0").is_err());
        assert!(Expectation::parse("anomalies.stale_reads >= 1").is_ok());
    }
}
