//! `cachecheck tune-delay WORKLOAD`: how long must the second delete of a delayed double delete
//! (seed 4.1) wait?
//!
//! 1. **Measure.** The workload runs (its clients, key mix and faults) with a cache-aside
//!    strategy (`db-then-delete` unless `--measure-with`). Every cache fill records
//!    `detail.window_ns`: from the start of the reader's database read to the fill's
//!    acknowledgement. A writer's delete that lands inside that window is overtaken by the
//!    stale fill (seed 3.3/4.1), so the second delete must come later than the window's end:
//!    the delay must outwait this distribution. It is kept in an hdrhistogram.
//! 2. **Recommend** `p<percentile> × factor + margin` (default p99.9 × 1.5 + 10 ms), rounded up
//!    to whole milliseconds.
//! 3. **Prove.** `double-delete` runs the same workload at 0, p50, p99, the recommendation and
//!    twice it. By default its second delete is inline (`inline = true`: the write is
//!    acknowledged after it), so a long-enough delay leaves nothing stale to observe: a delay
//!    is *clean* when the checker finds no anomaly at all but non-linearizable keys. With
//!    `--async-second-delete` the write is acknowledged first and reads until the second
//!    delete are stale by definition; clean then means no anomaly but stale reads (and the
//!    session guarantees they break), and none staler than the delay + margin.
//!
//! The double delete does not claim linearizability, whatever the delay: while a write sleeps
//! before its second delete, a reader can see the new value from the database and a later
//! reader the old one from a stale fill, an order no single point of the write explains, yet no
//! acknowledged write makes either read stale. The longer the delay, the longer that window.
//! So `linearizable` is reported per point (`non_linearizable_keys`) and not part of *clean*.
//!
//! All runs share one set of servers and one run directory: `<measure strategy>/` and
//! `double-delete@<point>-<ms>ms/`, each a normal strategy directory (compare, report).
//! Exit 0 when the recommendation and twice it come out clean, 1 when not, 2 on errors.
//!
//! **Your own service** (strategy `service`, docs/service.md): `--measure-with
//! service@LABEL` measures that service of the workload from the outside, since its steps are
//! not visible: the window is the latency of its reads that missed (completions with source
//! `db`, or every read when the service gives no source; [`windows::miss_latencies`]), an
//! upper bound of its read-to-fill window. The sweep then runs that same service once per
//! point, with `delay_ms` = the point's delay handed to it through the environment variable
//! its `delay_env` names (its double-delete mode), each run a fresh process:
//! `service@LABEL-<point>-<ms>ms/`. `--sweep-with service@OTHER` sweeps another label (e.g.
//! measure the `db-then-delete` mode, sweep the `double-delete` one); the swept service needs
//! `command` and `delay_env`. A service decides itself when it acknowledges a write, so its
//! points are judged as a scheduled second delete (the `--async-second-delete` rule; a
//! service whose write waits for its second delete passes it too when clean). The JSON then
//! adds `"window": "read_miss_latency"`, `"sweep_strategy"` and `"delay_env"`; for the
//! built-in strategies it is exactly as below.
//!
//! `--json` (schema_version 1):
//!
//! ```json
//! {"schema_version": 1, "workload": "tune-delay", "run_dir": "results/...",
//!  "measure_strategy": "db-then-delete",
//!  "fill_window_ms": {"count": 812, "p50": 101.3, "p90": 139.0, "p99": 149.1, "p999": 150.0, "max": 150.2},
//!  "fills_failed": 0,
//!  "rule": {"percentile": 99.9, "factor": 1.5, "margin_ms": 10.0}, "basis_ms": 150.0,
//!  "recommended_delay_ms": 236, "second_delete": "inline",
//!  "sweep": [{"point": "0", "delay_ms": 0, "stale_reads": 31, "window_p99_ms": 2400.0,
//!             "stale_max_ms": 4100.0, "divergent_keys": 2, "non_linearizable_keys": 2, "anomalies": 37,
//!             "write_p50_ms": 1.2, "write_p99_ms": 3.1, "clean": false,
//!             "dir": "results/.../double-delete@0-0ms"}],
//!  "proven": true, "race_shown": true}
//! ```

mod windows;

use crate::checker::{
    divergence, linearizable, monotonic, read_your_writes, stale, Checker, Percentiles,
};
use crate::config::{self, Overrides, RunConfig, StrategyRun};
use crate::run::{self, RunOptions};
use crate::summary::Summary;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;
pub use windows::{fill_windows, miss_latencies, Fills};

