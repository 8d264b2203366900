//! The command line: clap-derived arguments, one function per subcommand. Exit codes: 0 all
//! expectations hold, 1 an expectation failed, 2 usage or infrastructure error.

use crate::check_cmd;
use crate::compare;
use crate::config::{self, Overrides};
use crate::infra::InfraKind;
use crate::report;
use crate::run::{self, RunOptions};
use crate::runtime::{runtime, shutdown_on_signals};
use crate::tune::{self, Rule, TuneOptions};
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

pub use crate::exit::{EXIT_ERROR, EXIT_FAILED, EXIT_OK};

#[derive(Debug, Parser)]
#[command(
    name = "cachecheck",
    version,
    about = "A Jepsen-style consistency checker for a cache (Redis) in front of a database (MySQL/MariaDB)",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workload against real servers and check every strategy's history.
    Run(RunArgs),
    /// Re-check a result directory (or one you built by hand) and print the same figures.
    Check(CheckArgs),
    /// A run's course over time: ops/s, fail/info, harness memory and fds per interval.
    Timeline(TimelineArgs),
    /// List the strategies.
    Strategies,
    /// Compare strategies side by side from any number of run or strategy directories.
    Compare(CompareArgs),
    /// Write one self-contained HTML report (charts, anomaly timelines) of a result directory.
    Report(ReportArgs),
    /// Write a result's history as a Jepsen EDN history (for Knossos, or check --format edn).
    Export(ExportArgs),
    /// Measure the read path a double delete must outwait, recommend a delay, prove it by a sweep.
    TuneDelay(TuneArgs),
    /// Serve Toxiproxy's REST API and proxies (the built-in fault proxy).
    ProxyServer(ProxyServerArgs),
    /// Measure the checker (synthetic history) or the harness (recording on/off, redis-benchmark).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Build, list or remove the local Docker images of --infra docker (no registry needed).
    #[command(subcommand)]
    Images(crate::images_cmd::ImagesCommand),
    /// Run workloads (default workloads/races/) N times each and print the strategy × workload
    /// matrix: anomalies (median), expectation verdicts, agreement over the runs.
    Suite(SuiteArgs),
}

