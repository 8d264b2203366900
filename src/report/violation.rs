//! The picture of a violation, after Porcupine's visualisation: the violating key's operations
//! as bars on one row per client against time, the longest linearizable prefix (green,
//! numbered in linearization order), the operation that cannot be placed (red), the others
//! involved (orange), `info` operations open to the right (dashed). Plain SVG with a
//! `<title>` tooltip per bar: no script, nothing fetched.
//!
//! Only the operations near the violation are drawn (at most [`MAX_BARS`], the nearest to the
//! unplaceable operation in history order), so a hot key of a long run stays legible.

use crate::checker::linearizable::LinearViolation;
use crate::checker::ops::Outcome;
use crate::checker::truth::{KeyData, POS_NONE};
use crate::linearizability::foreign::ForeignKey;
use crate::linearizability::history::KeyHistory;
use crate::linearizability::search::Found;
use crate::output::escape_xml as esc;
use std::fmt::Write;

/// Bars drawn at most.
pub const MAX_BARS: usize = 48;

/// What a bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// In the longest linearizable prefix.
    Prefix,
    /// Cannot be placed.
    Stuck,
    /// Involved in the violation.
    Witness,
    Other,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Bar {
    pub row: usize,
    pub start: f64,
    /// `None`: open (info) to the right edge.
    pub end: Option<f64>,
    pub label: String,
    pub class: Class,
    /// Its place in the linearization, for prefix bars.
    pub order: Option<usize>,
}

/// A whole picture.
#[derive(Debug, Clone, Default)]
pub struct Picture {
    pub title: String,
    pub rows: Vec<String>,
    pub bars: Vec<Bar>,
    /// The x axis' unit: "s" (time) or "event" (history position).
    pub unit: &'static str,
}

const W: f64 = 940.0;
const LEFT: f64 = 96.0;
const ROW: f64 = 28.0;
const TOP: f64 = 34.0;

/// The SVG.
pub fn svg(p: &Picture) -> String {
    let lo = p.bars.iter().map(|b| b.start).fold(f64::INFINITY, f64::min);
    let hi = p
        .bars
        .iter()
        .map(|b| b.end.unwrap_or(b.start))
        .fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let span = (hi - lo) * 1.08;
    let x = |t: f64| LEFT + (t - lo) / span * (W - LEFT - 16.0);
    let h = TOP + ROW * p.rows.len() as f64 + 34.0;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"lin\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{h}\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(&p.title),
        esc(&p.title)
    );
    let _ = write!(
        s,
        "<text class=\"title\" x=\"8\" y=\"18\">{}</text>",
        esc(&p.title)
    );
    for (i, r) in p.rows.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let _ = write!(
            s,
            "<rect class=\"lane\" x=\"{LEFT}\" y=\"{y}\" width=\"{}\" height=\"{}\"/><text class=\"small\" x=\"8\" y=\"{}\">{}</text>",
            W - LEFT - 8.0,
            ROW - 4.0,
            y + ROW / 2.0 + 2.0,
            esc(r)
        );
    }
    // Where the next bar of the same row starts: a label that does not fit in its bar may run
    // on up to there.
    let mut room = vec![W - 10.0; p.bars.len()];
    for (i, b) in p.bars.iter().enumerate() {
        for c in p
            .bars
            .iter()
            .filter(|c| c.row == b.row && c.start > b.start)
        {
            room[i] = room[i].min(x(c.start));
        }
    }
    for (i, b) in p.bars.iter().enumerate() {
        let y = TOP + ROW * b.row as f64 + 2.0;
        let x0 = x(b.start);
        let x1 = b.end.map_or(W - 10.0, x).max(x0 + 3.0);
        let class = match (b.class, b.end) {
            (Class::Prefix, _) => "lin-prefix",
            (Class::Stuck, _) => "lin-stuck",
            (Class::Witness, _) => "lin-witness",
            (Class::Other, None) => "lin-open",
            (Class::Other, Some(_)) => "lin-other",
        };
        let order = b.order.map_or(String::new(), |o| format!("#{o} "));
        let tip = format!(
            "{order}{} [{} – {}]",
            b.label,
            fmt_t(b.start, p.unit),
            b.end.map_or("open".into(), |e| fmt_t(e, p.unit))
        );
        let _ = write!(
            s,
            "<g><title>{}</title><rect class=\"{class}\" x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{}\" rx=\"3\"/>",
            esc(&tip),
            x1 - x0,
            ROW - 8.0
        );
        let text = format!("{order}{}", b.label);
        let fits = (text.chars().count() as f64) * 6.2 < room[i] - x0 - 4.0;
        if fits {
            let _ = write!(
                s,
                "<text class=\"small\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                x0 + 3.0,
                y + ROW / 2.0,
                esc(&text)
            );
        }
        s.push_str("</g>");
    }
    let ya = TOP + ROW * p.rows.len() as f64 + 6.0;
    let _ = write!(
        s,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{ya}\" x2=\"{}\" y2=\"{ya}\"/>",
        W - 10.0
    );
    for i in 0..=4 {
        let t = lo + span / 1.08 * i as f64 / 4.0;
        let _ = write!(
            s,
            "<text class=\"small\" x=\"{:.1}\" y=\"{}\">{}</text>",
            x(t) - 10.0,
            ya + 16.0,
            esc(&fmt_t(t, p.unit))
        );
    }
    s.push_str("</svg>");
    s
}

fn fmt_t(t: f64, unit: &str) -> String {
    if unit == "s" {
        format!("{t:.6} s")
    } else {
        format!("event {}", t.round() as i64)
    }
}