/// The strategy the sweep proves the delay with (unless a service is measured, or
/// `--sweep-with`).
pub const SWEEP_STRATEGY: &str = "double-delete";

/// Whether `name` (`NAME` or `NAME@LABEL`) is the strategy `service`.
fn is_service(name: &str) -> bool {
    crate::workload::base_name(name) == crate::strategy::service::REG.name
}

/// What `cachecheck tune-delay` was asked to do.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// The workload file and the command line's overrides of it.
    pub workload: PathBuf,
    pub overrides: Overrides,
    pub run: RunOptions,
    /// The cache-aside strategy whose fills are measured (a `service`: its missed reads).
    pub measure_with: String,
    /// The strategy swept (None: the measured service, else [`SWEEP_STRATEGY`]).
    pub sweep_with: Option<String>,
    pub rule: Rule,
    pub sweep: bool,
    /// The second delete inline (the write acknowledged after it), or scheduled.
    pub inline: bool,
}

/// The recommendation: `p<percentile> × factor + margin_ms`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Rule {
    pub percentile: f64,
    pub factor: f64,
    pub margin_ms: f64,
}

impl TuneOptions {
    /// The strategy the sweep runs at each point.
    pub fn sweep_strategy(&self) -> String {
        match &self.sweep_with {
            Some(s) => s.clone(),
            None if is_service(&self.measure_with) => self.measure_with.clone(),
            None => SWEEP_STRATEGY.into(),
        }
    }

    /// Whether the points are judged with the second delete inline (a service decides itself
    /// when it acknowledges: judged as scheduled, see the module doc).
    fn judged_inline(&self) -> bool {
        self.inline && !is_service(&self.sweep_strategy())
    }
}

impl Rule {
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.percentile > 0.0 && self.percentile <= 100.0,
            "--percentile: must be in (0, 100], e.g. 99.9"
        );
        anyhow::ensure!(
            self.factor.is_finite() && self.factor >= 1.0,
            "--factor: must be at least 1"
        );
        anyhow::ensure!(
            self.margin_ms.is_finite() && self.margin_ms >= 0.0,
            "--margin-ms: must be a non-negative number of ms"
        );
        Ok(())
    }

    /// The fill window at the rule's percentile, in ms.
    pub fn basis_ms(&self, h: &hdrhistogram::Histogram<u64>) -> f64 {
        h.value_at_quantile(self.percentile / 100.0) as f64 / 1e6
    }

    /// The recommended delay in whole ms for a fill-window histogram.
    pub fn recommend(&self, h: &hdrhistogram::Histogram<u64>) -> u64 {
        (self.basis_ms(h) * self.factor + self.margin_ms).ceil() as u64
    }
}

/// One point of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub point: String,
    pub delay_ms: u64,
    pub stale_reads: u64,
    pub window_p99_ms: f64,
    pub stale_max_ms: f64,
    pub divergent_keys: u64,
    /// Keys the `linearizable` property found violated (see the module doc: not in `clean`).
    pub non_linearizable_keys: u64,
    /// Every anomaly counted, stale reads and non-linearizable keys included.
    pub anomalies: u64,
    pub write_p50_ms: f64,
    pub write_p99_ms: f64,
    pub clean: bool,
    pub dir: String,
}

/// The outcome of `tune-delay`.
#[derive(Debug, Clone, Serialize)]
pub struct Tuning {
    pub schema_version: u32,
    pub workload: String,
    pub run_dir: String,
    pub measure_strategy: String,
    pub fill_window_ms: Percentiles,
    pub fills_failed: u64,
    pub rule: Rule,
    /// The fill window at the rule's percentile (ms).
    pub basis_ms: f64,
    pub recommended_delay_ms: u64,
    pub second_delete: &'static str,
    pub sweep: Vec<Point>,
    /// The recommendation and twice it came out clean.
    pub proven: bool,
    /// A delay below the fill time (0 ms) did not come out clean: the workload provoked the race.
    pub race_shown: bool,
    /// With a service measured: `"read_miss_latency"`, what `fill_window_ms` holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<&'static str>,
    /// The strategy swept, when it is not [`SWEEP_STRATEGY`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_strategy: Option<String>,
    /// With a service swept: the environment variable that carried each point's delay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_env: Option<String>,
}

