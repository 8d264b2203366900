//! Leftovers of runs that died (`kill -9`, a crash): each local stack's temporary directory
//! holds `owner.json` (the harness's pid and its servers' pids). The next run finds directories
//! whose harness is gone, kills any of their servers still alive, and removes them.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const OWNER_FILE: &str = "owner.json";
/// Prefix of the local stacks' temporary directories.
pub const DIR_PREFIX: &str = "cachecheck-";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Owner {
    /// The harness process.
    pub pid: u32,
    /// Its start time (clock ticks since boot, /proc/PID/stat field 22): with the pid, it
    /// names the process even if the pid is reused later.
    #[serde(default)]
    pub start: u64,
    /// Its server processes.
    pub children: Vec<u32>,
}

/// Writes `owner.json` into a stack's directory (replacing it atomically).
pub fn write_owner(dir: &Path, children: &[u32]) -> std::io::Result<()> {
    let pid = std::process::id();
    let o = Owner {
        pid,
        start: start_time(pid).unwrap_or(0),
        children: children.to_vec(),
    };
    let tmp = dir.join(".owner.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&o)?)?;
    std::fs::rename(tmp, dir.join(OWNER_FILE))
}

fn cmdline(pid: u32) -> Option<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
}

/// (state, start time) of a process from /proc/PID/stat.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 overall is the 20th after the command name.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.1)
}

/// Whether the harness that wrote `owner` still runs (same pid and start time, not a zombie).
fn harness_alive(owner: &Owner) -> bool {
    match stat(owner.pid) {
        Some((state, start)) => state != 'Z' && (owner.start == 0 || start == owner.start),
        None => false,
    }
}

/// What was cleaned up.
#[derive(Debug, Default)]
pub struct Cleanup {
    pub dirs: Vec<PathBuf>,
    pub killed: Vec<u32>,
}

/// Removes the leftovers of dead runs under `root` (the temporary directory).
pub fn clean(root: &Path) -> Cleanup {
    let mut out = Cleanup::default();
    let Ok(entries) = std::fs::read_dir(root) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(DIR_PREFIX) || !path.is_dir() {
            continue;
        }
        let Ok(text) = std::fs::read(path.join(OWNER_FILE)) else {
            continue;
        };
        let Ok(owner) = serde_json::from_slice::<Owner>(&text) else {
            continue;
        };
        if harness_alive(&owner) {
            continue;
        }
        let dir_s = path.display().to_string();
        for c in owner.children {
            // Only a process that still runs from this directory (no pid reuse accident).
            if cmdline(c).is_some_and(|cl| cl.contains(&dir_s)) {
                // SAFETY: kill(2) on a pid verified to belong to the dead run's server.
                unsafe {
                    libc::kill(c as i32, libc::SIGCONT);
                    libc::kill(c as i32, libc::SIGKILL);
                }
                out.killed.push(c);
            }
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            out.dirs.push(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_pid_is_not_the_owner() {
        let me = std::process::id();
        let o = Owner {
            pid: me,
            start: start_time(me).unwrap() + 1,
            children: vec![],
        };
        assert!(!harness_alive(&o));
        let o = Owner {
            start: start_time(me).unwrap(),
            ..o
        };
        assert!(harness_alive(&o));
    }

    #[test]
    fn removes_dirs_of_dead_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dead = root.path().join("cachecheck-dead");
        let live = root.path().join("cachecheck-live");
        let other = root.path().join("unrelated");
        for d in [&dead, &live, &other] {
            std::fs::create_dir(d).unwrap();
        }
        // A pid that cannot exist (beyond pid_max) owns `dead`; this test process owns `live`.
        std::fs::write(
            dead.join(OWNER_FILE),
            serde_json::to_vec(&Owner {
                pid: 999_999_999,
                start: 1,
                children: vec![999_999_998],
            })
            .unwrap(),
        )
        .unwrap();
        write_owner(&live, &[]).unwrap();
        std::fs::write(other.join(OWNER_FILE), b"{}").unwrap();
        let c = clean(root.path());
        assert_eq!(c.dirs, vec![dead.clone()]);
        assert!(c.killed.is_empty());
        assert!(!dead.exists() && live.exists() && other.exists());
    }
}
