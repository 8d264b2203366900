//! The matrix as text: a terminal table (one line per cell), Markdown (strategies × workloads,
//! then every expectation's agreement), JSON (matrix.json) and one self-contained HTML page
//! (inline CSS, no scripts, cells coloured clean / anomalies / expectation failed, each
//! linking to its runs' directories).

use super::matrix::{self, Cell, CellVerdict, Matrix};
use crate::output;
use crate::progress::clock;
use crate::report::layout::{self, swatch, Page};
use maud::{html, Markup};
use std::fmt::Write;

/// Output formats of `cachecheck suite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Markdown,
    Json,
    Html,
}

/// `m` in `format`.
pub fn render(m: &Matrix, format: Format) -> String {
    match format {
        Format::Table => table(m),
        Format::Markdown => markdown(m),
        Format::Json => matrix::to_json(m),
        Format::Html => html(m),
    }
}

/// The short name of an anomaly kind: its terminal column (`stale`), else its name.
fn short(kind: &str) -> &str {
    crate::checker::registry::property(kind)
        .and_then(|c| c.column)
        .unwrap_or(kind)
}

fn num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// `stale 1043, mono 2 (1/3)` or `clean`: each kind found with its median count, and in how
/// many runs when not in all.
pub fn kinds_text(c: &Cell) -> String {
    if c.anomalies.is_empty() {
        return "clean".into();
    }
    // In the registry's order, as the run's table.
    let mut parts = Vec::new();
    for p in crate::checker::registry::properties() {
        if let Some(k) = c.anomalies.get(p.name) {
            let mut t = format!("{} {}", short(p.name), num(k.median));
            if k.found_in < c.runs {
                let _ = write!(t, " ({}/{})", k.found_in, c.runs);
            }
            parts.push(t);
        }
    }
    for (name, k) in &c.anomalies {
        if crate::checker::registry::property(name).is_none() {
            parts.push(format!("{name} {}", num(k.median)));
        }
    }
    parts.join(", ")
}

/// The expectations' column: `3/3 held` when all held in every run, else the ones that did
/// not, with in how many runs they held.
fn expectations_text(c: &Cell) -> String {
    if c.expectations.is_empty() {
        return "-".into();
    }
    let failing: Vec<String> = c
        .expectations
        .iter()
        .filter(|e| e.held < c.runs)
        .map(|e| format!("{} held {}/{}", e.expr, e.held, c.runs))
        .collect();
    if failing.is_empty() {
        format!("{} held {}/{}", c.expectations.len(), c.runs, c.runs)
    } else {
        failing.join("; ")
    }
}

fn verdict_text(v: CellVerdict) -> &'static str {
    match v {
        CellVerdict::Clean => "clean",
        CellVerdict::Anomalies => "anomalies",
        CellVerdict::ExpectationFailed => "FAIL",
    }
}

/// The kinds a cell can name, each as it names it and what it counts (`stale`, "stale
/// reads"; ...; `linearizable`, "non-linearizable keys"): every property of the registry, so
/// a kind without a column in the run's table (named in full in a cell) is explained too. The
/// legend of the Markdown and of the HTML page.
fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    crate::checker::registry::properties().map(|p| (short(p.name), p.label))
}

/// A matrix cell as Markdown: kinds, agreement, failures.
fn cell_text(c: &Cell) -> String {
    let mut t = format!("{} · {}/{}", kinds_text(c), c.agreed, c.runs);
    if c.failed_runs > 0 {
        let _ = write!(t, " · **FAIL {}/{}**", c.failed_runs, c.runs);
    }
    t
}

fn footer(m: &Matrix) -> String {
    let mut t = format!(
        "{} of {} runs ({} per workload) in {}",
        m.runs_done,
        m.runs_planned,
        m.repeat,
        clock(m.elapsed_s)
    );
    if m.interrupted {
        t.push_str(", interrupted: the cells hold the runs that finished");
    }
    t.push_str(if m.failed {
        "; an expectation failed"
    } else {
        "; every expectation held"
    });
    t
}