#[derive(Debug, clap::Args)]
pub struct SuiteArgs {
    /// Workload files or directories of them (default: workloads/races/).
    #[arg(value_name = "WORKLOAD|DIR")]
    pub workloads: Vec<PathBuf>,
    /// Run this strategy in every workload (repeatable; `all`: every registered strategy);
    /// replaces each workload's own list.
    #[arg(long = "strategy", value_name = "NAME")]
    pub strategies: Vec<String>,
    /// Runs per workload, each with its own seed (the workload's seed, +1, +2, ...).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub repeat: u32,
    /// Where the suite's directory goes (with every run's results and matrix.json).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Output format of the matrix on stdout (matrix.json, .md and .html are always written).
    #[arg(long, value_enum, default_value = "table")]
    pub format: crate::suite::Format,
    /// Base seed (overrides the workloads'; repeat i runs with seed + i - 1).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run length per strategy in seconds (overrides the workloads').
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Concurrent clients (overrides the workloads').
    #[arg(long, value_name = "N")]
    pub clients: Option<u32>,
    /// Where the servers run (overrides the workloads' [infra] kind).
    #[arg(long, value_enum)]
    pub infra: Option<InfraKind>,
    /// Only the matrix: no progress lines or bars.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Generate a history of N operations with known anomalies, check it from the files,
    /// assert the counts, report events/s, wall time and peak memory per operation.
    Checker(BenchCheckerArgs),
    /// Run a read-heavy workload with history recording on and off, and redis-benchmark GET
    /// against the same Redis: throughputs and ratios.
    Harness(BenchHarnessArgs),
    /// Time the linearizability search on the published data sets (Porcupine's, Knossos') and
    /// the linear path on a large synthetic history (and on result directories).
    Linearizability(BenchLinArgs),
}

#[derive(Debug, clap::Args)]
pub struct BenchLinArgs {
    /// The directory holding porcupine/ and knossos/ data.
    #[arg(long, value_name = "DIR", default_value = "tests/fixtures")]
    pub data: PathBuf,
    /// Skip the data sets (only the linear path).
    #[arg(long)]
    pub no_data: bool,
    /// Operations of the synthetic history for the linear path (0 to skip).
    #[arg(long, value_name = "N", default_value_t = 10_000_000)]
    pub ops: u64,
    /// Rounds per data set (the median is reported).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub rounds: u32,
    /// Also the linear path's verdicts on these run or strategy directories (repeatable).
    #[arg(long = "results", value_name = "DIR")]
    pub results: Vec<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct BenchHarnessArgs {
    /// The workload file (TOML), e.g. workloads/bench.toml (its first strategy is run).
    pub workload: PathBuf,
    /// Seconds per run (overrides the workload's).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Requests of redis-benchmark.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub requests: u64,
    /// Pairs of runs (recording on and off, alternating on-off, off-on, ...); the medians are
    /// reported.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub rounds: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Record the history compressed (history.jsonl.zst), as `run --compress`.
    #[arg(long)]
    pub compress: bool,
}

#[derive(Debug, clap::Args)]
pub struct BenchCheckerArgs {
    /// Client operations per synthetic history (default: 1000000).
    #[arg(long, value_name = "N")]
    pub ops: Option<u64>,
    /// Measure this history shape (repeatable; default: every shape).
    #[arg(long = "shape", value_name = "NAME")]
    pub shapes: Vec<String>,
    /// Keys (default: the shape's).
    #[arg(long, value_name = "K")]
    pub keys: Option<u64>,
    /// Threads of the multi-threaded check (default: the cores available).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Also measure every shape at 10 N operations: time(10 N) / time(N).
    #[arg(long)]
    pub linearity: bool,
    /// Measure the `check` of this cachecheck binary (e.g. an older build) instead of this one.
    #[arg(long, value_name = "BIN")]
    pub check_with: Option<PathBuf>,
    /// Also measure this strategy directory of a real run (repeatable).
    #[arg(long = "history-dir", value_name = "DIR")]
    pub history_dirs: Vec<PathBuf>,
    /// Measurements per history; the medians are reported (default: 1).
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// Seed of the generator.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Write the run directory here and keep it (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Run directories, strategy directories or summary.json files (any number, any runs).
    #[arg(required = true, value_name = "RESULT")]
    pub results: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: compare::Format,
    /// The table's layout: strategies as rows (`--transpose`, `--transpose=always`), as columns
    /// (`--transpose=never`),
    /// or rows on a terminal the columns do not fit or past 6 strategies (`auto`).
    #[arg(long, value_enum, value_name = "WHEN", num_args = 0..=1, require_equals = true, default_value = "auto", default_missing_value = "always")]
    pub transpose: compare::Layout,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run directory or a strategy directory, or a foreign history file.
    #[arg(value_name = "RESULT")]
    pub result: PathBuf,
    /// Where to write the HTML (default: RESULT/report.html; FILE.html for a history file).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// A foreign history file (Jepsen EDN, Porcupine's formats) instead of a result directory.
    #[command(flatten)]
    pub foreign: crate::foreign_cmd::ForeignArgs,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A strategy directory or a run directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "edn")]
    pub format: crate::export_cmd::ExportFormat,
    /// Where to write (default: DIR's history.edn per strategy; `-`: standard output; for a run
    /// directory, a directory for one STRATEGY.edn each).
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// The workload file (TOML), e.g. workloads/tune-delay.toml.
    pub workload: PathBuf,
    /// The cache-aside strategy whose read path (cache fills) is measured; a `service@LABEL`
    /// of the workload: its reads that missed, from the outside.
    #[arg(long, value_name = "NAME", default_value = "db-then-delete")]
    pub measure_with: String,
    /// The strategy swept: `double-delete` (default), or a `service@LABEL` with `delay_env`
    /// (default when measuring a service: that service).
    #[arg(long, value_name = "NAME")]
    pub sweep_with: Option<String>,
    /// Recommendation: this percentile of the fill window...
    #[arg(long, default_value_t = 99.9)]
    pub percentile: f64,
    /// ...times this factor...
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// ...plus this margin (ms).
    #[arg(long, value_name = "MS", default_value_t = 10.0)]
    pub margin_ms: f64,
    /// Measure and recommend only; do not run the double-delete sweep.
    #[arg(long)]
    pub no_sweep: bool,
    /// Sweep double-delete with its second delete scheduled after the write is acknowledged
    /// (the default sweeps `inline = true`: the write waits for the second delete).
    #[arg(long)]
    pub async_second_delete: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Where result directories go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Seed of every random choice (overrides the workload's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run length of each run in seconds (overrides the workload's).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Where the servers run (overrides the workload's [infra] kind).
    #[arg(long, value_enum)]
    pub infra: Option<InfraKind>,
    /// No progress display.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct TimelineArgs {
    /// A strategy or run directory.
    pub dir: PathBuf,
    /// Interval length in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub every: f64,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ProxyServerArgs {
    /// Address of the REST API.
    #[arg(long, default_value = "127.0.0.1:8474")]
    pub listen: std::net::SocketAddr,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The workload file (TOML), e.g. workloads/smoke.toml.
    pub workload: PathBuf,
    /// Run this strategy (repeatable); replaces the workload's list.
    #[arg(long = "strategy", value_name = "NAME")]
    pub strategies: Vec<String>,
    /// Where result directories go.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Seed of every random choice (overrides the workload's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run length per strategy in seconds (overrides the workload's).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Concurrent clients (overrides the workload's).
    #[arg(long, value_name = "N")]
    pub clients: Option<u32>,
    /// Where the servers run (overrides the workload's [infra] kind).
    #[arg(long, value_enum)]
    pub infra: Option<InfraKind>,
    /// The Redis topology (overrides the workload's [infra] redis), e.g. `--redis sentinel`:
    /// a primary, `redis_replicas` replicas and three sentinels (local infra).
    #[arg(long, value_enum, value_name = "TOPOLOGY")]
    pub redis: Option<crate::infra::sentinel::RedisTopology>,
    /// Docker: leave the stack running after the run and print how to stop it.
    #[arg(long)]
    pub keep: bool,
    /// External database, e.g. mysql://root@127.0.0.1:3306/cachecheck (implies --infra
    /// external; the schema is dropped afterwards only if cachecheck created it).
    #[arg(long, value_name = "URL")]
    pub db_url: Option<String>,
    /// External Redis, e.g. redis://127.0.0.1:6379 (implies --infra external).
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
    /// External Toxiproxy REST API, e.g. http://127.0.0.1:8474 (implies --infra external).
    #[arg(long, value_name = "URL")]
    pub toxiproxy_url: Option<String>,
    /// Plain output: only the final table (no progress lines or bars).
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write the expectations as JUnit XML to FILE (one test case per strategy and
    /// expectation).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write each history compressed, history.jsonl.zst (sets the workload's `compress`).
    #[arg(long)]
    pub compress: bool,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A strategy directory (history.jsonl, commits.jsonl, final.jsonl) or a run directory;
    /// or a foreign history file (see --format).
    pub dir: PathBuf,
    /// Print the summary as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Write summary.json into the directory (otherwise nothing is written).
    #[arg(long)]
    pub write: bool,
    /// An expectation to check, e.g. "stale_reads == 0" (repeatable; adds to the stored ones).
    #[arg(long = "expect", value_name = "EXPR")]
    pub expect: Vec<String>,
    /// Also write the expectations as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// A foreign history (Jepsen EDN, Porcupine's formats) instead of a result directory.
    #[command(flatten)]
    pub foreign: crate::foreign_cmd::ForeignArgs,
    /// Threads of the check (default: the cores available; 1: one thread).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print the check's own speed on stderr: events, seconds, events/s, peak memory.
    #[arg(long)]
    pub stats: bool,
}

/// Parses arguments and runs the command. Errors print as one line with exit code 2.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("cachecheck: error: {msg}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CACHECHECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(a) => cmd_run(a),
        Command::Check(a) => match crate::foreign_cmd::check(
            &a.dir,
            &a.foreign,
            a.json,
            a.write || !a.expect.is_empty() || a.junit.is_some(),
        )? {
            Some(code) => Ok(code),
            None => check_cmd::run(
                &a.dir,
                a.json,
                a.write,
                &a.expect,
                a.junit.as_deref(),
                check_cmd::Speed {
                    threads: a.threads,
                    stats: a.stats,
                },
            ),
        },
        Command::Compare(a) => compare::run_with(&a.results, a.format, a.transpose),
        Command::Report(a) => report::run_with(&a.result, a.output.as_deref(), &a.foreign),
        Command::Export(a) => crate::export_cmd::run(&a.dir, a.format, a.output.as_deref()),
        Command::TuneDelay(a) => cmd_tune(a),
        Command::Timeline(a) => crate::throughput::run(&a.dir, a.every, a.json),
        Command::ProxyServer(a) => {
            crate::proxy_server::run_cli(a.listen)?;
            Ok(EXIT_OK)
        }
        Command::Bench(BenchCommand::Checker(a)) => {
            crate::bench::checker::run(&crate::bench::checker::CheckerBench {
                ops: a.ops,
                shapes: a.shapes,
                keys: a.keys,
                seed: a.seed,
                dir: a.dir,
                json: a.json,
                threads: a.threads,
                linearity: a.linearity,
                check_with: a.check_with,
                history_dirs: a.history_dirs,
                rounds: a.rounds,
            })
        }
        Command::Bench(BenchCommand::Harness(a)) => {
            crate::bench::harness::run(&crate::bench::harness::HarnessBench {
                workload: a.workload,
                duration_s: a.duration,
                requests: a.requests,
                rounds: a.rounds,
                json: a.json,
                compress: a.compress,
            })
        }
        Command::Bench(BenchCommand::Linearizability(a)) => {
            crate::bench::linearizability::run(&crate::bench::linearizability::LinBench {
                data: (!a.no_data).then_some(a.data),
                ops: a.ops,
                rounds: a.rounds,
                results: a.results,
                json: a.json,
            })
        }
        Command::Images(c) => crate::images_cmd::run(c),
        Command::Suite(a) => cmd_suite(a),
        Command::Strategies => {
            for r in crate::strategy::REGISTRY {
                println!("{:<22} {}", r.name, r.about);
            }
            Ok(EXIT_OK)
        }
    }
}