/// The sweep's delays: 0, p50, p99, the recommendation, twice it.
pub fn sweep_delays(p: &Percentiles, recommended: u64) -> Vec<(String, u64)> {
    vec![
        ("0".into(), 0),
        ("p50".into(), p.p50.ceil() as u64),
        ("p99".into(), p.p99.ceil() as u64),
        ("recommended".into(), recommended),
        ("2x".into(), recommended * 2),
    ]
}

fn sweep_runs(
    w: &RunConfig,
    o: &TuneOptions,
    delays: &[(String, u64)],
) -> Result<Vec<StrategyRun>> {
    delays
        .iter()
        .map(|(point, ms)| {
            let sweep = o.sweep_strategy();
            let mut extra = toml::Table::new();
            // A service takes `delay_ms` through its `delay_env`; its acknowledgement is its own.
            extra.insert("delay_ms".into(), toml::Value::Integer(*ms as i64));
            if !is_service(&sweep) {
                extra.insert("inline".into(), toml::Value::Boolean(o.inline));
            }
            let mut r = w
                .strategy_run_with(&sweep, &extra)
                .map_err(|e| anyhow::anyhow!("{}: {e}", w.path.display()))?;
            // The sweep judges delays itself; the workload's expectations would fail on purpose.
            r.common.expect.clear();
            r.name = sweep_name(&sweep, point, *ms);
            Ok(r)
        })
        .collect()
}

/// The name (and result directory) of a sweep point: `double-delete@p99-150ms`, or for a
/// labelled strategy `service@double-delete-p99-150ms`.
pub fn sweep_name(strategy: &str, point: &str, ms: u64) -> String {
    if strategy.contains('@') {
        format!("{strategy}-{point}-{ms}ms")
    } else {
        format!("{strategy}@{point}-{ms}ms")
    }
}

/// The properties that reads before an asynchronous second delete break by definition.
static DELAYED_READS: [&Checker; 3] = [
    &stale::CHECKER,
    &monotonic::CHECKER,
    &read_your_writes::CHECKER,
];

/// What the double delete does not claim at any delay (see the module doc).
static NOT_CLAIMED: &Checker = &linearizable::CHECKER;

/// Whether a sweep point is clean (see the module doc).
fn point(point: &str, delay_ms: u64, s: &Summary, dir: &Path, o: &TuneOptions) -> Point {
    let c = &s.check;
    let a = &c.anomalies;
    let stale = a.get(stale::CHECKER.name);
    let total = a.total();
    let non_linearizable = a.get(NOT_CLAIMED.name);
    let clean = if o.judged_inline() {
        total == non_linearizable
    } else {
        // Reads before an asynchronous second delete are stale by definition, and may then
        // break the session guarantees too; anything else is an anomaly.
        let explained: u64 =
            DELAYED_READS.iter().map(|p| a.get(p.name)).sum::<u64>() + non_linearizable;
        total == explained
            && (stale == 0 || c.staleness.time_ms.max <= delay_ms as f64 + o.rule.margin_ms)
    };
    Point {
        point: point.into(),
        delay_ms,
        stale_reads: stale,
        window_p99_ms: c.inconsistency_window.ms.p99,
        stale_max_ms: c.staleness.time_ms.max,
        divergent_keys: a.get(divergence::CHECKER.name),
        non_linearizable_keys: non_linearizable,
        anomalies: total,
        write_p50_ms: c.latency_ms.write.p50,
        write_p99_ms: c.latency_ms.write.p99,
        clean,
        dir: dir.display().to_string(),
    }
}

