//! The checker's properties, registered by name in one list: [`CHECKERS`].
//!
//! Each entry is one file of this module: the property's name (its count in summary.json's
//! `anomalies`, its key in `verdicts`, the `kind` of its examples, and an expectation metric),
//! its labels (the `compare` row, the terminal table's column), its figures (expectation
//! aliases with their summary.json paths, compare rows, table columns), and the pure function
//! that judges it. `expect`, `compare`, `junit`, the terminal table, the HTML report and
//! `tune-delay` read this list instead of spelling names.
//!
//! Adding a property: a new file with a `pub static CHECKER: Checker` and one line in
//! [`CHECKERS`]. Nothing else changes.

use super::findings::Findings;
use super::Input;
use serde::Serialize;

/// Which way a compared figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// A named figure of summary.json.
#[derive(Debug, Clone, Copy)]
pub struct Figure {
    /// The short name: an expectation metric and a `compare` metric, e.g. `stale_p99_ms`.
    pub name: &'static str,
    /// Its dotted path in summary.json, e.g. `staleness.time_ms.p99`.
    pub path: &'static str,
    /// `compare` shows it in this row, best value marked.
    pub compare: Option<(&'static str, Better)>,
    /// `compare` reports it only when the count at this path is above 0 (a latency needs an
    /// `ok` operation, a window an acknowledged write); otherwise the figure is always reported.
    pub needs: Option<&'static str>,
    /// The terminal table shows it in this column: a percentile of a distribution in ms, `-`
    /// when the distribution is empty (its `count` beside the percentile is 0).
    pub column: Option<&'static str>,
}

impl Figure {
    /// A figure that expectations can name, shown nowhere else.
    pub const fn named(name: &'static str, path: &'static str) -> Figure {
        Figure {
            name,
            path,
            compare: None,
            needs: None,
            column: None,
        }
    }

    /// Also a `compare` row.
    pub const fn compared(self, label: &'static str, better: Better) -> Figure {
        Figure {
            compare: Some((label, better)),
            ..self
        }
    }

    /// Compared only when the count at `path` is above 0.
    pub const fn needs(self, path: &'static str) -> Figure {
        Figure {
            needs: Some(path),
            ..self
        }
    }

    /// Also a column of the terminal table.
    pub const fn column(self, header: &'static str) -> Figure {
        Figure {
            column: Some(header),
            ..self
        }
    }
}

/// One registered checker: a judged property (a count and a verdict) or a measurement (figures
/// only, `verdict == false`).
pub struct Checker {
    /// The property's name (see the module doc), or the measurement's.
    pub name: &'static str,
    /// Whether it judges a property: a count, a verdict valid/invalid/unknown, examples.
    pub verdict: bool,
    /// Plural words for the count: the `compare` row and the JUnit figures (`stale reads`).
    pub label: &'static str,
    /// The terminal table's column of the count, if shown (`stale`).
    pub column: Option<&'static str>,
    /// A one-word expectation that means "the count is 0" (`converges`).
    pub shorthand: Option<&'static str>,
    /// Printed under the table when the count is above 0 (for properties that mean the harness
    /// itself is wrong).
    pub alarm: Option<&'static str>,
    /// Its figures, in report order.
    pub figures: &'static [Figure],
    /// The pure function: a history in, findings out. An `Err` or a panic makes the property
    /// `unknown` with a warning.
    pub check: fn(&Input<'_>) -> Result<Findings, String>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").field("name", &self.name).finish()
    }
}

/// Every checker, in report order (the order of `anomalies`, of the table's columns, of the
/// compare rows and of the examples).
pub static CHECKERS: &[&Checker] = &[
    &super::stale::CHECKER,
    &super::window::CHECKER,
    &super::divergence::CHECKER,
    &super::dirty::CHECKER,
    &super::lost::CHECKER,
    &super::monotonic::CHECKER,
    &super::read_your_writes::CHECKER,
    &super::impossible::CHECKER,
];

/// Figures of every run that no checker owns: throughput, latency and operation counts.
pub static RUN_FIGURES: &[Figure] = &[
    Figure::named("ops_per_s", "throughput_ops_s").compared("ops/s", Better::Higher),
    Figure::named("read_p50_ms", "latency_ms.read.p50")
        .compared("read p50 ms", Better::Lower)
        .needs("latency_ms.read.count"),
    Figure::named("read_p99_ms", "latency_ms.read.p99")
        .compared("read p99 ms", Better::Lower)
        .needs("latency_ms.read.count"),
    Figure::named("write_p50_ms", "latency_ms.write.p50")
        .compared("write p50 ms", Better::Lower)
        .needs("latency_ms.write.count"),
    Figure::named("write_p99_ms", "latency_ms.write.p99")
        .compared("write p99 ms", Better::Lower)
        .needs("latency_ms.write.count"),
    Figure::named("reads_ok", "ops.read.ok"),
    Figure::named("writes_ok", "ops.write.ok"),
    Figure::named("reads_info", "ops.read.info"),
    Figure::named("writes_info", "ops.write.info"),
    Figure::named("reads_fail", "ops.read.fail"),
    Figure::named("writes_fail", "ops.write.fail"),
];

/// The judged properties, in report order.
pub fn properties() -> impl Iterator<Item = &'static Checker> {
    CHECKERS.iter().copied().filter(|c| c.verdict)
}

/// The judged property named `name`.
pub fn property(name: &str) -> Option<&'static Checker> {
    properties().find(|c| c.name == name)
}

/// The summary.json path of a property's count.
pub fn count_path(c: &Checker) -> String {
    format!("anomalies.{}", c.name)
}

/// Every figure the checker reports: the run's, then each checker's, in report order.
pub fn figures() -> impl Iterator<Item = &'static Figure> {
    RUN_FIGURES
        .iter()
        .chain(CHECKERS.iter().flat_map(|c| c.figures.iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_figures_have_paths() {
        let mut names: Vec<&str> = CHECKERS.iter().map(|c| c.name).collect();
        names.extend(figures().map(|f| f.name));
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "a name is registered twice");
        for f in figures() {
            assert!(!f.path.is_empty() && !f.path.contains(' '), "{}", f.name);
            if f.column.is_some() {
                assert!(f.path.rsplit_once('.').is_some(), "{}", f.name);
            }
        }
        assert!(properties().all(|p| !p.label.is_empty()));
    }
}
