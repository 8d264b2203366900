//! What a run shows while it goes.
//!
//! * A terminal (stdout and stderr both TTYs, no `--quiet`): one indicatif bar per strategy on
//!   stderr with the elapsed time, operations started and ops/s (from the clients' shared
//!   counter, read four times a second). Anomalies need the database's ground truth, which is
//!   read after quiescence: the bar says so while running and shows the counts when checked.
//! * Otherwise (CI logs, pipes): plain, stable lines on stderr, one when a strategy starts and
//!   one when it has been checked, no control characters.
//! * `--quiet`: nothing; only the final table on stdout.

use crate::config::RunConfig;
use crate::output;
use crate::summary::Summary;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quiet,
    Plain,
    Bars,
}

impl Mode {
    /// Bars only on a terminal; plain lines when stdout or stderr is not one.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Quiet
        } else if std::io::stdout().is_terminal() && std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Plain
        }
    }
}

/// The progress display of one run.
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Self::with_mode(Mode::detect(quiet))
    }

    pub fn with_mode(mode: Mode) -> Progress {
        let multi = MultiProgress::with_draw_target(if mode == Mode::Bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Progress { mode, multi }
    }

    /// A line of information (server start-up and the like).
    pub fn note(&self, line: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("{line}"),
            Mode::Bars => {
                let _ = self.multi.println(line);
            }
        }
    }

    /// Starts the display of one strategy's run; `started` counts operations started.
    pub fn strategy(&self, label: &str, f: &RunConfig, started: Arc<AtomicU64>) -> StrategyBar {
        let bar = match self.mode {
            Mode::Quiet => None,
            Mode::Plain => {
                let what = if f.ops > 0 {
                    format!("{} ops", f.ops)
                } else {
                    format!("{} s", f.duration_s)
                };
                eprintln!("{label}: running ({what}, {} clients)", f.clients);
                None
            }
            Mode::Bars => Some(self.bar(label, f, started)),
        };
        StrategyBar {
            mode: self.mode,
            bar,
        }
    }

    fn bar(&self, label: &str, f: &RunConfig, started: Arc<AtomicU64>) -> Live {
        let budget = (f.ops > 0).then_some(f.ops);
        let len = budget.unwrap_or((f.duration_s * 1000.0) as u64).max(1);
        let pb = self.multi.add(ProgressBar::new(len));
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix:>18.bold} [{elapsed_precise}] {bar:24.cyan/blue} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        pb.set_prefix(label.to_string());
        let t0 = Instant::now();
        let p = pb.clone();
        let ticker = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tick.tick().await;
                let n = started.load(Ordering::Relaxed);
                let secs = t0.elapsed().as_secs_f64().max(1e-3);
                p.set_position(match budget {
                    Some(_) => n,
                    None => t0.elapsed().as_millis() as u64,
                });
                p.set_message(format!(
                    "{n} ops, {:.0} ops/s · anomalies: counted when checked",
                    n as f64 / secs
                ));
            }
        });
        Live { pb, ticker }
    }
}

struct Live {
    pb: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

/// The display of one strategy's run.
pub struct StrategyBar {
    mode: Mode,
    bar: Option<Live>,
}

impl StrategyBar {
    /// The clients stopped: what happens now (quiescence, checking).
    pub fn stage(&self, what: &str) {
        if let Some(l) = &self.bar {
            l.ticker.abort();
            l.pb.set_position(l.pb.length().unwrap_or(0));
            l.pb.set_message(what.to_string());
        }
    }

    /// The strategy has been checked: its figures, and why it failed if it did.
    pub fn finish(self, s: &Summary) {
        let line = done_line(s);
        match (&self.mode, &self.bar) {
            (Mode::Bars, Some(l)) => {
                l.ticker.abort();
                l.pb.finish_with_message(line);
                let fails = output::failure_lines(s);
                if !fails.is_empty() {
                    l.pb.suspend(|| eprint!("{fails}"));
                }
            }
            (Mode::Plain, _) => {
                eprint!("{}", output::failure_lines(s));
                eprintln!("{}: {line}", s.strategy);
            }
            _ => {}
        }
    }
}

impl Drop for StrategyBar {
    fn drop(&mut self) {
        if let Some(l) = &self.bar {
            l.ticker.abort();
            if !l.pb.is_finished() {
                l.pb.abandon();
            }
        }
    }
}

/// `4100 ops/s, 3 stale reads, 0 divergent keys -> FAIL (anomalies)`
pub fn done_line(s: &Summary) -> String {
    format!(
        "{:.0} ops/s, {} stale reads, {} divergent keys -> {}",
        s.check.throughput_ops_s,
        s.check.anomalies.get(crate::checker::stale::CHECKER.name),
        s.check
            .anomalies
            .get(crate::checker::divergence::CHECKER.name),
        output::result_cell(s)
    )
}

/// The progress of a whole suite (`cachecheck suite`): a line before each run with the runs
/// done out of the total and the time left, and one after it with its result. On a terminal
/// the lines are bold and the runs' own bars go between them; elsewhere they are plain and
/// stable (`suite: run 3/24: ...`); with `--quiet`, nothing.
///
/// The time left starts from the runs' planned lengths and is scaled, as runs finish, by how
/// long the finished ones took against their plan.
pub struct SuiteProgress {
    mode: Mode,
    estimates: Vec<f64>,
    t0: Instant,
    /// Planned seconds of the finished runs.
    planned_done: f64,
}

impl SuiteProgress {
    /// `estimates`: each planned run's expected length in seconds.
    pub fn new(quiet: bool, estimates: Vec<f64>) -> SuiteProgress {
        SuiteProgress {
            mode: Mode::detect(quiet),
            estimates,
            t0: Instant::now(),
            planned_done: 0.0,
        }
    }

    /// Seconds left before run `next` (0-based) starts.
    pub fn left_s(&self, next: usize) -> f64 {
        let planned_left: f64 = self.estimates.iter().skip(next).sum();
        let elapsed = self.t0.elapsed().as_secs_f64();
        if self.planned_done > 0.0 {
            planned_left * elapsed / self.planned_done
        } else {
            planned_left
        }
    }

    /// Run `i` (0-based) starts.
    pub fn start(&self, i: usize, what: &str) {
        let line = format!(
            "suite: run {}/{}: {what} · {i} done, about {} left",
            i + 1,
            self.estimates.len(),
            clock(self.left_s(i))
        );
        self.print(&line);
    }

    /// Run `i` (0-based) has been checked.
    pub fn done(&mut self, i: usize, summaries: &[Summary]) {
        self.planned_done += self.estimates.get(i).copied().unwrap_or(0.0);
        let failed = summaries.iter().filter(|s| !s.valid).count();
        let line = format!(
            "suite: {}/{} runs done in {} ({} of {} strategies failed an expectation), about {} left",
            i + 1,
            self.estimates.len(),
            clock(self.t0.elapsed().as_secs_f64()),
            failed,
            summaries.len(),
            clock(self.left_s(i + 1))
        );
        self.print(&line);
    }

    fn print(&self, line: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("{line}"),
            Mode::Bars => eprintln!("\x1b[1m{line}\x1b[0m"),
        }
    }
}

/// `1h02m`, `4m10s`, `35s`.
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
