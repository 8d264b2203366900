//! The one layout of cachecheck's HTML pages (the run report, the page of a foreign history,
//! the suite's matrix), rendered with maud: the head (charset, viewport, title, the styles),
//! the header (a heading and one muted line under it), the page's own content and the footer.
//! Every page is self-contained: its CSS inline, its pictures inline SVG, no script, nothing
//! fetched and no link out of the page.
//!
//! The styles every page shares are [`BASE_CSS`]; the charts' are [`CHART_CSS`]; a page adds
//! its own after them (later rules win).

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// The styles of every page: text, headings, tables, pass/fail colours, legends, the footer.
pub const BASE_CSS: &str = r#"
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:980px;padding:0 12px;color:#1b1b1b;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:36px 0 8px;border-bottom:2px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:20px 0 6px}.muted{color:#666}
table{border-collapse:collapse;margin:8px 0;background:#fff}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f0f0f0}
.pass,.valid{color:#1b5e20;font-weight:600}.fail,.invalid{color:#b71c1c;font-weight:600}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:14px;height:10px;border:1px solid #888;margin-right:4px;vertical-align:middle}
footer{margin-top:36px;border-top:1px solid #ddd;padding-top:6px;font-size:12px}
"#;

/// The styles of the inline SVG charts and pictures (report and foreign-history pages).
pub const CHART_CSS: &str = r#"
.charts{display:flex;flex-wrap:wrap;gap:12px}svg{background:#fff;border:1px solid #e0e0e0;max-width:100%;height:auto}
svg .small{font-size:11px;fill:#333}svg .strong{font-weight:700}svg .title{font-size:13px;font-weight:600;fill:#111}
svg .axis{stroke:#555;stroke-width:1}svg .grid{stroke:#eee;stroke-width:1}svg .fault{fill:#ffb74d;fill-opacity:.25}
svg .lane{fill:#f6f6f6}svg .bar{fill:#5c6bc0}
svg .op{stroke:#607d8b;stroke-width:1}svg .read{fill:#cfe3f7}svg .write{fill:#fde2c4}
svg .failed{fill:#e0e0e0;stroke-dasharray:2 2}svg .unknown{fill:#fff9c4;stroke-dasharray:4 2}
svg .anomalous{fill:#f8c9c9;stroke:#c62828;stroke-width:2.5}svg .superseding{fill:#c8e6c9;stroke:#2e7d32;stroke-width:2.5}
"#;

/// What a page puts in the layout.
pub struct Page<'a> {
    /// The `<title>`.
    pub title: &'a str,
    /// The `<h1>`.
    pub heading: &'a str,
    /// The muted line under the heading (what, where, which version).
    pub subtitle: &'a str,
    /// The page's own styles, after [`BASE_CSS`] (and [`CHART_CSS`] when `charts`).
    pub css: &'a str,
    /// The page draws SVG charts: include [`CHART_CSS`].
    pub charts: bool,
}

/// A legend swatch: a small box of `style`'s colours, then `label`.
pub fn swatch(style: &str, label: &str) -> Markup {
    html! { span { i.sw style=(style) {} (label) } }
}

/// The whole document: `page`'s head and header, `content`, the footer.
pub fn render(page: &Page<'_>, content: Markup) -> String {
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (page.title) }
                style {
                    (PreEscaped(BASE_CSS))
                    @if page.charts { (PreEscaped(CHART_CSS)) }
                    (PreEscaped(page.css))
                }
            }
            body {
                header {
                    h1 { (page.heading) }
                    p.muted { (page.subtitle) }
                }
                main { (content) }
                footer.muted {
                    "Written by cachecheck " (env!("CARGO_PKG_VERSION"))
                    ": one self-contained page (inline CSS and SVG, no scripts, nothing fetched)."
                }
            }
        }
    };
    let mut out = doc.into_string();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_layout_escapes_text_and_keeps_content_and_styles() {
        let page = Page {
            title: "t <&>",
            heading: "h \"q\"",
            subtitle: "s",
            css: ".own{color:red}",
            charts: false,
        };
        let h = render(
            &page,
            html! { p #x .y { "body" } (PreEscaped("<svg></svg>")) },
        );
        assert!(
            h.starts_with("<!DOCTYPE html><html lang=\"en\"><head>"),
            "{h}"
        );
        assert!(h.contains("<title>t &lt;&amp;&gt;</title>"), "{h}");
        assert!(h.contains("<h1>h &quot;q&quot;</h1>"), "{h}");
        assert!(
            h.contains("<main><p class=\"y\" id=\"x\">body</p><svg></svg></main>"),
            "{h}"
        );
        assert!(
            h.contains(".own{color:red}") && h.contains("footer{"),
            "{h}"
        );
        assert!(
            !h.contains("svg .op"),
            "no chart styles when asked for none"
        );
        assert!(!h.contains("<script") && !h.contains("href="), "{h}");
    }
}
