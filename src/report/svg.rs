//! Inline SVG charts, written as text: a line chart over time with shaded fault intervals, and
//! horizontal bar charts for distributions. No scripts, no external resources.

use crate::output::escape_xml as esc;
use std::fmt::Write;

/// An SVG document being written.
pub struct Svg {
    pub w: f64,
    pub h: f64,
    body: String,
}

impl Svg {
    pub fn new(w: f64, h: f64) -> Svg {
        Svg {
            w,
            h,
            body: String::new(),
        }
    }

    /// A rectangle; `title` (if not empty) is its tooltip.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, style: &str, title: &str) {
        let _ = write!(
            self.body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" {style}>",
            w.max(0.5),
            h.max(0.5)
        );
        if !title.is_empty() {
            let _ = write!(self.body, "<title>{}</title>", esc(title));
        }
        self.body.push_str("</rect>");
    }

    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = write!(
            self.body,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" {style}/>"
        );
    }

    /// Text; `anchor` is start | middle | end.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, s: &str) {
        let _ = write!(
            self.body,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\" class=\"{class}\">{}</text>",
            esc(s)
        );
    }

    pub fn polyline(&mut self, pts: &[(f64, f64)], style: &str) {
        if pts.is_empty() {
            return;
        }
        let mut d = String::new();
        for (x, y) in pts {
            let _ = write!(d, "{x:.1},{y:.1} ");
        }
        let _ = write!(
            self.body,
            "<polyline fill=\"none\" points=\"{}\" {style}/>",
            d.trim_end()
        );
    }

    /// A marker (diamond) with a tooltip.
    pub fn diamond(&mut self, x: f64, y: f64, r: f64, style: &str, title: &str) {
        let _ = write!(
            self.body,
            "<path d=\"M{x:.1},{:.1} L{:.1},{y:.1} L{x:.1},{:.1} L{:.1},{y:.1} Z\" {style}><title>{}</title></path>",
            y - r,
            x + r,
            y + r,
            x - r,
            esc(title)
        );
    }

    pub fn raw(&mut self, s: &str) {
        self.body.push_str(s);
    }

    pub fn finish(self, label: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"{}\">{}</svg>",
            esc(label),
            self.body,
            w = self.w,
            h = self.h
        )
    }
}

/// A linear or logarithmic map from data to pixels.
#[derive(Clone, Copy)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub r0: f64,
    pub r1: f64,
    pub log: bool,
}

impl Scale {
    pub fn map(&self, v: f64) -> f64 {
        let f = |x: f64| if self.log { x.max(1e-9).log10() } else { x };
        let (a, b) = (f(self.d0), f(self.d1));
        let t = if b == a { 0.5 } else { (f(v) - a) / (b - a) };
        self.r0 + t.clamp(-0.02, 1.02) * (self.r1 - self.r0)
    }

    /// Tick values: powers of ten (log) or about `n` round numbers (linear).
    pub fn ticks(&self, n: usize) -> Vec<f64> {
        if self.log {
            let mut t = Vec::new();
            let mut v = 10f64.powf(self.d0.max(1e-9).log10().floor());
            while v <= self.d1 * 1.0001 {
                if v >= self.d0 * 0.9999 {
                    t.push(v);
                }
                v *= 10.0;
            }
            return t;
        }
        let span = (self.d1 - self.d0).max(1e-12);
        let raw = span / n.max(1) as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let mut t = Vec::new();
        let mut v = (self.d0 / step).ceil() * step;
        while v <= self.d1 + step * 1e-9 {
            t.push(v);
            v += step;
        }
        t
    }
}

/// A number for an axis label.
pub fn label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{}", (v * 10.0).round() / 10.0)
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// A shaded interval on the x axis (a fault).
pub struct Band {
    pub x0: f64,
    pub x1: f64,
    pub label: String,
}

const ML: f64 = 64.0;
const MR: f64 = 16.0;
const MT: f64 = 28.0;
const MB: f64 = 40.0;

