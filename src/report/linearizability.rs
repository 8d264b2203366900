//! The HTML of linearizability: `cachecheck report FILE` on a foreign history (a page of its
//! own: the verdict per key, and the picture of each violation), and the section the report of
//! a cachecheck run gets when a key is not linearizable. In the shared [layout](super::layout):
//! inline CSS and SVG, no script.

use super::layout;
use super::violation::{self, of_foreign, of_linear, svg, LEGEND};
use crate::checker::load_run;
use crate::foreign_cmd::{format_of, load_and_check, ForeignArgs};
use crate::formats::Format;
use crate::output::verdict_name;
use anyhow::{bail, Result};
use maud::{html, Markup, PreEscaped};
use std::path::{Path, PathBuf};

/// Violations drawn per strategy in a run's report.
pub const DRAWN: usize = 3;

/// `cachecheck report FILE [-o OUT]` for a foreign history: writes the page (default
/// `FILE.html`), prints its path. Exit 0 (the page is the result, whatever the verdict).
pub fn report_file(path: &Path, out: Option<&Path>, a: &ForeignArgs) -> Result<u8> {
    let format = format_of(path, a)?;
    if format == Format::Cachecheck {
        bail!(
            "{}: --format cachecheck needs a result directory",
            path.display()
        );
    }
    let c = load_and_check(path, format, a)?;
    let v = &c.verdict;
    let name = path.display().to_string();
    let title = format!("linearizability: {name}");
    let heading = format!("Linearizability of {name}");
    let subtitle = format!(
        "{} history, model {}, {} key(s), {} operations, checked in {:.3} s by cachecheck {}",
        c.format.name(),
        c.model.name(),
        c.history.keys.len(),
        c.history.operations(),
        v.elapsed_s,
        env!("CARGO_PKG_VERSION"),
    );
    let content = html! {
        p {
            "Verdict: " span class=(verdict_name(v.verdict)) { (verdict_name(v.verdict)) }
            " (" (v.valid) " valid, " (v.invalid) " invalid, " (v.unknown) " unknown)"
        }
        table {
            tr { th { "key" } th { "operations" } th { "verdict" } th { "time" } }
            @for k in &v.keys {
                tr {
                    td { (if k.key.is_empty() { "-" } else { &k.key }) }
                    td { (k.ops) }
                    td class=(verdict_name(k.verdict)) { (verdict_name(k.verdict)) }
                    td { (format!("{:.3} s", k.elapsed_s)) }
                }
            }
        }
        @for (kh, k) in c.history.keys.iter().zip(&v.keys) {
            @if let (Some(x), Some(p)) = (&k.violation, of_foreign(kh, k)) {
                h2 { (kh.name()) }
                p { (x.explanation) }
                (PreEscaped(LEGEND))
                (PreEscaped(svg(&p)))
            }
            @if let Some(w) = &k.why_unknown {
                p.muted { (kh.name()) ": unknown: " (w) }
            }
        }
    };
    let page = layout::Page {
        title: &title,
        heading: &heading,
        subtitle: &subtitle,
        css: violation::CSS,
        charts: true,
    };
    let h = layout::render(&page, content);
    let target = out.map(Path::to_path_buf).unwrap_or_else(|| {
        let mut p = PathBuf::from(path);
        p.as_mut_os_string().push(".html");
        p
    });
    std::fs::write(&target, h).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot write the report: {e} (fix: -o FILE with a writable path)",
            target.display()
        )
    })?;
    println!("report: {}", target.display());
    Ok(crate::exit::EXIT_OK)
}

/// The linearizability section of a run's report for the strategy directory `dir`: the
/// verdict, and the picture of the first [`DRAWN`] violations. `None` if it cannot be read.
pub fn run_section(dir: &Path) -> Option<Markup> {
    let run = load_run(dir).ok()?;
    let r = crate::checker::linearizable::check_run(&run);
    let bad: Vec<_> = r.keys.iter().filter(|k| k.violation.is_some()).collect();
    Some(html! {
        h3 { "Linearizability" }
        p {
            "Per key, in the database's commit order: " b { (verdict_name(r.verdict)) }
            " (" (r.valid) " keys valid, " (r.invalid) " invalid, " (r.unknown) " unknown)."
        }
        @if !bad.is_empty() { (PreEscaped(LEGEND)) }
        @for k in bad.iter().take(DRAWN) {
            @if let (Some(v), Some(kd)) = (&k.violation, run.keys.find(k.key)) {
                p {
                    b { "linearizable" } " on key " (k.key) ": " (v.explanation) " "
                    span.muted {
                        "(history lines "
                        (v.events.iter().map(|i| (i + 1).to_string()).collect::<Vec<_>>().join(", "))
                        ")"
                    }
                }
                (PreEscaped(svg(&of_linear(kd, v, &run.processes))))
            }
        }
        @if bad.len() > DRAWN {
            p.muted { (bad.len() - DRAWN) " more keys are not linearizable." }
        }
    })
}
