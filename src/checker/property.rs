//! What a registered checker declares (see [`registry`](super::registry)): its property's name,
//! labels and figures, and the pure function that judges it.

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

impl Checker {
    /// A judged property: its name, the plural words for its count, its function.
    pub const fn property(
        name: &'static str,
        label: &'static str,
        check: fn(&Input<'_>) -> Result<Findings, String>,
    ) -> Checker {
        Checker {
            name,
            verdict: true,
            label,
            column: None,
            shorthand: None,
            alarm: None,
            figures: &[],
            check,
        }
    }

    /// A measurement: figures only, no count or verdict.
    pub const fn measurement(
        name: &'static str,
        label: &'static str,
        check: fn(&Input<'_>) -> Result<Findings, String>,
    ) -> Checker {
        Checker {
            verdict: false,
            ..Checker::property(name, label, check)
        }
    }

    /// Its count shown in this column of the terminal table.
    pub const fn column(self, header: &'static str) -> Checker {
        Checker {
            column: Some(header),
            ..self
        }
    }

    /// A one-word expectation meaning "the count is 0".
    pub const fn shorthand(self, word: &'static str) -> Checker {
        Checker {
            shorthand: Some(word),
            ..self
        }
    }

    /// Printed under the table when the count is above 0.
    pub const fn alarm(self, line: &'static str) -> Checker {
        Checker {
            alarm: Some(line),
            ..self
        }
    }

    /// Its figures, in report order.
    pub const fn figures(self, figures: &'static [Figure]) -> Checker {
        Checker { figures, ..self }
    }
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").field("name", &self.name).finish()
    }
}
