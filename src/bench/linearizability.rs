//! `cachecheck bench linearizability [--data DIR | --no-data] [--ops N] [--rounds R] [--results DIR]...`:
//! how fast linearizability is decided.
//!
//! * The search, on the published data sets under `--data` (default `tests/fixtures`:
//!   Porcupine's kv histories one by one, its 102 etcd logs, Knossos' good and bad
//!   cas-register histories): the median over `--rounds` of the check's wall time per data
//!   set (parsing excluded, reported apart), with the verdicts found.
//! * The linear path, on a synthetic cachecheck history of `--ops` operations
//!   ([`super::sim`], the one `bench checker` uses): the time to decide every key once the run
//!   is paired, in history events per second, and the keys found invalid (the injected
//!   anomalies make some).
//! * With `--results`, the linear path's verdict on real result directories, per strategy.
//!
//! Exit 0; 2 on bad input. The figures, and Porcupine's on the same files, are in
//! docs/linearizability.md.

use super::sim::{self, SimConfig};
use crate::exit::EXIT_OK;
use crate::formats::{self, Format};
use crate::linearizability::foreign::{check_history, Options};
use crate::linearizability::history::History;
use crate::linearizability::ModelKind;
use crate::output::verdict_name;
use crate::results::strategy_dirs;
use anyhow::{ensure, Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `bench linearizability`.
#[derive(Debug, Clone)]
pub struct LinBench {
    /// `None`: skip the data sets.
    pub data: Option<PathBuf>,
    pub ops: u64,
    pub rounds: u32,
    pub results: Vec<PathBuf>,
    pub json: bool,
}

/// One data set's figures.
#[derive(Debug, Clone, Serialize)]
pub struct DataSet {
    pub name: String,
    pub files: usize,
    pub operations: usize,
    pub parse_s: f64,
    /// Median over the rounds of the whole set's check.
    pub check_s: f64,
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
}

/// The linear path's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Linear {
    pub name: String,
    pub ops: u64,
    pub events: u64,
    pub keys: usize,
    pub load_s: f64,
    pub check_s: f64,
    pub events_per_s: f64,
    /// Reference, same files, same run: the whole cachecheck check (every other property,
    /// reading the files included).
    pub checker_s: f64,
    pub valid: u64,
    pub invalid: u64,
    pub unknown: u64,
}

/// Everything, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub schema_version: u32,
    pub rounds: u32,
    pub data_sets: Vec<DataSet>,
    pub linear: Vec<Linear>,
}

pub fn run(b: &LinBench) -> Result<u8> {
    ensure!(b.rounds > 0, "--rounds: must be at least 1");
    let mut fig = Figures {
        schema_version: 1,
        rounds: b.rounds,
        data_sets: Vec::new(),
        linear: Vec::new(),
    };
    if let Some(data) = &b.data {
        for (name, files, format, model) in data_sets(data)? {
            fig.data_sets
                .push(bench_set(&name, &files, format, model, b.rounds)?);
        }
    }
    if b.ops > 0 {
        let tmp = tempfile::Builder::new()
            .prefix("cachecheck-lin-")
            .tempdir()?;
        let cfg = SimConfig::new(b.ops, 100_000u64.min(b.ops), 1);
        sim::write_dir(&cfg, tmp.path()).context("cannot write the synthetic history")?;
        fig.linear.push(bench_linear(
            &format!("synthetic {} ops", b.ops),
            tmp.path(),
        )?);
    }
    for r in &b.results {
        for d in strategy_dirs(r)? {
            let name = d.display().to_string();
            fig.linear.push(bench_linear(&name, &d)?);
        }
    }
    if b.json {
        println!("{}", serde_json::to_string_pretty(&fig)?);
    } else {
        print!("{}", text(&fig));
    }
    Ok(EXIT_OK)
}

type Set = (String, Vec<PathBuf>, Format, ModelKind);