/// The picture of a foreign key's violation (`None` unless it has one).
pub fn of_foreign(k: &KeyHistory, r: &ForeignKey) -> Option<Picture> {
    let Some(Found::Violation { longest, stuck, .. }) = &r.found else {
        return None;
    };
    let stuck = *stuck as usize;
    let timed = k
        .ops
        .iter()
        .all(|o| o.call_ns.is_some() && (o.is_open() || o.ret_ns.is_some()));
    let t = |pos: u64, ns: Option<u64>| {
        if timed {
            ns.unwrap_or(0) as f64 / 1e9
        } else {
            pos as f64
        }
    };
    let mut order = vec![None; k.ops.len()];
    for (n, &i) in longest.iter().enumerate() {
        order[i as usize] = Some(n + 1);
    }
    let near = nearest(k.ops.len(), stuck, |i| k.ops[i].call);
    let mut rows: Vec<i64> = near.iter().map(|&i| k.ops[i].process).collect();
    rows.sort_unstable();
    rows.dedup();
    let bars = near
        .iter()
        .map(|&i| {
            let o = &k.ops[i];
            Bar {
                row: rows.binary_search(&o.process).unwrap_or(0),
                start: t(o.call, o.call_ns),
                end: (!o.is_open()).then(|| t(o.ret, o.ret_ns)),
                label: k.describe(o),
                class: if i == stuck {
                    Class::Stuck
                } else if order[i].is_some() {
                    Class::Prefix
                } else {
                    Class::Other
                },
                order: order[i],
            }
        })
        .collect();
    Some(Picture {
        title: format!("{}: the longest linearizable prefix ({} operations) and the operation that cannot follow it", k.name(), longest.len()),
        rows: rows.iter().map(|p| format!("process {p}")).collect(),
        bars,
        unit: if timed { "s" } else { "event" },
    })
}

/// The picture of a cachecheck key's violation: operations around it, those of the versions
/// before the misplaced one as the prefix, the misplaced version's write as the operation that
/// cannot be placed, the operations that pin it as witnesses.
pub fn of_linear(kd: &KeyData, v: &LinearViolation, processes: &[i64]) -> Picture {
    let first = v.ops.first().copied().unwrap_or(0) as usize;
    let stuck = v
        .ops
        .iter()
        .copied()
        .find(|&i| kd.ops[i as usize].write && kd.ops[i as usize].pos == v.version)
        .unwrap_or(first as u32) as usize;
    let near = nearest(kd.ops.len(), stuck, |i| kd.ops[i].inv_ns);
    let mut rows: Vec<u32> = near.iter().map(|&i| kd.ops[i].process).collect();
    rows.sort_unstable();
    rows.dedup();
    let bars = near
        .iter()
        .map(|&i| {
            let o = &kd.ops[i];
            let what = if o.write { "write" } else { "read" };
            let value = o.value().map_or("null".to_string(), |x| x.to_string());
            let version = if o.pos == POS_NONE {
                String::new()
            } else {
                format!(" (v{})", kd.version_number(o.pos))
            };
            let outcome = match o.outcome {
                Outcome::Ok => "",
                Outcome::Fail => " fail",
                Outcome::Info => " info",
            };
            let class = if i == stuck {
                Class::Stuck
            } else if v.ops.contains(&(i as u32)) {
                Class::Witness
            } else if o.outcome == Outcome::Ok && o.pos != POS_NONE && o.pos < v.version {
                Class::Prefix
            } else {
                Class::Other
            };
            Bar {
                row: rows.binary_search(&o.process).unwrap_or(0),
                start: o.inv_ns as f64 / 1e9,
                end: (o.cmp_idx != crate::checker::truth::NO_IDX && o.outcome != Outcome::Info)
                    .then(|| o.cmp_ns as f64 / 1e9),
                label: format!("{what} {value}{version}{outcome}"),
                class,
                order: None,
            }
        })
        .collect();
    Picture {
        title: format!(
            "key {}: {} cannot be placed in the commit order",
            kd.key,
            kd.describe(v.version)
        ),
        rows: rows
            .iter()
            .map(|&p| {
                format!(
                    "process {}",
                    processes.get(p as usize).copied().unwrap_or(p as i64)
                )
            })
            .collect(),
        bars,
        unit: "s",
    }
}

/// The indexes of the at most [`MAX_BARS`] operations nearest to `center` by `at`, in order.
fn nearest(n: usize, center: usize, at: impl Fn(usize) -> u64) -> Vec<usize> {
    let c = at(center);
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by_key(|&i| at(i).abs_diff(c));
    idx.truncate(MAX_BARS);
    if !idx.contains(&center) {
        idx.push(center);
    }
    idx.sort_unstable();
    idx
}

/// The CSS of the pictures (the report's page and the foreign page include it).
pub const CSS: &str = "svg.lin .lin-prefix{fill:#c8e6c9;stroke:#2e7d32;stroke-width:1.5}svg.lin .lin-stuck{fill:#f8c9c9;stroke:#c62828;stroke-width:3}svg.lin .lin-witness{fill:#ffe0b2;stroke:#ef6c00;stroke-width:2}svg.lin .lin-other{fill:#eceff1;stroke:#90a4ae}svg.lin .lin-open{fill:#fff9c4;stroke:#b0a000;stroke-dasharray:4 2}";

/// The legend under a picture.
pub const LEGEND: &str = "<p class=\"legend\"><span><i class=\"sw\" style=\"background:#c8e6c9;border-color:#2e7d32\"></i>linearizable prefix (#: its order)</span><span><i class=\"sw\" style=\"background:#f8c9c9;border-color:#c62828\"></i>cannot be placed</span><span><i class=\"sw\" style=\"background:#ffe0b2;border-color:#ef6c00\"></i>pins it</span><span><i class=\"sw\" style=\"background:#eceff1\"></i>other</span><span><i class=\"sw\" style=\"background:#fff9c4\"></i>info: open</span></p>";
