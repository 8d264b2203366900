//! Running a docker command whose output tells how far it got (`docker build`, the base's
//! second stage): its lines, as they come, without terminal colour codes, and its last
//! meaningful lines when it fails.

use anyhow::{Context, Result};
use std::collections::VecDeque;
use tokio::io::AsyncBufReadExt;

/// Runs `c` with `input` on its stdin, handing every line it prints (stdout and stderr) to
/// `on_line`; a failure is an error carrying its last lines.
pub async fn run(
    c: std::process::Command,
    input: Option<&[u8]>,
    on_line: &(dyn Fn(&str) + Sync),
) -> Result<()> {
    use std::process::Stdio;
    let what = format!("{:?}", c.get_program())
        .trim_matches('"')
        .to_string()
        + " "
        + &c.get_args()
            .next()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default();
    let mut c = tokio::process::Command::from(c);
    c.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true)
    .process_group(0);
    let mut child = c.spawn().with_context(|| format!("cannot run {what}"))?;
    let feed = async {
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            use tokio::io::AsyncWriteExt;
            stdin.write_all(data).await?;
        }
        anyhow::Ok(())
    };
    let mut out = tokio::io::BufReader::new(child.stdout.take().context("no stdout")?).lines();
    let mut err = tokio::io::BufReader::new(child.stderr.take().context("no stderr")?).lines();
    let mut tail: VecDeque<String> = VecDeque::new();
    let read = async {
        let (mut out_open, mut err_open) = (true, true);
        while out_open || err_open {
            let line: Option<String> = tokio::select! {
                l = out.next_line(), if out_open => l?.or_else(|| { out_open = false; None }),
                l = err.next_line(), if err_open => l?.or_else(|| { err_open = false; None }),
            };
            if let Some(line) = line.map(|l| plain(&l)) {
                on_line(&line);
                let noise = [
                    " ---> ",
                    "Removing intermediate container",
                    "Reading ",
                    "Building ",
                ];
                if !line.trim().is_empty() && !noise.iter().any(|n| line.starts_with(n)) {
                    tail.push_back(line);
                    if tail.len() > 6 {
                        tail.pop_front();
                    }
                }
            }
        }
        anyhow::Ok(())
    };
    let (fed, read) = tokio::join!(feed, read);
    let status = child.wait().await?;
    read?;
    if !status.success() {
        let tail: Vec<String> = tail.into_iter().collect();
        anyhow::bail!("`{what}` failed ({status}): {}", tail.join(" | "));
    }
    fed
}

/// A line without its terminal colour codes (the legacy builder colours a step's stderr).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters final-byte
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_are_dropped() {
        assert_eq!(
            plain("\u{1b}[91mE: Unable to locate package x\u{1b}[0m"),
            "E: Unable to locate package x"
        );
        assert_eq!(plain("Step 1/8 : ARG BASE"), "Step 1/8 : ARG BASE");
    }

    #[tokio::test]
    async fn a_failure_carries_the_last_lines() {
        let mut c = std::process::Command::new("sh");
        c.args([
            "-c",
            "cat; echo step one; echo ' ---> noise'; echo broke >&2; exit 3",
        ]);
        let seen = std::sync::Mutex::new(Vec::new());
        let e = run(c, Some(b"input\n"), &|l| {
            seen.lock().unwrap().push(l.to_string())
        })
        .await
        .unwrap_err()
        .to_string();
        assert!(e.contains("exit status: 3"), "{e}");
        // stdout and stderr are read as they come, so only each line's presence is sure.
        for line in ["input", "step one", "broke"] {
            assert!(e.contains(line), "{e}");
        }
        assert!(!e.contains("noise"), "{e}");
        assert_eq!(seen.lock().unwrap().len(), 4);
    }
}