/// Validates everything that can be validated before a server starts: the run's config, with
/// the steps traced (the fills' windows are internal steps) and the measured strategy as the
/// only one planned.
pub fn resolve(o: &TuneOptions) -> Result<RunConfig> {
    o.rule.validate()?;
    let overrides = Overrides {
        trace_steps: Some(true),
        ..o.overrides.clone()
    };
    let mut w = config::load(&o.workload, &overrides)?;
    let measure = w
        .strategy_run(&o.measure_with)
        .map_err(|e| anyhow::anyhow!("--measure-with: {e}"))?;
    w.strategies = vec![measure];
    if o.sweep {
        let sweep = o.sweep_strategy();
        if is_service(&sweep) {
            let written = w
                .strategy_run(&sweep)
                .map_err(|e| anyhow::anyhow!("--sweep-with: {e}"))?
                .written;
            anyhow::ensure!(
                written.get("command").is_some() && written.get("delay_env").is_some(),
                "{}: the sweep runs `{sweep}` with each point's delay, which needs its `command` and `delay_env` (fix: set delay_env = \"NAME\" under [strategy.\"{sweep}\"], --sweep-with a label that has it, or --no-sweep)",
                w.path.display()
            );
        } else {
            let base = crate::workload::base_name(&sweep);
            anyhow::ensure!(
                base == SWEEP_STRATEGY,
                "--sweep-with {sweep}: the sweep needs `{SWEEP_STRATEGY}` or a `service` label with `delay_env` (fix: --sweep-with {SWEEP_STRATEGY})"
            );
            crate::strategy::lookup(SWEEP_STRATEGY).map_err(|e| {
                anyhow::anyhow!(
                    "the sweep needs `{SWEEP_STRATEGY}`: {e} (fix: --no-sweep to measure only)"
                )
            })?;
        }
        sweep_runs(&w, o, &[("0".into(), 0)])?;
    }
    Ok(w)
}

/// Measures, recommends and sweeps; see the module doc.
/// `w` is [`resolve`]'s configuration.
pub async fn tune(o: &TuneOptions, w: RunConfig, shutdown: CancellationToken) -> Result<Tuning> {
    let measure_dir = w.strategies[0].name.clone();
    // The measurement, the recommendation and the sweep's delays, once measured.
    type Measured = (Fills, u64, Vec<(String, u64)>);
    let mut measured: Option<Measured> = None;
    let mut plan = |w: &RunConfig,
                    _: &[Summary],
                    run_dir: &Path,
                    _: &crate::infra::Endpoints|
     -> Result<Vec<StrategyRun>> {
        if measured.is_some() {
            return Ok(Vec::new());
        }
        let history = crate::history::files::history_path(&run_dir.join(&measure_dir));
        let fills = if is_service(&measure_dir) {
            miss_latencies(&history)?
        } else {
            fill_windows(&history)?
        };
        anyhow::ensure!(
            !fills.hist.is_empty(),
            "{}: no {} was recorded, nothing to measure (fix: a workload with writes and reads of the same keys, read_fraction < 1)",
            w.path.display(),
            if is_service(&measure_dir) { "read that missed the cache" } else { "cache fill" }
        );
        let rec = o.rule.recommend(&fills.hist);
        let delays = sweep_delays(&fills.percentiles(), rec);
        let longest = delays.iter().map(|d| d.1).max().unwrap_or(0);
        anyhow::ensure!(
            !o.sweep || !o.judged_inline() || longest < w.op_timeout_ms,
            "{}: the sweep's longest delay ({longest} ms) is not below op_timeout_ms ({}): inline second deletes would time out (fix: raise op_timeout_ms above {longest}, or --async-second-delete)",
            w.path.display(),
            w.op_timeout_ms
        );
        let runs = if o.sweep {
            sweep_runs(w, o, &delays)?
        } else {
            Vec::new()
        };
        measured = Some((fills, rec, delays));
        Ok(runs)
    };
    let outcome = run::run_planned(&w, &o.run, shutdown, &mut plan).await?;
    let (fills, rec, delays) = measured.context("interrupted before the measurement finished")?;
    let mut sweep = Vec::new();
    let swept = o.sweep_strategy();
    for ((name, ms), s) in delays.iter().zip(outcome.summaries.iter().skip(1)) {
        let dir: PathBuf = outcome.run_dir.join(sweep_name(&swept, name, *ms));
        sweep.push(point(name, *ms, s, &dir, o));
    }
    let clean = |p: &str| sweep.iter().find(|x| x.point == p).map(|x| x.clean);
    Ok(Tuning {
        schema_version: 1,
        workload: w.name.clone(),
        run_dir: outcome.run_dir.display().to_string(),
        measure_strategy: o.measure_with.clone(),
        fill_window_ms: fills.percentiles(),
        fills_failed: fills.failed,
        rule: o.rule,
        basis_ms: o.rule.basis_ms(&fills.hist),
        recommended_delay_ms: rec,
        second_delete: if o.judged_inline() {
            "inline"
        } else {
            "scheduled"
        },
        proven: clean("recommended") == Some(true) && clean("2x") == Some(true),
        race_shown: clean("0") == Some(false),
        sweep,
        window: is_service(&o.measure_with).then_some("read_miss_latency"),
        delay_env: is_service(&swept)
            .then(|| {
                let run = w.strategy_run(&swept).ok()?;
                run.written.get("delay_env")?.as_str().map(String::from)
            })
            .flatten(),
        sweep_strategy: (swept != SWEEP_STRATEGY).then_some(swept),
    })
}

