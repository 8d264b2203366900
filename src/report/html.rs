//! The report page: inline CSS and SVG, no scripts, nothing loaded from elsewhere.

use super::scan::Bucket;
use super::svg::{bar_chart, line_chart, Band, Series};
use super::{key_timeline, StrategyPage};
use crate::checker::Percentiles;
use crate::output::{self, escape_xml as esc, verdict_name};
use crate::summary::Summary;
use std::fmt::Write;
use std::path::Path;

const CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:980px;color:#1b1b1b;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:36px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}.muted{color:#666}
table{border-collapse:collapse;margin:8px 0;background:#fff}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f0f0}
.pass{color:#1b5e20;font-weight:600}.fail{color:#b71c1c;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fff;border:1px solid #e0e0e0;max-width:100%;height:auto}
svg .small{font-size:11px;fill:#333}svg .strong{font-weight:700}svg .title{font-size:13px;font-weight:600;fill:#111}
svg .axis{stroke:#555;stroke-width:1}svg .grid{stroke:#eee;stroke-width:1}svg .fault{fill:#ffb74d;fill-opacity:.25}
svg .lane{fill:#f6f6f6}svg .bar{fill:#5c6bc0}
svg .op{stroke:#607d8b;stroke-width:1}svg .read{fill:#cfe3f7}svg .write{fill:#fde2c4}
svg .failed{fill:#e0e0e0;stroke-dasharray:2 2}svg .unknown{fill:#fff9c4;stroke-dasharray:4 2}
svg .anomalous{fill:#f8c9c9;stroke:#c62828;stroke-width:2.5}svg .superseding{fill:#c8e6c9;stroke:#2e7d32;stroke-width:2.5}
.legend span{display:inline-block;margin-right:14px}
{LIN_CSS}.sw{display:inline-block;width:14px;height:10px;border:1px solid #888;margin-right:4px;vertical-align:middle}
"#;

/// The whole page for `pages` of `result`; `errors` are strategies that could not be read.
pub fn page(result: &Path, pages: &[StrategyPage], errors: &[String]) -> String {
    let mut h = String::new();
    let first = &pages[0].summary;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>cachecheck report: {}</title><style>{}</style></head><body>\n",
        esc(&first.workload),
        CSS.replace("{LIN_CSS}", super::violation::CSS)
    );
    let _ = writeln!(
        h,
        "<h1>cachecheck report: {}</h1><p class=\"muted\">{} · run {} · seed {} · infra {} · cachecheck {}</p>",
        esc(&first.workload),
        esc(&result.display().to_string()),
        esc(&first.run_id),
        first.seed,
        esc(&first.infra),
        esc(&first.tool_version)
    );
    for e in errors {
        let _ = writeln!(h, "<p class=\"fail\">{}</p>", esc(e));
    }
    h.push_str("<h2>Summary</h2>\n");
    let summaries: Vec<Summary> = pages.iter().map(|p| p.summary.clone()).collect();
    h.push_str(&summary_table(&summaries));
    for p in pages {
        strategy_section(&mut h, p);
    }
    h.push_str("</body></html>\n");
    h
}

/// The terminal table's rows as an HTML table.
fn summary_table(summaries: &[Summary]) -> String {
    let mut h = String::from("<table><thead><tr>");
    for c in output::headers() {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr></thead><tbody>");
    let rows: Vec<Vec<String>> = summaries.iter().map(output::row).collect();
    for r in &rows {
        h.push_str("<tr>");
        for c in r {
            let class = if c.starts_with("PASS") {
                " class=\"pass\""
            } else if c.starts_with("FAIL") || c.starts_with("INCOMPLETE") {
                " class=\"fail\""
            } else {
                ""
            };
            let _ = write!(h, "<td{class}>{}</td>", esc(c));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>\n");
    h
}

fn pct_items(p: &Percentiles) -> Vec<(String, f64)> {
    vec![
        ("p50".into(), p.p50),
        ("p90".into(), p.p90),
        ("p99".into(), p.p99),
        ("p99.9".into(), p.p999),
        ("max".into(), p.max),
    ]
}

fn latency_series(name: &str, color: &'static str, b: &[Bucket], w: f64) -> Vec<Series> {
    let pts = |q: f64| -> Vec<(f64, f64)> {
        b.iter()
            .enumerate()
            .filter(|(_, b)| b.count > 0)
            .map(|(i, b)| ((i as f64 + 0.5) * w, b.quantile_ms(q)))
            .collect()
    };
    vec![
        Series {
            name: format!("{name} p50"),
            color,
            dashed: false,
            points: pts(0.5),
        },
        Series {
            name: format!("{name} p99"),
            color,
            dashed: true,
            points: pts(0.99),
        },
    ]
}

fn strategy_section(h: &mut String, p: &StrategyPage) {
    let s = &p.summary;
    let c = &s.check;
    let class = if s.valid { "pass" } else { "fail" };
    let _ = write!(
        h,
        "<h2 id=\"{id}\">{name} <span class=\"{class}\">{}</span></h2>\n<p class=\"muted\">{}{}</p>\n",
        esc(&output::result_cell(s)),
        esc(&p.dir.display().to_string()),
        if p.computed {
            " · no summary.json: figures computed from the history now"
        } else {
            ""
        },
        id = esc(&s.strategy),
        name = esc(&p.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
    );
    if !s.expectations.is_empty() {
        h.push_str("<h3>Expectations</h3><ul>");
        for e in &s.expectations {
            let actual = e.actual.map_or("not reported".into(), |a| a.to_string());
            let _ = write!(
                h,
                "<li class=\"{}\">{} — {} (actual {})</li>",
                if e.held { "pass" } else { "fail" },
                esc(&e.expr),
                if e.held { "held" } else { "FAILED" },
                esc(&actual)
            );
        }
        h.push_str("</ul>\n");
    }
    let verdicts: Vec<String> = c
        .verdicts
        .iter()
        .map(|(k, v)| format!("{k}: {}", verdict_name(*v)))
        .collect();
    let _ = writeln!(
        h,
        "<p>Checker verdict: <b>{}</b> ({})</p>",
        verdict_name(c.verdict),
        esc(&verdicts.join(", "))
    );

    h.push_str("<h3>Latency over time</h3>\n");
    let w = p.scan.bucket_ns as f64 / 1e9;
    let mut series = latency_series("read", "#1565c0", &p.scan.reads, w);
    series.extend(latency_series("write", "#ef6c00", &p.scan.writes, w));
    let bands: Vec<Band> = p
        .shades
        .iter()
        .map(|f| Band {
            x0: f.start_ns as f64 / 1e9,
            x1: f.end_ns as f64 / 1e9,
            label: f.label.clone(),
        })
        .collect();
    h.push_str(&line_chart(
        &format!("{}: latency of ok operations", s.strategy),
        "run time (s); shaded: faults",
        "ms (log)",
        &series,
        &bands,
        true,
    ));

    h.push_str("<h3>Distributions</h3><div class=\"charts\">\n");
    let st = &c.staleness;
    h.push_str(&bar_chart(
        &format!("staleness of {} stale reads", st.time_ms.count),
        &pct_items(&st.time_ms),
        "ms",
    ));
    h.push_str(&bar_chart(
        "staleness in versions",
        &pct_items(&st.versions),
        "versions",
    ));
    let win = &c.inconsistency_window;
    h.push_str(&bar_chart(
        &format!("inconsistency window of {} writes", win.writes),
        &pct_items(&win.ms),
        "ms",
    ));
    let order = ["1ms", "10ms", "100ms", "1s", "10s"];
    let nines: Vec<(String, f64)> = order
        .iter()
        .filter_map(|k| win.nines.get(*k).map(|v| (format!("≤ {k}"), v * 100.0)))
        .collect();
    h.push_str(&bar_chart("writes consistent within", &nines, "%"));
    h.push_str("</div>\n");

    h.push_str("<h3>Anomalies</h3>\n");
    if p.drawn.is_empty() {
        h.push_str("<p>The checker kept no anomaly evidence for this strategy.</p>\n");
    } else {
        h.push_str(
            "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#f8c9c9;border-color:#c62828\"></i>anomalous read</span>\
             <span><i class=\"sw\" style=\"background:#c8e6c9;border-color:#2e7d32\"></i>write that superseded it</span>\
             <span><i class=\"sw\" style=\"background:#cfe3f7\"></i>read</span><span><i class=\"sw\" style=\"background:#fde2c4\"></i>write</span>\
             <span><i class=\"sw\" style=\"background:#fff9c4\"></i>unknown (info)</span><span><i class=\"sw\" style=\"background:#e0e0e0\"></i>failed</span>\
             <span>◆ internal step (fill purple, delete black, commit orange)</span><span><i class=\"sw\" style=\"background:#ffb74d\"></i>fault</span>\
             <span>red dashes: the anomaly's evidence span</span></p>\n",
        );
    }
    for (a, w) in p.drawn.iter().zip(&p.scan.windows) {
        let _ = writeln!(
            h,
            "<p><b>{}</b> on key {}: {} <span class=\"muted\">(history lines {})</span></p>",
            esc(&a.kind),
            a.key,
            esc(&a.explanation),
            a.events
                .iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        h.push_str(&key_timeline::render(w, a, &p.shades));
        h.push('\n');
    }
    if p.not_drawn > 0 {
        let _ = writeln!(
            h,
            "<p class=\"muted\">{} more examples not drawn (summary.json lists them).</p>",
            p.not_drawn
        );
    }
    if let Some(lin) = &p.linearizability {
        h.push_str(lin);
    }
    if !c.divergent.is_empty() {
        h.push_str("<h3>Divergent keys</h3><table><tr><th>key</th><th>db</th><th>cache</th><th>TTL repairs</th></tr>");
        for d in &c.divergent {
            let o = |v: Option<i64>| v.map_or("-".into(), |v| v.to_string());
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.key,
                o(d.db),
                o(d.cache),
                d.ttl_repairs
                    .map_or("unknown", |b| if b { "yes" } else { "no" })
            );
        }
        h.push_str("</table>\n");
    }
    for wn in &c.warnings {
        let _ = writeln!(h, "<p class=\"muted\">warning: {}</p>", esc(wn));
    }
}