/// A line chart of `series` over x, with `bands` shaded; y on a log scale when `log_y`.
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    bands: &[Band],
    log_y: bool,
) -> String {
    let (w, h) = (920.0, 300.0);
    let mut svg = Svg::new(w, h);
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| !log_y || *v > 0.0)
        .collect();
    let x1 = xs
        .chain(bands.iter().map(|b| b.x1))
        .fold(0.0f64, f64::max)
        .max(1e-3);
    let (mut y0, mut y1) = (
        ys.iter().cloned().fold(f64::MAX, f64::min),
        ys.iter().cloned().fold(0.0f64, f64::max),
    );
    if ys.is_empty() {
        (y0, y1) = (if log_y { 0.1 } else { 0.0 }, 1.0);
    }
    if log_y {
        y0 = 10f64.powf(y0.max(1e-3).log10().floor());
        y1 = 10f64.powf(y1.max(y0 * 10.0).log10().ceil());
    } else {
        y0 = 0.0;
        y1 = y1.max(1e-3) * 1.05;
    }
    let sx = Scale {
        d0: 0.0,
        d1: x1,
        r0: ML,
        r1: w - MR,
        log: false,
    };
    let sy = Scale {
        d0: y0,
        d1: y1,
        r0: h - MB,
        r1: MT,
        log: log_y,
    };
    svg.rect(0.0, 0.0, w, h, "fill=\"#ffffff\"", "");
    for b in bands {
        let (a, z) = (sx.map(b.x0), sx.map(b.x1));
        svg.rect(a, MT, z - a, h - MT - MB, "class=\"fault\"", &b.label);
        svg.text(a + 2.0, MT + 10.0, "start", "small", &b.label);
    }
    axes(&mut svg, &sx, &sy, x_label, y_label);
    for s in series {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| !log_y || p.1 > 0.0)
            .map(|p| (sx.map(p.0), sy.map(p.1)))
            .collect();
        let dash = if s.dashed {
            " stroke-dasharray=\"4 3\""
        } else {
            ""
        };
        svg.polyline(
            &pts,
            &format!("stroke=\"{}\" stroke-width=\"1.5\"{dash}", s.color),
        );
    }
    let mut lx = ML + 8.0;
    svg.text(ML, 16.0, "start", "title", title);
    lx += title.len() as f64 * 7.5 + 16.0;
    for s in series {
        svg.line(
            lx,
            12.0,
            lx + 18.0,
            12.0,
            &format!("stroke=\"{}\" stroke-width=\"2\"", s.color),
        );
        svg.text(lx + 22.0, 16.0, "start", "small", &s.name);
        lx += 30.0 + s.name.len() as f64 * 6.5;
    }
    svg.finish(title)
}

/// Axes with ticks and labels.
pub fn axes(svg: &mut Svg, sx: &Scale, sy: &Scale, x_label: &str, y_label: &str) {
    let (w, h) = (svg.w, svg.h);
    svg.line(ML, h - MB, w - MR, h - MB, "class=\"axis\"");
    svg.line(ML, MT, ML, h - MB, "class=\"axis\"");
    for t in sx.ticks(10) {
        let x = sx.map(t);
        svg.line(x, h - MB, x, h - MB + 4.0, "class=\"axis\"");
        svg.text(x, h - MB + 16.0, "middle", "small", &label(t));
    }
    for t in sy.ticks(5) {
        let y = sy.map(t);
        svg.line(ML - 4.0, y, w - MR, y, "class=\"grid\"");
        svg.text(ML - 6.0, y + 4.0, "end", "small", &label(t));
    }
    svg.text((ML + w - MR) / 2.0, h - 6.0, "middle", "small", x_label);
    svg.raw(&format!(
        "<text transform=\"translate(14 {:.0}) rotate(-90)\" text-anchor=\"middle\" class=\"small\">{}</text>",
        (MT + h - MB) / 2.0,
        esc(y_label)
    ));
}

/// Horizontal bars: `(label, value)`, values labelled with `unit`; a log scale when the
/// values span more than two decades.
pub fn bar_chart(title: &str, items: &[(String, f64)], unit: &str) -> String {
    let row = 24.0;
    let (w, h) = (440.0, MT + 12.0 + row * items.len() as f64);
    let mut svg = Svg::new(w, h);
    svg.rect(0.0, 0.0, w, h, "fill=\"#ffffff\"", "");
    svg.text(8.0, 18.0, "start", "title", title);
    let max = items.iter().map(|i| i.1).fold(0.0f64, f64::max);
    let min_pos = items
        .iter()
        .map(|i| i.1)
        .filter(|v| *v > 0.0)
        .fold(f64::MAX, f64::min);
    let log = max > 0.0 && min_pos < f64::MAX && max / min_pos > 100.0;
    let (x0, x1) = (90.0, w - 90.0);
    let s = Scale {
        d0: if log { min_pos / 2.0 } else { 0.0 },
        d1: max.max(1e-9),
        r0: x0,
        r1: x1,
        log,
    };
    for (i, (name, v)) in items.iter().enumerate() {
        let y = MT + 6.0 + i as f64 * row;
        svg.text(x0 - 6.0, y + 13.0, "end", "small", name);
        let len = if *v > 0.0 { s.map(*v) - x0 } else { 0.0 };
        svg.rect(
            x0,
            y + 2.0,
            len,
            row - 8.0,
            "class=\"bar\"",
            &format!("{name}: {} {unit}", label(*v)),
        );
        svg.text(
            x0 + len + 4.0,
            y + 13.0,
            "start",
            "small",
            &format!("{} {unit}", label(*v)),
        );
    }
    if log {
        svg.text(w - 4.0, h - 4.0, "end", "small", "log scale");
    }
    svg.finish(title)
}

/// An x axis alone, at `y`, with ticks labelled in the axis's units.
pub fn axes_x_only(svg: &mut Svg, sx: &Scale, y: f64, x_label: &str) {
    svg.line(sx.r0, y, sx.r1, y, "class=\"axis\"");
    for t in sx.ticks(8) {
        let x = sx.map(t);
        svg.line(x, y, x, y + 4.0, "class=\"axis\"");
        svg.text(x, y + 16.0, "middle", "small", &format!("{t:.3}"));
    }
    svg.text((sx.r0 + sx.r1) / 2.0, y + 32.0, "middle", "small", x_label);
}