fn data_sets(root: &Path) -> Result<Vec<Set>> {
    let list = |dir: &Path, ext: &str| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("{}: cannot read (fix: --data the directory holding porcupine/ and knossos/, e.g. tests/fixtures)", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == ext))
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
            .collect();
        v.sort();
        Ok(v)
    };
    let mut sets = Vec::new();
    for f in list(&root.join("porcupine/kv"), "txt")? {
        let name = format!(
            "porcupine kv {}",
            f.file_stem().unwrap_or_default().to_string_lossy()
        );
        sets.push((name, vec![f], Format::PorcupineKv, ModelKind::Kv));
    }
    sets.push((
        "porcupine etcd (102 logs)".into(),
        list(&root.join("porcupine/jepsen"), "log")?,
        Format::JepsenLog,
        ModelKind::CasRegister,
    ));
    for sub in ["good", "bad"] {
        let files = list(&root.join("knossos/cas-register").join(sub), "edn")?;
        sets.push((
            format!("knossos cas-register {sub} ({} files)", files.len()),
            files,
            Format::Edn,
            ModelKind::CasRegister,
        ));
    }
    Ok(sets)
}

fn bench_set(
    name: &str,
    files: &[PathBuf],
    format: Format,
    model: ModelKind,
    rounds: u32,
) -> Result<DataSet> {
    let t0 = Instant::now();
    let histories: Vec<History> = files
        .iter()
        .map(|f| formats::load(f, format))
        .collect::<Result<_, _>>()?;
    let parse_s = t0.elapsed().as_secs_f64();
    let opts = Options::new(model, Some(Duration::from_secs(600)));
    let mut times = Vec::new();
    let mut counts = (0, 0, 0);
    for _ in 0..rounds {
        let t = Instant::now();
        counts = (0, 0, 0);
        for h in &histories {
            let v = check_history(h, &opts).map_err(anyhow::Error::msg)?;
            match v.verdict {
                crate::checker::Verdict::Valid => counts.0 += 1,
                crate::checker::Verdict::Invalid => counts.1 += 1,
                crate::checker::Verdict::Unknown => counts.2 += 1,
            }
        }
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(DataSet {
        name: name.to_string(),
        files: files.len(),
        operations: histories.iter().map(History::operations).sum(),
        parse_s,
        check_s: times[times.len() / 2],
        valid: counts.0,
        invalid: counts.1,
        unknown: counts.2,
    })
}

fn bench_linear(name: &str, dir: &Path) -> Result<Linear> {
    let t0 = Instant::now();
    let run = crate::checker::load_run(dir)?;
    let load_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let v = crate::checker::linearizable::check_run(&run);
    let check_s = t1.elapsed().as_secs_f64();
    let ops: u64 = run.key_data().iter().map(|k| k.ops.len() as u64).sum();
    let events = 2 * ops;
    let keys = run.key_data().len();
    drop(run);
    let t2 = Instant::now();
    let opts = crate::checker::CheckOptions::default();
    crate::checker::check_dir(dir, &opts)?;
    let checker_s = t2.elapsed().as_secs_f64();
    Ok(Linear {
        name: name.to_string(),
        ops,
        events,
        keys,
        load_s,
        check_s,
        events_per_s: events as f64 / check_s.max(1e-9),
        checker_s,
        valid: v.valid,
        invalid: v.invalid,
        unknown: v.unknown,
    })
}

fn text(f: &Figures) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if !f.data_sets.is_empty() {
        let _ = writeln!(s, "search (Wing-Gong/Lowe), median of {} rounds:", f.rounds);
        let _ = writeln!(
            s,
            "{:<36} {:>6} {:>8} {:>10} {:>10}  verdicts",
            "data set", "files", "ops", "parse s", "check s"
        );
        for d in &f.data_sets {
            let _ = writeln!(
                s,
                "{:<36} {:>6} {:>8} {:>10.4} {:>10.4}  {} valid, {} invalid, {} unknown",
                d.name, d.files, d.operations, d.parse_s, d.check_s, d.valid, d.invalid, d.unknown
            );
        }
    }
    if !f.linear.is_empty() {
        let _ = writeln!(s, "linear path (commit order, no search):");
        for l in &f.linear {
            let _ = writeln!(
                s,
                "{}: {} ops, {} keys: load {:.3} s, check {:.3} s = {} events/s (the whole cachecheck check of the same files: {:.3} s); keys {} valid, {} invalid, {} unknown ({})",
                l.name,
                l.ops,
                l.keys,
                l.load_s,
                l.check_s,
                super::si(l.events_per_s),
                l.checker_s,
                l.valid,
                l.invalid,
                l.unknown,
                verdict_name(if l.invalid > 0 {
                    crate::checker::Verdict::Invalid
                } else if l.valid > 0 {
                    crate::checker::Verdict::Valid
                } else {
                    crate::checker::Verdict::Unknown
                })
            );
        }
    }
    s
}