/// The human-readable result.
pub fn text(t: &Tuning) -> String {
    let p = &t.fill_window_ms;
    let r = &t.rule;
    let what = match t.window {
        Some(_) => format!(
            "read-miss latency (read sent -> answered, reads not served by the cache), {} reads",
            p.count
        ),
        None => format!(
            "fill window (database read start -> cache fill acknowledged), {} fills",
            p.count
        ),
    };
    let mut out = format!(
        "{} of {} ({} failed or unknown):\n  \
         p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  p99.9 {:.1} ms  max {:.1} ms\n\
         recommended delay_ms = {} (p{} {:.1} ms x {} + {} ms)\n",
        what,
        t.measure_strategy,
        t.fills_failed,
        p.p50,
        p.p90,
        p.p99,
        p.p999,
        p.max,
        t.recommended_delay_ms,
        r.percentile,
        t.basis_ms,
        r.factor,
        r.margin_ms,
    );
    if t.sweep.is_empty() {
        return out;
    }
    out.push_str(&match (&t.sweep_strategy, &t.delay_env) {
        (Some(s), Some(var)) => format!(
            "sweep: {s} with {var} = each point's delay (judged as a {} second delete)\n",
            t.second_delete
        ),
        (s, _) => format!(
            "sweep: {} with the second delete {}\n",
            s.as_deref().unwrap_or(SWEEP_STRATEGY),
            t.second_delete
        ),
    });
    let mut rows = vec![[
        "delay",
        "ms",
        "stale reads",
        "window p99",
        "stale max",
        "divergent",
        "anomalies",
        "write p50",
        "write p99",
        "clean",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect::<Vec<_>>()];
    for x in &t.sweep {
        rows.push(vec![
            x.point.clone(),
            x.delay_ms.to_string(),
            x.stale_reads.to_string(),
            format!("{:.1}ms", x.window_p99_ms),
            format!("{:.1}ms", x.stale_max_ms),
            x.divergent_keys.to_string(),
            x.anomalies.to_string(),
            format!("{:.1}ms", x.write_p50_ms),
            format!("{:.1}ms", x.write_p99_ms),
            if x.clean { "yes" } else { "NO" }.into(),
        ]);
    }
    out.push_str(&crate::output::grid(&rows, &[0, 9]));
    out.push_str(if t.proven {
        "proven: the recommended delay and twice it came out clean\n"
    } else {
        "NOT proven: the recommended delay or twice it did not come out clean (raise --factor or --percentile)\n"
    });
    if !t.race_shown {
        out.push_str("note: a 0 ms delay came out clean too: the workload did not provoke the race (slow the fills, e.g. latency on cache-fill)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommends_the_rule_and_sweeps_around_it() {
        let mut h =
            hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000_000, 3).unwrap();
        for i in 1..=1000u64 {
            h.record(i * 200_000).unwrap(); // 0.2 .. 200 ms
        }
        let rule = Rule {
            percentile: 99.9,
            factor: 1.5,
            margin_ms: 10.0,
        };
        let basis = rule.basis_ms(&h);
        assert!((basis - 199.8).abs() < 0.3, "{basis}");
        let rec = rule.recommend(&h);
        assert_eq!(rec, (basis * 1.5 + 10.0).ceil() as u64);
        let fills = Fills { hist: h, failed: 0 };
        let d = sweep_delays(&fills.percentiles(), rec);
        let names: Vec<&str> = d.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["0", "p50", "p99", "recommended", "2x"]);
        assert_eq!(d[0].1, 0);
        assert_eq!(d[1].1, 101);
        assert_eq!(d[4].1, 2 * rec);
        assert_eq!(
            sweep_name(SWEEP_STRATEGY, "p99", 199),
            "double-delete@p99-199ms"
        );
        assert_eq!(sweep_name("service@dd", "2x", 40), "service@dd-2x-40ms");
        assert!(Rule {
            factor: 0.5,
            ..rule
        }
        .validate()
        .is_err());
        assert!(Rule {
            percentile: 0.0,
            ..rule
        }
        .validate()
        .is_err());
    }
}
