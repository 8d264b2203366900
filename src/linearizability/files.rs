//! The linear path over a result directory's files: reads `commits.jsonl` and
//! `history.jsonl` into a paired [`Run`] exactly as the checker does, then checks it.

use super::verdict::RunVerdict;
use crate::checker::ops::{Builder, EventView, Run};
use crate::history::files::{for_each_event, read_commits, FileError, COMMITS_FILE, HISTORY_FILE};
use std::path::Path;

/// The paired run of the strategy directory `dir`.
pub fn load_run(dir: &Path) -> Result<Run, FileError> {
    let commits = read_commits(&dir.join(COMMITS_FILE))?;
    let mut b = Builder::new(&commits);
    let read = for_each_event(&dir.join(HISTORY_FILE), |idx, ev| {
        b.event(
            idx,
            EventView {
                time: ev.time,
                process: ev.process,
                kind: ev.kind,
                f: &ev.f,
                key: ev.key,
                value: ev.value,
                source: ev.source,
            },
        )
    })?;
    Ok(b.finish(read.torn_last_line))
}

/// Linearizability of every key of the strategy directory `dir`.
pub fn check_dir(dir: &Path) -> Result<RunVerdict, FileError> {
    Ok(super::check_run(&load_run(dir)?))
}
