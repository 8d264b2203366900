//! The matrix as text: a terminal table (one line per cell), Markdown (strategies × workloads,
//! then every expectation's agreement), JSON (matrix.json) and one self-contained HTML page
//! (inline CSS, no scripts, cells coloured clean / anomalies / expectation failed, each
//! linking to its runs' directories).

use super::matrix::{self, Cell, CellVerdict, Matrix};
use crate::output::{self, escape_xml as esc};
use crate::progress::clock;
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
        crate::checker::registry::properties()
            .filter_map(|p| p.column.map(|c| format!("`{c}` {}", p.label)))
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

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1400px;padding:0 12px;color:#1b1b1b;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:36px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
.muted{color:#666}
table{border-collapse:collapse;margin:8px 0;background:#fff}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.cell{min-width:110px}
td.clean{background:#e3f4e4}td.anomalies{background:#fff1d6}td.failed{background:#fbd3d3}
.fail{color:#b71c1c;font-weight:600}.pass{color:#1b5e20;font-weight:600}
.runs a{margin-right:6px;font-size:12px}.agree{font-size:12px;color:#444}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:14px;height:10px;border:1px solid #888;margin-right:4px;vertical-align:middle}
"#;

fn class(v: CellVerdict) -> &'static str {
    match v {
        CellVerdict::Clean => "clean",
        CellVerdict::Anomalies => "anomalies",
        CellVerdict::ExpectationFailed => "failed",
    }
}

/// The whole page: the matrix, a legend, every expectation's agreement.
pub fn html(m: &Matrix) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>cachecheck suite</title><style>{CSS}</style></head><body>\n\
         <h1>cachecheck suite: strategies × workloads</h1>\
         <p class=\"muted\">{} · started {} · cachecheck {}</p>\n",
        esc(&footer(m)),
        esc(&m.started_at),
        esc(&m.tool_version)
    );
    if m.failed {
        h.push_str("<p class=\"fail\">An expectation failed.</p>\n");
    } else {
        h.push_str("<p class=\"pass\">Every expectation held.</p>\n");
    }
    h.push_str(
        "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#e3f4e4\"></i>clean</span>\
         <span><i class=\"sw\" style=\"background:#fff1d6\"></i>anomalies found (as expected)</span>\
         <span><i class=\"sw\" style=\"background:#fbd3d3\"></i>an expectation failed</span>\
         <span class=\"muted\">each cell: kinds with median counts · runs that agreed · links to each run</span></p>\n",
    );
    h.push_str("<table id=\"matrix\"><tr><th>strategy</th>");
    for w in &m.workloads {
        let _ = write!(h, "<th>{}</th>", esc(w));
    }
    h.push_str("</tr>\n");
    for s in &m.strategies {
        let _ = write!(h, "<tr><th>{}</th>", esc(s));
        for w in &m.workloads {
            match Cell::get(m, w, s) {
                None => h.push_str("<td></td>"),
                Some(c) => {
                    let _ = write!(
                        h,
                        "<td class=\"cell {}\" data-verdict=\"{}\"><div>{}</div><div class=\"agree\">{}/{} agreed{}</div><div class=\"runs\">",
                        class(c.verdict),
                        class(c.verdict),
                        esc(&kinds_text(c)),
                        c.agreed,
                        c.runs,
                        if c.failed_runs > 0 {
                            format!(" · <span class=\"fail\">FAIL {}/{}</span>", c.failed_runs, c.runs)
                        } else {
                            String::new()
                        }
                    );
                    for (i, d) in c.dirs.iter().enumerate() {
                        let _ = write!(h, "<a href=\"{}/\">run {}</a>", esc(d), i + 1);
                    }
                    h.push_str("</div></td>");
                }
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n<h2>Expectations</h2>\n<table id=\"expectations\"><tr><th>workload</th><th>strategy</th><th>expectation</th><th>held</th></tr>\n");
    for c in &m.cells {
        for x in &c.expectations {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}/{}</td></tr>",
                esc(&c.workload),
                esc(&c.strategy),
                esc(&x.expr),
                if x.held == c.runs { "pass" } else { "fail" },
                x.held,
                c.runs
            );
        }
    }
    h.push_str("</table>\n</body></html>\n");
    h
}
