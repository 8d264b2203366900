//! `cachecheck export DIR --format edn [-o PATH]`: writes each strategy's history as a Jepsen
//! EDN history ([`crate::formats::edn_out`]). Reads the result files only.
//!
//! Where it goes: `<strategy dir>/history.edn` by default; with `-o`, that file for one
//! strategy (`-o -`: standard output), or `<PATH>/<strategy>.edn` for a run directory's
//! several strategies (PATH a directory, created when missing).

use crate::exit::EXIT_OK;
use crate::formats::edn_out;
use crate::results::strategy_dirs;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `--format` of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// A Jepsen EDN history (jepsen.independent register ops, :nemesis :info faults).
    Edn,
}

/// The file name of an export beside the history.
pub const EDN_FILE: &str = "history.edn";

pub fn run(dir: &Path, _format: ExportFormat, out: Option<&Path>) -> Result<u8> {
    let dirs = strategy_dirs(dir)?;
    let several = dirs.len() > 1;
    for d in &dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let target: Option<PathBuf> = match out {
            None => Some(d.join(EDN_FILE)),
            Some(p) if p == Path::new("-") => None,
            Some(p) if several => {
                std::fs::create_dir_all(p).with_context(|| {
                    format!(
                        "{}: cannot create the directory (fix: -o a writable directory)",
                        p.display()
                    )
                })?;
                Some(p.join(format!("{name}.edn")))
            }
            Some(p) => Some(p.to_path_buf()),
        };
        let n = match &target {
            None => {
                let stdout = std::io::stdout();
                let mut lock = stdout.lock();
                edn_out::write(d, &mut lock)?
            }
            Some(path) => {
                // Written beside, then renamed: an earlier export is never left half-replaced.
                let tmp = path.with_extension("edn.tmp");
                let file = std::fs::File::create(&tmp).with_context(|| {
                    format!(
                        "{}: cannot write the export (fix: -o a writable path)",
                        tmp.display()
                    )
                })?;
                let mut w = std::io::BufWriter::new(file);
                let n = edn_out::write(d, &mut w);
                let n = match n.and_then(|n| {
                    w.flush()
                        .map(|_| n)
                        .map_err(|e| crate::formats::file_error(&tmp, 0, e.to_string()))
                }) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        return Err(e.into());
                    }
                };
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("{}: cannot write the export", path.display()))?;
                n
            }
        };
        if let Some(path) = &target {
            eprintln!(
                "export: {} ({} client events, {} initial writes, {} nemesis events)",
                path.display(),
                n.client_events,
                n.initial_writes,
                n.nemesis_events
            );
        }
    }
    Ok(EXIT_OK)
}
