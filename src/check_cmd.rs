//! `cachecheck check DIR`: re-checks stored or hand-built histories and prints the figures.
//! Reads only; writes `summary.json` only with `--write`.

use crate::exit::{EXIT_ERROR, EXIT_FAILED, EXIT_OK};
use crate::expect::Expectation;
use crate::recheck::check_one;
use crate::results::{replace_file, strategy_dirs};
use crate::summary::SUMMARY_FILE;
use anyhow::Result;
use std::path::Path;

pub fn run(
    dir: &Path,
    json: bool,
    write: bool,
    expect: &[String],
    junit: Option<&Path>,
) -> Result<u8> {
    let expect: Vec<Expectation> = expect
        .iter()
        .map(|e| Expectation::parse(e).map_err(|m| anyhow::anyhow!("--expect: {m}")))
        .collect::<Result<_>>()?;
    let dirs = strategy_dirs(dir)?;
    let mut summaries = Vec::new();
    let mut errors = 0;
    for d in &dirs {
        match check_one(d, &expect) {
            Ok(s) => {
                if write {
                    replace_file(d, SUMMARY_FILE, |tmp| s.write(tmp))?;
                }
                summaries.push(s);
            }
            Err(e) => {
                errors += 1;
                eprintln!("cachecheck: error: {}", format!("{e:#}").replace('\n', " "));
            }
        }
    }
    if json {
        let v = if dirs.len() == 1 && summaries.len() == 1 {
            serde_json::to_value(&summaries[0])?
        } else {
            serde_json::to_value(&summaries)?
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if !summaries.is_empty() {
        print!("{}", crate::output::table(&summaries));
    }
    if let Some(path) = junit {
        crate::junit::write(path, &summaries)?;
    }
    Ok(if errors > 0 {
        EXIT_ERROR
    } else if summaries.iter().all(|s| s.valid) {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
