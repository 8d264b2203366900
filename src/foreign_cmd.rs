//! `cachecheck check FILE --format edn|porcupine-kv|jepsen-log [--model M] [--timeout SECS]
//! [--json]`: the linearizability of a foreign history (Jepsen's, Knossos', Porcupine's), per
//! key. A directory (or `--format cachecheck`) goes on to the cachecheck checker instead.
//!
//! Exit 0 when every key is linearizable, 1 when a key is not or could not be decided within
//! its budget, 2 on bad input (a malformed file is one line naming the file and the line).

use crate::checker::Verdict;
use crate::exit::{EXIT_FAILED, EXIT_OK};
use crate::formats::{self, Format};
use crate::linearizability::foreign::{check_history, ForeignVerdict, Options};
use crate::linearizability::history::History;
use crate::linearizability::ModelKind;
use crate::output::verdict_name;
use anyhow::{bail, Result};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// Default time budget of the search, per key.
pub const DEFAULT_TIMEOUT_S: f64 = 60.0;

/// The flags of foreign histories, on `check` and `report`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ForeignArgs {
    /// History format (default: detected: a directory is a cachecheck result; a file is told
    /// by its content).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Model of a foreign history (default: kv for get/put/append, cas-register when there is
    /// a cas, else register).
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Time budget of the linearizability search per key, in seconds (default 60); past it the
    /// key's verdict is unknown.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
}

/// A foreign history, read and checked.
pub struct Checked {
    pub format: Format,
    pub model: ModelKind,
    pub history: History,
    pub verdict: ForeignVerdict,
}

/// What `check --json` prints for a foreign history:
///
/// ```json
/// {"schema_version":1,"file":"c10-bad.txt","format":"porcupine-kv","model":"kv",
///  "operations":405,"linearizable":"invalid","valid":9,"invalid":1,"unknown":0,"elapsed_s":0.004,
///  "keys":[{"key":"3","ops":41,"verdict":"invalid","elapsed_s":0.001,
///           "violation":{"explanation":"get() -> 'x 3 1 y' by process 7 (line 120) cannot be ...",
///                        "lines":[120,121],"longest_prefix":30}}, ...],
///  "warnings":[]}
/// ```
#[derive(Debug, Serialize)]
pub struct ForeignReport<'a> {
    pub schema_version: u32,
    pub file: String,
    pub format: Format,
    pub model: ModelKind,
    pub operations: usize,
    pub linearizable: Verdict,
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
    pub elapsed_s: f64,
    pub keys: &'a [crate::linearizability::foreign::ForeignKey],
    pub warnings: &'a [String],
}

/// The format of `path` under these flags (named, or detected).
pub fn format_of(path: &Path, a: &ForeignArgs) -> Result<Format> {
    Ok(match a.format {
        Some(f) => f,
        None => formats::detect(path)?,
    })
}

/// Reads and checks the foreign history `path` (its format is not cachecheck's).
pub fn load_and_check(path: &Path, format: Format, a: &ForeignArgs) -> Result<Checked> {
    let timeout = a.timeout.unwrap_or(DEFAULT_TIMEOUT_S);
    if !(timeout > 0.0 && timeout.is_finite()) {
        bail!("--timeout: must be a positive number of seconds, got {timeout}");
    }
    let history = formats::load(path, format)?;
    let model = a.model.unwrap_or_else(|| format.default_model(&history));
    let opts = Options::new(model, Some(Duration::from_secs_f64(timeout)));
    let verdict =
        check_history(&history, &opts).map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
    Ok(Checked {
        format,
        model,
        history,
        verdict,
    })
}

/// `cachecheck check` on a foreign history; `None` when `dir` is a cachecheck result (the
/// caller checks it as before). `result_flags`: `--write`, `--expect` or `--junit` was given
/// (they apply to cachecheck results only).
pub fn check(
    dir: &Path,
    foreign: &ForeignArgs,
    json: bool,
    result_flags: bool,
) -> Result<Option<u8>> {
    let format = format_of(dir, foreign)?;
    if format == Format::Cachecheck {
        if foreign.model.is_some() || foreign.timeout.is_some() {
            bail!("--model and --timeout apply to foreign histories (fix: drop them, or give --format edn|porcupine-kv|jepsen-log)");
        }
        return Ok(None);
    }
    if result_flags {
        bail!("--write, --expect and --junit apply to cachecheck result directories, not to a {} history", format.name());
    }
    let c = load_and_check(dir, format, foreign)?;
    let v = &c.verdict;
    if json {
        let r = ForeignReport {
            schema_version: 1,
            file: dir.display().to_string(),
            format,
            model: c.model,
            operations: c.history.operations(),
            linearizable: v.verdict,
            valid: v.valid,
            invalid: v.invalid,
            unknown: v.unknown,
            elapsed_s: v.elapsed_s,
            keys: &v.keys,
            warnings: &c.history.warnings,
        };
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", text(dir, &c));
    }
    Ok(Some(if v.verdict == Verdict::Valid {
        EXIT_OK
    } else {
        EXIT_FAILED
    }))
}

/// The terminal output: a row per key, the verdict, each violation's sentence.
pub fn text(path: &Path, c: &Checked) -> String {
    use std::fmt::Write;
    let v = &c.verdict;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "history: {} ({}, model {}): {} key(s), {} operations",
        path.display(),
        c.format.name(),
        c.model.name(),
        c.history.keys.len(),
        c.history.operations()
    );
    let _ = writeln!(
        s,
        "{:<16} {:>8}  {:<8} {:>10}",
        "key", "ops", "verdict", "time"
    );
    for k in &v.keys {
        let name = if k.key.is_empty() { "-" } else { &k.key };
        let _ = writeln!(
            s,
            "{:<16} {:>8}  {:<8} {:>8.3} s",
            name,
            k.ops,
            verdict_name(k.verdict),
            k.elapsed_s
        );
    }
    let _ = writeln!(
        s,
        "linearizable: {} ({} valid, {} invalid, {} unknown) in {:.3} s",
        verdict_name(v.verdict),
        v.valid,
        v.invalid,
        v.unknown,
        v.elapsed_s
    );
    for k in &v.keys {
        if let Some(x) = &k.violation {
            let _ = writeln!(s, "{}: {}", key_label(&k.key), x.explanation);
        }
        if let Some(w) = &k.why_unknown {
            let _ = writeln!(s, "{}: unknown: {w}", key_label(&k.key));
        }
    }
    for w in &c.history.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

fn key_label(key: &str) -> String {
    if key.is_empty() {
        "the register".into()
    } else {
        format!("key {key}")
    }
}
