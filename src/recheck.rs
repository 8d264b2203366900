//! Re-checking a strategy directory from its files: the summary `check` prints and `report`
//! draws. Metadata and expectations come from the directory's summary.json when there is one;
//! the figures always come from the history. A run that died before writing `commits.jsonl` is
//! checked against a ground truth rebuilt from what it did write.

use crate::checker::{self, CheckOptions};
use crate::expect::Expectation;
use crate::history::files::{
    history_path, open_history, read_commits, write_jsonl, COMMITS_FILE, FINAL_FILE,
    PARTIAL_COMMITS_FILE,
};
use crate::history::Commit;
use crate::summary::{Summary, SUMMARY_FILE};
use anyhow::Result;
use std::path::Path;

/// Checks one strategy directory; `extra_expect` adds to the stored expectations.
pub fn check_one(dir: &Path, extra_expect: &[Expectation]) -> Result<Summary> {
    check_one_with(dir, extra_expect, checker::default_threads()).map(|(s, _)| s)
}

/// [`check_one`] on `threads` threads, with the number of history events read.
pub fn check_one_with(
    dir: &Path,
    extra_expect: &[Expectation],
    threads: usize,
) -> Result<(Summary, u64)> {
    let stored = dir.join(SUMMARY_FILE);
    let base = if stored.is_file() {
        Summary::read(&stored).ok()
    } else {
        None
    };
    let ttl_set = base
        .as_ref()
        .and_then(|b| b.settings.get("ttl_ms"))
        .and_then(|v| v.as_u64())
        .map(|t| t > 0);
    let opts = CheckOptions {
        ttl_set,
        max_examples_per_kind: 20,
    };
    let (report, recovered, events) = check_or_recover(dir, &opts, threads)?;
    let base = base.unwrap_or_else(|| {
        Summary::unnamed(
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    });
    let mut expect = base.expectations_as_written();
    expect.extend(extra_expect.iter().cloned());
    Ok((base.with_check(report, recovered, &expect), events))
}

/// Checks a strategy directory's files; when `commits.jsonl` is missing but the loaded data
/// is there (a run that died, or could not read the commit log), against a ground truth
/// rebuilt from what the run did write. The flag says whether it was rebuilt (the figures are
/// then marked incomplete), and the number of history events read.
pub fn check_or_recover(
    dir: &Path,
    opts: &CheckOptions,
    threads: usize,
) -> Result<(checker::CheckReport, bool, u64)> {
    Ok(
        if !dir.join(COMMITS_FILE).exists() && dir.join(PARTIAL_COMMITS_FILE).is_file() {
            let (r, events) = recover(dir, opts, threads)?;
            (r, true, events)
        } else {
            let (r, read) = checker::check_dir_with(dir, opts, threads)?;
            (r, false, read.events)
        },
    )
}

/// Checks the directory of a run that died before writing `commits.jsonl`: the ground truth is
/// rebuilt (in a temporary directory; the input is not touched) from the loaded data in
/// `commits.jsonl.partial` and the history's `db-commit` events. Writes whose commit was never
/// recorded count as uncommitted, so the result is marked incomplete and warns.
fn recover(dir: &Path, opts: &CheckOptions, threads: usize) -> Result<(checker::CheckReport, u64)> {
    let mut commits = read_commits(&dir.join(PARTIAL_COMMITS_FILE))?;
    let mut seen = 0u64;
    let history = history_path(dir);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut open_history(&history)?, &mut text)?;
    for line in text.lines().filter(|l| l.contains("\"db-commit\"")) {
        let Ok(ev) = serde_json::from_str::<crate::history::Event>(line) else {
            continue;
        };
        let version = ev
            .detail
            .as_ref()
            .and_then(|d| d.get("version"))
            .and_then(|v| v.as_i64());
        if let (Some(key), Some(value), Some(version)) = (ev.key, ev.value, version) {
            seen += 1;
            commits.push(Commit {
                key,
                version,
                value,
                initial: false,
            });
        }
    }
    commits.sort_by_key(|c| (c.key, c.version));
    let tmp = tempfile::tempdir()?;
    write_jsonl(&tmp.path().join(COMMITS_FILE), &commits)?;
    let (mut report, read) = checker::check_files_with(
        &history,
        &tmp.path().join(COMMITS_FILE),
        &dir.join(FINAL_FILE),
        opts,
        threads,
    )?;
    report.warnings.insert(
        0,
        format!(
            "the run died before writing {COMMITS_FILE}: ground truth rebuilt from {PARTIAL_COMMITS_FILE} and {seen} db-commit events of the history; writes whose commit was not recorded count as uncommitted (dirty and lost counts may be too high)"
        ),
    );
    Ok((report, read.events))
}
