//! The report page, in the shared [layout](super::layout): the summary table, then per
//! strategy its expectations, latency chart, distributions, anomaly timelines and
//! linearizability section. Inline CSS and SVG, no scripts, nothing loaded from elsewhere.

use super::layout::{self, swatch};
use super::scan::Bucket;
use super::svg::{bar_chart, line_chart, Band, Series};
use super::{key_timeline, StrategyPage};
use crate::checker::Percentiles;
use crate::output::{self, verdict_name};
use crate::summary::Summary;
use maud::{html, Markup, PreEscaped};
use std::path::Path;

/// The whole page for `pages` of `result`; `errors` are strategies that could not be read.
pub fn page(result: &Path, pages: &[StrategyPage], errors: &[String]) -> String {
    let first = &pages[0].summary;
    let title = format!("cachecheck report: {}", first.workload);
    let subtitle = format!(
        "{} · run {} · seed {} · infra {} · cachecheck {}",
        result.display(),
        first.run_id,
        first.seed,
        first.infra,
        first.tool_version
    );
    let summaries: Vec<Summary> = pages.iter().map(|p| p.summary.clone()).collect();
    let content = html! {
        @for e in errors { p.fail { (e) } }
        h2 { "Summary" }
        (summary_table(&summaries))
        @for p in pages { (strategy_section(p)) }
    };
    let page = layout::Page {
        title: &title,
        heading: &title,
        subtitle: &subtitle,
        // Its own styles: the linearizability pictures'.
        css: super::violation::CSS,
        charts: true,
    };
    layout::render(&page, content)
}

/// The terminal table's rows as an HTML table.
fn summary_table(summaries: &[Summary]) -> Markup {
    let class = |c: &str| {
        if c.starts_with("PASS") {
            Some("pass")
        } else if c.starts_with("FAIL") || c.starts_with("INCOMPLETE") {
            Some("fail")
        } else {
            None
        }
    };
    html! {
        table {
            thead { tr { @for c in output::headers() { th { (c) } } } }
            tbody {
                @for s in summaries {
                    tr { @for c in output::row(s) { td class=[class(&c)] { (c) } } }
                }
            }
        }
    }
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

/// The anomaly timelines' legend.
fn timeline_legend() -> Markup {
    html! {
        p.legend {
            (swatch("background:#f8c9c9;border-color:#c62828", "anomalous read"))
            (swatch("background:#c8e6c9;border-color:#2e7d32", "write that superseded it"))
            (swatch("background:#cfe3f7", "read"))
            (swatch("background:#fde2c4", "write"))
            (swatch("background:#fff9c4", "unknown (info)"))
            (swatch("background:#e0e0e0", "failed"))
            span { "◆ internal step (fill purple, delete black, commit orange)" }
            (swatch("background:#ffb74d", "fault"))
            span { "red dashes: the anomaly's evidence span" }
        }
    }
}

fn latency_chart(p: &StrategyPage) -> Markup {
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
    PreEscaped(line_chart(
        &format!("{}: latency of ok operations", p.summary.strategy),
        "run time (s); shaded: faults",
        "ms (log)",
        &series,
        &bands,
        true,
    ))
}

fn distributions(c: &crate::checker::CheckReport) -> Markup {
    let st = &c.staleness;
    let win = &c.inconsistency_window;
    let order = ["1ms", "10ms", "100ms", "1s", "10s"];
    let nines: Vec<(String, f64)> = order
        .iter()
        .filter_map(|k| win.nines.get(*k).map(|v| (format!("≤ {k}"), v * 100.0)))
        .collect();
    html! {
        div.charts {
            (PreEscaped(bar_chart(
                &format!("staleness of {} stale reads", st.time_ms.count),
                &pct_items(&st.time_ms),
                "ms",
            )))
            (PreEscaped(bar_chart("staleness in versions", &pct_items(&st.versions), "versions")))
            (PreEscaped(bar_chart(
                &format!("inconsistency window of {} writes", win.writes),
                &pct_items(&win.ms),
                "ms",
            )))
            (PreEscaped(bar_chart("writes consistent within", &nines, "%")))
        }
    }
}

fn strategy_section(p: &StrategyPage) -> Markup {
    let s = &p.summary;
    let c = &s.check;
    let name = p
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let verdicts: Vec<String> = c
        .verdicts
        .iter()
        .map(|(k, v)| format!("{k}: {}", verdict_name(*v)))
        .collect();
    let lines = |a: &crate::checker::Anomaly| {
        a.events
            .iter()
            .map(|i| (i + 1).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let opt = |v: Option<i64>| v.map_or("-".into(), |v| v.to_string());
    html! {
        h2 id=(s.strategy) {
            (name) " " span class=(if s.valid { "pass" } else { "fail" }) { (output::result_cell(s)) }
        }
        p.muted {
            (p.dir.display())
            @if p.computed { " · no summary.json: figures computed from the history now" }
        }
        @if !s.expectations.is_empty() {
            h3 { "Expectations" }
            ul {
                @for e in &s.expectations {
                    li class=(if e.held { "pass" } else { "fail" }) {
                        (e.expr) " — " (if e.held { "held" } else { "FAILED" })
                        " (actual " (e.actual.map_or("not reported".into(), |a| a.to_string())) ")"
                    }
                }
            }
        }
        p { "Checker verdict: " b { (verdict_name(c.verdict)) } " (" (verdicts.join(", ")) ")" }
        h3 { "Latency over time" }
        (latency_chart(p))
        h3 { "Distributions" }
        (distributions(c))
        h3 { "Anomalies" }
        @if p.drawn.is_empty() {
            p { "The checker kept no anomaly evidence for this strategy." }
        } @else {
            (timeline_legend())
        }
        @for (a, w) in p.drawn.iter().zip(&p.scan.windows) {
            p {
                b { (a.kind) } " on key " (a.key) ": " (a.explanation) " "
                span.muted { "(history lines " (lines(a)) ")" }
            }
            (PreEscaped(key_timeline::render(w, a, &p.shades)))
        }
        @if p.not_drawn > 0 {
            p.muted { (p.not_drawn) " more examples not drawn (summary.json lists them)." }
        }
        @if let Some(lin) = &p.linearizability { (lin) }
        @if !c.divergent.is_empty() {
            h3 { "Divergent keys" }
            table {
                tr { th { "key" } th { "db" } th { "cache" } th { "TTL repairs" } }
                @for d in &c.divergent {
                    tr {
                        td { (d.key) }
                        td { (opt(d.db)) }
                        td { (opt(d.cache)) }
                        td { (d.ttl_repairs.map_or("unknown", |b| if b { "yes" } else { "no" })) }
                    }
                }
            }
        }
        @for wn in &c.warnings { p.muted { "warning: " (wn) } }
    }
}