/// One line per cell, grouped by workload.
pub fn table(m: &Matrix) -> String {
    let mut rows = vec![vec![
        "workload".to_string(),
        "strategy".into(),
        format!("anomalies (median of {})", m.repeat),
        "expectations".into(),
        "agreed".into(),
        "result".into(),
    ]];
    for w in &m.workloads {
        let mut first = true;
        for c in m.cells.iter().filter(|c| &c.workload == w) {
            rows.push(vec![
                if first { w.clone() } else { String::new() },
                c.strategy.clone(),
                kinds_text(c),
                expectations_text(c),
                format!("{}/{}", c.agreed, c.runs),
                verdict_text(c.verdict).into(),
            ]);
            first = false;
        }
    }
    let mut out = output::grid(&rows, &[0, 1, 2, 3, 5]);
    let _ = writeln!(out, "{}", footer(m));
    out
}

/// The matrix (strategies × workloads), a legend, then every expectation's agreement.
pub fn markdown(m: &Matrix) -> String {
    let mut rows = vec![std::iter::once("strategy".to_string())
        .chain(m.workloads.iter().map(|w| format!("`{w}`")))
        .collect::<Vec<_>>()];
    for s in &m.strategies {
        let mut r = vec![format!("`{s}`")];
        for w in &m.workloads {
            r.push(Cell::get(m, w, s).map(cell_text).unwrap_or_default());
        }
        rows.push(r);
    }
    let left: Vec<usize> = (0..=m.workloads.len()).collect();
    let mut out = output::markdown(&rows, &left);
    let _ = writeln!(
        out,
        "\nEach cell: the anomaly kinds found, with the median count over the runs (and in how \
         many runs, when not in all); then how many of the runs agreed (the same kinds found and \
         the same expectation verdicts); **FAIL k/N** when an expectation failed in k runs. \
         Kinds: {}. {}.",
        kinds()
            .map(|(k, label)| format!("`{k}` {label}"))
            .collect::<Vec<_>>()
            .join(", "),
        footer(m)
    );
    let mut e = vec![vec![
        "workload".to_string(),
        "strategy".into(),
        "expectation".into(),
        "held".into(),
    ]];
    for c in &m.cells {
        for x in &c.expectations {
            e.push(vec![
                format!("`{}`", c.workload),
                format!("`{}`", c.strategy),
                format!("`{}`", x.expr),
                format!("{}/{}", x.held, c.runs),
            ]);
        }
    }
    if e.len() > 1 {
        out.push_str("\n### Expectations\n\n");
        out.push_str(&output::markdown(&e, &[0, 1, 2]));
    }
    out
}

