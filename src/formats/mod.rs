//! History formats besides cachecheck's own: in, for `cachecheck check` and `report`, and out,
//! for `cachecheck export`.
//!
//! * [`edn`]: Jepsen EDN histories (and Porcupine's kv test data, which is EDN, one map a line);
//! * [`jepsen_log`]: the Jepsen etcd log lines of Porcupine's test data;
//! * [`edn_out`]: a cachecheck history written as a Jepsen EDN history.
//!
//! A malformed file is a [`FormatError`]: the file, the line, the problem and the fix.

pub mod edn;
pub mod edn_out;
pub mod jepsen_log;

use crate::history::files::FileError;
use crate::linearizability::history::History;
use crate::linearizability::ModelKind;
use std::path::Path;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A Jepsen EDN history.
    Edn,
    /// Porcupine's kv test data (EDN maps with :key, :f :get/:put/:append).
    PorcupineKv,
    /// Jepsen's etcd log lines (Porcupine's test_data/jepsen).
    JepsenLog,
    /// A cachecheck result directory.
    Cachecheck,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Edn => "edn",
            Format::PorcupineKv => "porcupine-kv",
            Format::JepsenLog => "jepsen-log",
            Format::Cachecheck => "cachecheck",
        }
    }

    /// The model a history of this format is checked against when `--model` is not given:
    /// the one its operations fit ([`ModelKind::detect`]); `cas-register` for the etcd logs.
    pub fn default_model(self, h: &History) -> ModelKind {
        match self {
            Format::PorcupineKv => ModelKind::Kv,
            Format::JepsenLog => ModelKind::CasRegister,
            _ => ModelKind::detect(h.keys.iter().flat_map(|k| k.ops.iter().map(|o| &o.input))),
        }
    }
}

/// A problem at a line of a file (the file is added by [`load`]).
#[derive(Debug)]
pub struct FormatError {
    pub line: u32,
    pub msg: String,
}

impl FormatError {
    pub fn at(line: u32, msg: String) -> Self {
        FormatError { line, msg }
    }
}

/// Byte offsets where each line starts (`[0, ...]`): line `n` starts at `starts[n - 1]`.
pub fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// The format of `path`: a directory is a cachecheck result; a file is told by its first
/// line (Jepsen log lines, EDN) and whether it has kv operations.
pub fn detect(path: &Path) -> Result<Format, FileError> {
    if path.is_dir() {
        return Ok(Format::Cachecheck);
    }
    let text = read(path)?;
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with(';'))
        .unwrap_or("");
    if text.lines().take(50).any(|l| l.contains("jepsen.util - ")) {
        Ok(Format::JepsenLog)
    } else if first.starts_with("{\"") {
        Err(file_error(
            path,
            0,
            "this is a cachecheck history file (fix: give its directory, which also holds commits.jsonl)".into(),
        ))
    } else if first.starts_with(['[', '(', '{']) {
        let kv = [":f :get", ":f :put", ":f :append"];
        Ok(if kv.iter().any(|p| text.contains(p)) {
            Format::PorcupineKv
        } else {
            Format::Edn
        })
    } else {
        Err(file_error(
            path,
            0,
            "cannot tell the history's format (fix: --format edn, porcupine-kv or jepsen-log)"
                .into(),
        ))
    }
}

/// The error `msg` at `line` of `path` (0: the whole file).
pub fn file_error(path: &Path, line: usize, msg: String) -> FileError {
    FileError {
        file: path.to_path_buf(),
        line,
        msg,
    }
}

fn read(path: &Path) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|e| {
        file_error(
            path,
            0,
            format!("cannot read: {e} (fix: give a readable history file)"),
        )
    })
}

/// Reads the foreign history `path` in `format` (not [`Format::Cachecheck`]).
pub fn load(path: &Path, format: Format) -> Result<History, FileError> {
    if path.is_dir() {
        return Err(file_error(
            path,
            0,
            format!("is a directory, not a {} history file (fix: give the file, or --format cachecheck)", format.name()),
        ));
    }
    let text = read(path)?;
    let parsed = match format {
        Format::Edn | Format::PorcupineKv => edn::parse(&text),
        Format::JepsenLog => jepsen_log::parse(&text),
        Format::Cachecheck => Err(FormatError::at(
            0,
            "a cachecheck history is a directory".into(),
        )),
    };
    parsed.map_err(|e| file_error(path, e.line as usize, e.msg))
}
