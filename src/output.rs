//! The compact terminal table: one row per strategy, and the lines explaining failures.

use crate::checker::{registry, Verdict};
use crate::expect;
use crate::summary::Summary;
use std::fmt::Write;

/// The columns of [`table`]: the run's, then each registered checker's (its count, then its
/// figures that have a column), then the result.
pub fn headers() -> Vec<&'static str> {
    let mut h = vec!["strategy", "ops/s", "reads", "writes", "fail", "info"];
    for c in registry::CHECKERS {
        h.extend(c.column);
        h.extend(c.figures.iter().filter_map(|f| f.column));
    }
    h.push("result");
    h
}

fn ms(v: f64, count: u64) -> String {
    if count == 0 {
        "-".into()
    } else if v >= 100.0 {
        format!("{v:.0}ms")
    } else {
        format!("{v:.1}ms")
    }
}

/// Escapes text for XML attributes and character data (the SVG charts of the report; the
/// pages and JUnit XML are written by maud and quick-junit, which escape for themselves).
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A verdict as summary.json spells it.
pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Valid => "valid",
        Verdict::Invalid => "invalid",
        Verdict::Unknown => "unknown",
    }
}

/// The result cell: PASS/FAIL against expectations, with the checker's verdict.
pub fn result_cell(s: &Summary) -> String {
    let checker = match s.check.verdict {
        Verdict::Valid => "clean",
        Verdict::Invalid => "anomalies",
        Verdict::Unknown => "unknown",
    };
    if s.incomplete {
        format!("INCOMPLETE ({checker})")
    } else if s.valid {
        format!("PASS ({checker})")
    } else {
        format!("FAIL ({checker})")
    }
}

/// One strategy's row of [`table`].
pub fn row(s: &Summary) -> Vec<String> {
    let c = &s.check;
    let mut cells = vec![
        s.strategy.clone(),
        format!("{:.0}", c.throughput_ops_s),
        c.ops.read.ok.to_string(),
        c.ops.write.ok.to_string(),
        (c.ops.read.fail + c.ops.write.fail).to_string(),
        (c.ops.read.info + c.ops.write.info).to_string(),
    ];
    let json = serde_json::to_value(s).unwrap_or_default();
    for k in registry::CHECKERS {
        if k.column.is_some() {
            cells.push(c.anomalies.get(k.name).to_string());
        }
        for f in k.figures.iter().filter(|f| f.column.is_some()) {
            // A percentile of a distribution: `-` when the distribution is empty.
            let count = f
                .path
                .rsplit_once('.')
                .and_then(|(dist, _)| expect::metric(&json, &format!("{dist}.count")))
                .unwrap_or(0.0);
            let v = expect::metric(&json, f.path).unwrap_or(0.0);
            cells.push(ms(v, count as u64));
        }
    }
    cells.push(result_cell(s));
    cells
}

/// Renders the table for `summaries`, followed by one line per failed expectation and per
/// impossible read (which means a harness bug or corruption).
pub fn table(summaries: &[Summary]) -> String {
    let headers = headers();
    let mut rows: Vec<Vec<String>> = vec![headers.iter().map(|h| h.to_string()).collect()];
    rows.extend(summaries.iter().map(row));
    let mut out = grid(&rows, &[0, headers.len() - 1]);
    for s in summaries {
        out.push_str(&failure_lines(s));
    }
    out
}

/// Aligns `rows` (the first is the header) in columns two spaces apart: the columns listed in
/// `left` are left-aligned, the others right-aligned (numbers).
pub fn grid(rows: &[Vec<String>], left: &[usize]) -> String {
    let ncols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..ncols)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if left.contains(&i) {
                let _ = write!(line, "{:<w$}  ", cell, w = widths[i]);
            } else {
                let _ = write!(line, "{:>w$}  ", cell, w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `rows` (the first is the header) as a GitHub-flavoured Markdown table; `left` as in [`grid`].
pub fn markdown(rows: &[Vec<String>], left: &[usize]) -> String {
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if n == 0 {
            let seps: Vec<&str> = (0..r.len())
                .map(|i| if left.contains(&i) { ":---" } else { "---:" })
                .collect();
            let _ = writeln!(out, "|{}|", seps.join("|"));
        }
    }
    out
}

/// One line per failed expectation, impossible read, and warning of a summary.
pub fn failure_lines(s: &Summary) -> String {
    let mut out = String::new();
    for e in s.expectations.iter().filter(|e| !e.held) {
        let actual = e
            .actual
            .map(|a| format!("{a}"))
            .unwrap_or_else(|| "not reported".into());
        let _ = writeln!(
            out,
            "{}: expectation `{}` failed (actual: {actual})",
            s.strategy, e.expr
        );
    }
    for p in registry::properties() {
        let n = s.check.anomalies.get(p.name);
        if let (Some(alarm), true) = (p.alarm, n > 0) {
            let _ = writeln!(out, "{}: {n} {alarm}", s.strategy);
        }
    }
    for w in &s.check.warnings {
        let _ = writeln!(out, "{}: warning: {w}", s.strategy);
    }
    out
}