fn cmd_run(a: RunArgs) -> Result<u8> {
    let overrides = Overrides {
        strategies: a.strategies,
        seed: a.seed,
        duration_s: a.duration,
        clients: a.clients,
        infra: a.infra,
        redis: a.redis,
        keep: a.keep,
        db_url: a.db_url,
        redis_url: a.redis_url,
        toxiproxy_url: a.toxiproxy_url,
        compress: a.compress,
        ..Default::default()
    };
    // The whole configuration, validated once, before any server starts.
    let cfg = config::load(&a.workload, &overrides)?;
    let opts = RunOptions {
        out: a.out,
        quiet: a.quiet,
        no_history: false,
    };
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        let shutdown = shutdown_on_signals();
        run::run(&cfg, &opts, shutdown).await
    })?;
    print!("{}", crate::output::table(&outcome.summaries));
    println!("results: {}", outcome.run_dir.display());
    if let Some(path) = &a.junit {
        crate::junit::write(path, &outcome.summaries)?;
    }
    if outcome.interrupted {
        eprintln!(
            "cachecheck: interrupted: partial results in {} (marked incomplete)",
            outcome.run_dir.display()
        );
        return Ok(EXIT_ERROR);
    }
    Ok(if outcome.all_valid() {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

fn cmd_tune(a: TuneArgs) -> Result<u8> {
    let opts = TuneOptions {
        workload: a.workload,
        overrides: Overrides {
            seed: a.seed,
            duration_s: a.duration,
            infra: a.infra,
            ..Default::default()
        },
        run: RunOptions {
            out: a.out,
            quiet: a.quiet,
            ..Default::default()
        },
        measure_with: a.measure_with,
        sweep_with: a.sweep_with,
        rule: Rule {
            percentile: a.percentile,
            factor: a.factor,
            margin_ms: a.margin_ms,
        },
        sweep: !a.no_sweep,
        inline: !a.async_second_delete,
    };
    // Validate everything before any server starts.
    let cfg = tune::resolve(&opts)?;
    let rt = runtime()?;
    let t = rt.block_on(async {
        let shutdown = shutdown_on_signals();
        tune::tune(&opts, cfg, shutdown).await
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&t)?);
    } else {
        print!("{}", tune::text(&t));
        println!("results: {}", t.run_dir);
    }
    Ok(if t.sweep.is_empty() || t.proven {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}

fn cmd_suite(a: SuiteArgs) -> Result<u8> {
    let overrides = Overrides {
        strategies: crate::suite::plan::strategies(&a.strategies),
        seed: a.seed,
        duration_s: a.duration,
        clients: a.clients,
        infra: a.infra,
        ..Default::default()
    };
    // Every run's configuration, validated before any server starts.
    let plan = crate::suite::plan::plan(&a.workloads, a.repeat, &overrides)?;
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        let shutdown = shutdown_on_signals();
        crate::suite::suite(&plan, &a.out, a.quiet, shutdown).await
    })?;
    print!(
        "{}",
        crate::suite::render::render(&outcome.matrix, a.format)
    );
    let dir = outcome.dir.display();
    let files = format!("results: {dir} (matrix.json, matrix.md, matrix.html)");
    if a.format == crate::suite::Format::Table {
        println!("{files}");
    } else {
        eprintln!("{files}");
    }
    if let Some(e) = outcome.error {
        return Err(e.context(format!(
            "the suite stopped; the matrix in {dir} covers the runs before"
        )));
    }
    if outcome.matrix.interrupted {
        eprintln!(
            "cachecheck: interrupted: the matrix in {dir} covers the {} runs that finished",
            outcome.matrix.runs_done
        );
        return Ok(EXIT_ERROR);
    }
    Ok(if outcome.matrix.failed {
        EXIT_FAILED
    } else {
        EXIT_OK
    })
}
