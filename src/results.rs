//! Result directories: creating a run's directory under `--out` (checked writable and with room
//! before any server starts), pointing `latest` at it, finding the strategy directories of a
//! result, and replacing a file in one atomically. Shared by `run`, `check`, `report`,
//! `timeline` and `compare`.

use crate::history::files::{find_history, HISTORY_FILE};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Creates `out/<timestamp>-<name>`, never reusing an existing directory.
pub fn create_run_dir(out: &Path, name: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| {
        format!(
            "cannot create the output directory {} (fix: --out DIR with a writable directory)",
            out.display()
        )
    })?;
    // Fail before any server starts if the directory is not writable.
    let probe = out.join(format!(".cachecheck-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe").with_context(|| {
        format!(
            "the output directory {} is not writable (fix: --out DIR with a writable directory)",
            out.display()
        )
    })?;
    let _ = std::fs::remove_file(&probe);
    check_free_space(out)?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    for i in 0..1000 {
        let id = if i == 0 {
            format!("{stamp}-{safe}")
        } else {
            format!("{stamp}-{safe}-{i}")
        };
        let p = out.join(id);
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", p.display())),
        }
    }
    anyhow::bail!("cannot find a free run directory name in {}", out.display())
}

/// Below this much free space in the output directory a run refuses to start: the history of a
/// busy strategy grows by a few MB/s, and a full disk mid-run would end in a torn history.
/// `CACHECHECK_MIN_FREE_MB` overrides it.
const MIN_FREE_MB: u64 = 256;

fn check_free_space(out: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let need = std::env::var("CACHECHECK_MIN_FREE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MIN_FREE_MB);
    let path = std::ffi::CString::new(out.as_os_str().as_bytes())?;
    // SAFETY: statvfs fills the struct it is given; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return Ok(()); // no figure: let the writes say what is wrong
    }
    let free_mb = (st.f_bavail as u64).saturating_mul(st.f_frsize as u64) / (1024 * 1024);
    anyhow::ensure!(
        free_mb >= need,
        "only {free_mb} MB free in the output directory {} (fix: free some space, or --out DIR on a disk with at least {need} MB free)",
        out.display()
    );
    Ok(())
}

/// Points `out/latest` at the newest run (best effort).
pub fn update_latest(out: &Path, run_dir: &Path) {
    let link = out.join("latest");
    let target = run_dir.file_name().map(PathBuf::from).unwrap_or_default();
    let tmp = out.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    if std::os::unix::fs::symlink(&target, &tmp).is_ok() {
        let _ = std::fs::rename(&tmp, &link);
    }
}

/// The strategy directories under `dir`: `dir` itself if it holds a history (plain or
/// compressed), else its
/// subdirectories that do (a run directory), in name order.
pub fn strategy_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    if find_history(dir).is_some() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read directory: {e} (fix: give a result directory such as results/latest)",
            dir.display()
        )
    })?;
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| find_history(p).is_some())
        .collect();
    out.sort();
    anyhow::ensure!(
        !out.is_empty(),
        "{}: no {HISTORY_FILE} here or in its subdirectories (fix: give a strategy or run directory)",
        dir.display()
    );
    Ok(out)
}

/// Replaces `dir/name` atomically with what `write` puts into a file of that name in a
/// temporary directory beside it (written, then renamed).
pub fn replace_file(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    let tmpdir = tempfile::Builder::new()
        .prefix(&format!(".{name}"))
        .tempdir_in(dir)?;
    write(tmpdir.path())?;
    std::fs::rename(tmpdir.path().join(name), dir.join(name))?;
    Ok(())
}