/// The matrix page's own styles (after the layout's): wider, cells coloured by verdict.
const CSS: &str = r#"
body{max-width:1400px}td,th{padding:4px 8px;text-align:left;vertical-align:top}
th:first-child,td:first-child{text-align:left}td.cell{min-width:110px}
td.clean{background:#e3f4e4}td.anomalies{background:#fff1d6}td.failed{background:#fbd3d3}
.runs a{margin-right:6px;font-size:12px}.agree{font-size:12px;color:#444}
"#;

fn class(v: CellVerdict) -> &'static str {
    match v {
        CellVerdict::Clean => "clean",
        CellVerdict::Anomalies => "anomalies",
        CellVerdict::ExpectationFailed => "failed",
    }
}

fn cell_html(c: &Cell) -> Markup {
    html! {
        td class=(format!("cell {}", class(c.verdict))) data-verdict=(class(c.verdict)) {
            div { (kinds_text(c)) }
            div.agree {
                (c.agreed) "/" (c.runs) " agreed"
                @if c.failed_runs > 0 {
                    " · " span.fail { "FAIL " (c.failed_runs) "/" (c.runs) }
                }
            }
            div.runs {
                @for (i, d) in c.dirs.iter().enumerate() {
                    a href=(format!("{d}/")) { "run " (i + 1) }
                }
            }
        }
    }
}

/// The whole page, in the report's [layout](crate::report::layout): the matrix, a legend,
/// every expectation's agreement.
pub fn html(m: &Matrix) -> String {
    let content = html! {
        @if m.failed {
            p.fail { "An expectation failed." }
        } @else {
            p.pass { "Every expectation held." }
        }
        p.legend {
            (swatch("background:#e3f4e4", "clean"))
            (swatch("background:#fff1d6", "anomalies found (as expected)"))
            (swatch("background:#fbd3d3", "an expectation failed"))
            span.muted { "each cell: kinds with median counts · runs that agreed · links to each run" }
        }
        p.muted {
            "Kinds: "
            @for (i, (k, label)) in kinds().enumerate() {
                @if i > 0 { ", " }
                code { (k) } " " (label)
            }
            "."
        }
        table #matrix {
            tr {
                th { "strategy" }
                @for w in &m.workloads { th { (w) } }
            }
            @for s in &m.strategies {
                tr {
                    th { (s) }
                    @for w in &m.workloads {
                        @match Cell::get(m, w, s) {
                            None => td {},
                            Some(c) => (cell_html(c)),
                        }
                    }
                }
            }
        }
        h2 { "Expectations" }
        table #expectations {
            tr { th { "workload" } th { "strategy" } th { "expectation" } th { "held" } }
            @for c in &m.cells {
                @for x in &c.expectations {
                    tr {
                        td { (c.workload) }
                        td { (c.strategy) }
                        td { (x.expr) }
                        td class=(if x.held == c.runs { "pass" } else { "fail" }) {
                            (x.held) "/" (c.runs)
                        }
                    }
                }
            }
        }
    };
    let subtitle = format!(
        "{} · started {} · cachecheck {}",
        footer(m),
        m.started_at,
        m.tool_version
    );
    let page = Page {
        title: "cachecheck suite",
        heading: "cachecheck suite: strategies × workloads",
        subtitle: &subtitle,
        css: CSS,
        charts: false,
    };
    layout::render(&page, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cell with a kind that has a column (`stale`) and one that has none (`linearizable`),
    /// on a workload whose name HTML escapes.
    fn matrix() -> Matrix {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1, "tool_version": "0.1.0", "started_at": "2026-12-01T10:00:00Z",
            "elapsed_s": 61.0, "repeat": 2, "runs_planned": 2, "runs_done": 2,
            "interrupted": false, "failed": false,
            "workloads": ["w<&>"], "strategies": ["db-then-delete"], "runs": [],
            "cells": [{
                "workload": "w<&>", "strategy": "db-then-delete", "runs": 2,
                "anomalies": {
                    "stale_reads": {"median": 3.0, "found_in": 2},
                    "linearizable": {"median": 2.0, "found_in": 2}
                },
                "expectations": [{"expr": "stale_reads > 0", "held": 2}],
                "failed_runs": 0, "agreed": 2, "verdict": "anomalies",
                "seeds": [1, 2], "dirs": ["r/1", "r/2"]
            }]
        }))
        .unwrap()
    }

    #[test]
    fn legends_name_every_kind_a_cell_can_show_linearizable_included() {
        let m = matrix();
        let md = markdown(&m);
        assert!(
            md.contains("| `db-then-delete` | stale 3, linearizable 2 · 2/2 |"),
            "{md}"
        );
        assert!(md.contains("`stale` stale reads, "), "{md}");
        assert!(md.contains("`linearizable` non-linearizable keys"), "{md}");
        let h = html(&m);
        assert!(
            h.contains("<code>linearizable</code> non-linearizable keys"),
            "{h}"
        );
        assert!(h.contains("<code>stale</code> stale reads"), "{h}");
    }

    #[test]
    fn the_html_matrix_is_in_the_shared_layout_with_its_cells_and_links() {
        let h = html(&matrix());
        assert!(h.starts_with("<!DOCTYPE html>"), "{h}");
        assert!(
            h.contains("<h1>cachecheck suite: strategies × workloads</h1>"),
            "{h}"
        );
        assert!(
            h.contains("<footer class=\"muted\">Written by cachecheck"),
            "{h}"
        );
        assert!(h.contains("<table id=\"matrix\">"), "{h}");
        assert!(h.contains("<th>w&lt;&amp;&gt;</th>"), "{h}");
        assert!(
            h.contains("<td class=\"cell anomalies\" data-verdict=\"anomalies\"><div>stale 3, linearizable 2</div>"),
            "{h}"
        );
        assert!(
            h.contains("<a href=\"r/1/\">run 1</a><a href=\"r/2/\">run 2</a>"),
            "{h}"
        );
        assert!(h.contains("<td class=\"pass\">2/2</td>"), "{h}");
        assert!(!h.contains("<script"), "{h}");
    }
}
