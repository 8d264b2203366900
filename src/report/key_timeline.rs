//! The timeline of one key around an anomaly, like Jepsen's timeline and Porcupine's
//! visualisation: one lane per process, each operation a bar from invoke to completion, the
//! strategy's internal steps as diamonds, faults shaded. The operations named by the anomaly's
//! evidence are outlined: the anomalous read in red, the write that superseded it in green.

use super::scan::{Op, Window, MAX_OPS};
use super::svg::{Scale, Svg};
use crate::checker::Anomaly;
use crate::history::{process, EventType, Source};
use std::collections::BTreeSet;

/// A fault interval to shade (ns since run start).
pub struct Shade {
    pub start_ns: u64,
    pub end_ns: u64,
    pub label: String,
}

const LANE: f64 = 26.0;
const ML: f64 = 92.0;
const MR: f64 = 16.0;
const MT: f64 = 30.0;
const MB: f64 = 36.0;

fn is_evidence(op: &Op, ev: &BTreeSet<u64>) -> bool {
    ev.contains(&op.inv_idx) || op.end_idx.is_some_and(|i| ev.contains(&i))
}

fn lane_name(p: i64) -> String {
    match p {
        process::NEMESIS => "nemesis".into(),
        process::HARNESS => "harness".into(),
        p if p >= 0 => format!("client {p}"),
        p => format!("worker {}", process::WORKER_BASE - p),
    }
}

fn secs(ns: u64) -> String {
    format!("{:.6} s", ns as f64 / 1e9)
}

fn op_text(op: &Op) -> String {
    let v = op.value.map_or("nil".to_string(), |v| v.to_string());
    if op.write {
        format!("W {v}")
    } else {
        let src = match op.source {
            Some(Source::Cache) => " cache",
            Some(Source::Db) => " db",
            Some(Source::Replica) => " replica",
            None => "",
        };
        format!("R {v}{src}")
    }
}

/// The operations to draw: the evidence, then the ones nearest to the anomaly.
fn pick(w: &Window, a: &Anomaly, ev: &BTreeSet<u64>) -> Vec<Op> {
    let dist = |o: &Op| {
        let end = o.end_ns.unwrap_or(w.t1);
        if end < a.start_ns {
            a.start_ns - end
        } else {
            o.inv_ns.saturating_sub(a.end_ns)
        }
    };
    let (mut chosen, mut rest): (Vec<Op>, Vec<Op>) =
        w.ops.iter().cloned().partition(|o| is_evidence(o, ev));
    rest.sort_by_key(dist);
    let room = MAX_OPS.saturating_sub(chosen.len());
    chosen.extend(rest.into_iter().take(room));
    chosen.sort_by_key(|o| o.inv_ns);
    chosen
}

/// The timeline of `w` around anomaly `a` as an SVG.
pub fn render(w: &Window, a: &Anomaly, faults: &[Shade]) -> String {
    let ev: BTreeSet<u64> = a.events.iter().copied().collect();
    let ops = pick(w, a, &ev);
    let (mut t0, mut t1) = (w.t0, w.t1);
    for o in ops.iter().filter(|o| is_evidence(o, &ev)) {
        t0 = t0.min(o.inv_ns);
        t1 = t1.max(o.end_ns.unwrap_or(t1));
    }
    let mut lanes: Vec<i64> = ops
        .iter()
        .map(|o| o.process)
        .chain(w.steps.iter().map(|s| s.process))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Clients first, in order, then workers and the harness.
    lanes.sort_by_key(|p| if *p >= 0 { (0, *p) } else { (1, -*p) });
    let width = 920.0;
    let height = MT + MB + LANE * lanes.len().max(1) as f64;
    let mut svg = Svg::new(width, height);
    svg.rect(0.0, 0.0, width, height, "fill=\"#ffffff\"", "");
    let sx = Scale {
        d0: t0 as f64 / 1e9,
        d1: t1 as f64 / 1e9,
        r0: ML,
        r1: width - MR,
        log: false,
    };
    let x = |ns: u64| sx.map(ns.clamp(t0, t1) as f64 / 1e9);
    let y = |p: i64| MT + LANE * lanes.iter().position(|l| *l == p).unwrap_or(0) as f64;
    for f in faults.iter().filter(|f| f.start_ns <= t1 && f.end_ns >= t0) {
        let (a0, a1) = (x(f.start_ns), x(f.end_ns));
        svg.rect(
            a0,
            MT,
            a1 - a0,
            height - MT - MB,
            "class=\"fault\"",
            &f.label,
        );
    }
    for (i, p) in lanes.iter().enumerate() {
        let ly = MT + LANE * i as f64;
        if i % 2 == 1 {
            svg.rect(ML, ly, width - ML - MR, LANE, "class=\"lane\"", "");
        }
        svg.text(ML - 6.0, ly + 17.0, "end", "small", &lane_name(*p));
    }
    // The anomaly's span.
    for t in [a.start_ns, a.end_ns] {
        svg.line(
            x(t),
            MT - 6.0,
            x(t),
            height - MB,
            "stroke=\"#c62828\" stroke-dasharray=\"3 3\"",
        );
    }
    for o in &ops {
        let (x0, x1) = (x(o.inv_ns), x(o.end_ns.unwrap_or(t1)));
        let ly = y(o.process) + 4.0;
        let evid = is_evidence(o, &ev);
        let class = match (o.write, evid, o.outcome) {
            (false, true, _) => "op read anomalous",
            (true, true, _) => "op write superseding",
            (_, _, Some(EventType::Fail)) => "op failed",
            (_, _, None | Some(EventType::Info)) => "op unknown",
            (false, false, _) => "op read",
            (true, false, _) => "op write",
        };
        let outcome = o.outcome.map_or("never completed", |k| k.as_str());
        let title = format!(
            "{} key {}: {} {outcome}, invoked {} (line {}), completed {}{}",
            lane_name(o.process),
            o.key,
            op_text(o),
            secs(o.inv_ns),
            o.inv_idx + 1,
            o.end_ns.map_or("never".to_string(), secs),
            o.end_idx
                .map_or(String::new(), |i| format!(" (line {})", i + 1)),
        );
        svg.rect(
            x0,
            ly,
            x1 - x0,
            LANE - 8.0,
            &format!("class=\"{class}\""),
            &title,
        );
        let text = op_text(o);
        if x1 - x0 > text.len() as f64 * 6.2 + 4.0 {
            svg.text(x0 + 3.0, ly + 13.0, "start", "small", &text);
        } else if evid {
            svg.text(x1 + 3.0, ly + 13.0, "start", "small strong", &text);
        }
    }
    for s in &w.steps {
        let color = match s.f.as_str() {
            "cache-fill" => "#6a1b9a",
            "cache-del" => "#212121",
            "db-commit" => "#e65100",
            _ => "#757575",
        };
        let v = s.value.map_or(String::new(), |v| format!(" {v}"));
        svg.diamond(
            x(s.time_ns),
            y(s.process) + LANE / 2.0,
            4.5,
            &format!("fill=\"{color}\""),
            &format!(
                "{} {}{v} at {} by {}",
                s.f,
                s.kind.as_str(),
                secs(s.time_ns),
                lane_name(s.process)
            ),
        );
    }
    super::svg::axes_x_only(&mut svg, &sx, height - MB, "run time (s)");
    svg.text(
        ML,
        18.0,
        "start",
        "title",
        &format!("key {}: {}", a.key, a.kind),
    );
    svg.finish(&format!("timeline of key {} around {}", a.key, a.kind))
}
