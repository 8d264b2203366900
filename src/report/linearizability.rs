//! The HTML of linearizability: `cachecheck report FILE` on a foreign history (a page of its
//! own: the verdict per key, and the picture of each violation), and the section the report of
//! a cachecheck run gets when a key is not linearizable. Inline CSS and SVG, no script.

use super::violation::{self, of_foreign, of_linear, svg, LEGEND};
use crate::checker::load_run;
use crate::foreign_cmd::{format_of, load_and_check, ForeignArgs};
use crate::formats::Format;
use crate::output::{escape_xml as esc, verdict_name};
use anyhow::{bail, Result};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Violations drawn per strategy in a run's report.
pub const DRAWN: usize = 3;

const CSS: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#1b1b1b;background:#fafafa}h1{font-size:22px}h2{font-size:17px;margin-top:28px}.muted{color:#666}table{border-collapse:collapse;background:#fff}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}.invalid{color:#b71c1c;font-weight:600}.valid{color:#1b5e20;font-weight:600}svg{background:#fff;border:1px solid #e0e0e0;max-width:100%;height:auto}svg .small{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:600;fill:#111}svg .axis{stroke:#555}svg .lane{fill:#f6f6f6}.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:14px;height:10px;border:1px solid #888;margin-right:4px;vertical-align:middle}";

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
    let mut h = String::new();
    let name = path.display().to_string();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>linearizability: {n}</title><style>{CSS}{}</style></head><body>\n\
         <h1>Linearizability of {n}</h1><p class=\"muted\">{} history, model {}, {} key(s), {} operations, checked in {:.3} s by cachecheck {}</p>\n\
         <p>Verdict: <span class=\"{}\">{}</span> ({} valid, {} invalid, {} unknown)</p>\n",
        violation::CSS,
        c.format.name(),
        c.model.name(),
        c.history.keys.len(),
        c.history.operations(),
        v.elapsed_s,
        env!("CARGO_PKG_VERSION"),
        verdict_name(v.verdict),
        verdict_name(v.verdict),
        v.valid,
        v.invalid,
        v.unknown,
        n = esc(&name),
    );
    h.push_str("<table><tr><th>key</th><th>operations</th><th>verdict</th><th>time</th></tr>");
    for k in &v.keys {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{:.3} s</td></tr>",
            esc(if k.key.is_empty() { "-" } else { &k.key }),
            k.ops,
            verdict_name(k.verdict),
            verdict_name(k.verdict),
            k.elapsed_s
        );
    }
    h.push_str("</table>\n");
    for (kh, k) in c.history.keys.iter().zip(&v.keys) {
        if let (Some(x), Some(p)) = (&k.violation, of_foreign(kh, k)) {
            let _ = writeln!(
                h,
                "<h2>{}</h2><p>{}</p>{LEGEND}{}",
                esc(&kh.name()),
                esc(&x.explanation),
                svg(&p)
            );
        }
        if let Some(w) = &k.why_unknown {
            let _ = write!(
                h,
                "<p class=\"muted\">{}: unknown: {}</p>",
                esc(&kh.name()),
                esc(w)
            );
        }
    }
    h.push_str("</body></html>\n");
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
pub fn run_section(dir: &Path) -> Option<String> {
    let run = load_run(dir).ok()?;
    let r = crate::checker::linearizable::check_run(&run);
    let mut h = format!(
        "<h3>Linearizability</h3><p>Per key, in the database's commit order: <b>{}</b> ({} keys valid, {} invalid, {} unknown).</p>\n",
        verdict_name(r.verdict),
        r.valid,
        r.invalid,
        r.unknown
    );
    let bad: Vec<_> = r.keys.iter().filter(|k| k.violation.is_some()).collect();
    if !bad.is_empty() {
        h.push_str(LEGEND);
    }
    for k in bad.iter().take(DRAWN) {
        let (Some(v), Some(kd)) = (&k.violation, run.keys.find(k.key)) else {
            continue;
        };
        let lines: Vec<String> = v.events.iter().map(|i| (i + 1).to_string()).collect();
        let _ = writeln!(
            h,
            "<p><b>linearizable</b> on key {}: {} <span class=\"muted\">(history lines {})</span></p>{}",
            k.key,
            esc(&v.explanation),
            lines.join(", "),
            svg(&of_linear(kd, v, &run.processes))
        );
    }
    if bad.len() > DRAWN {
        let _ = write!(
            h,
            "<p class=\"muted\">{} more keys are not linearizable.</p>",
            bad.len() - DRAWN
        );
    }
    Some(h)
}
