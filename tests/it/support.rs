//! Helpers shared by the live-server tests: run the real `cachecheck` binary on a workload
//! written to a temporary directory, and read what it produced.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one `cachecheck` invocation did.
pub struct Invocation {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The run directory (`results/latest` resolved), when one was written.
    pub run_dir: Option<PathBuf>,
    /// Keeps the temporary directory alive as long as the invocation.
    #[allow(dead_code)]
    pub tmp: tempfile::TempDir,
}

impl Invocation {
    pub fn summary(&self, strategy: &str) -> serde_json::Value {
        let dir = self.run_dir.as_ref().expect("a run directory");
        let p = dir.join(strategy).join("summary.json");
        let text = std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}\nstderr: {}", p.display(), self.stderr));
        serde_json::from_str(&text).unwrap()
    }

    pub fn anomaly(&self, strategy: &str, name: &str) -> u64 {
        self.summary(strategy)["anomalies"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no anomalies.{name} for {strategy}"))
    }

    pub fn strategy_dir(&self, strategy: &str) -> PathBuf {
        self.run_dir
            .as_ref()
            .expect("a run directory")
            .join(strategy)
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cachecheck")
}

/// `cachecheck run <tmp>/workload.toml --out <tmp>/results` with `toml` written to the workload
/// file: the command (ready for more arguments), the temporary directory and the output
/// directory.
pub fn run_command(toml: &str) -> (Command, tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("workload.toml");
    std::fs::write(&wl, toml).unwrap();
    let out = tmp.path().join("results");
    let mut c = Command::new(bin());
    c.arg("run").arg(&wl).arg("--out").arg(&out);
    (c, tmp, out)
}

/// Runs `cachecheck run <workload> --out <tmp>/results <args...>` on the given workload text.
pub fn run_workload(toml: &str, args: &[&str]) -> Invocation {
    let (mut c, tmp, out) = run_command(toml);
    let o = c.args(args).output().expect("run cachecheck");
    let latest = out.join("latest");
    let run_dir = std::fs::canonicalize(&latest).ok();
    Invocation {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        run_dir,
        tmp,
    }
}

/// Runs `cachecheck <args...>` and returns (exit code, stdout, stderr).
pub fn cachecheck(args: &[&str], cwd: Option<&Path>) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    output_of(&mut c)
}

/// Runs `c` to the end and returns (exit code, stdout, stderr).
pub fn output_of(c: &mut Command) -> (i32, String, String) {
    let o = c.output().expect("run cachecheck");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Every invoke of a client op has exactly one completion by the same process.
pub fn assert_complete_history(dir: &Path) {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let mut open = std::collections::HashMap::<i64, String>::new();
    let mut invokes = 0;
    for line in text.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let f = e["f"].as_str().unwrap();
        let p = e["process"].as_i64().unwrap();
        if p < 0 || (f != "read" && f != "write") {
            continue;
        }
        match e["type"].as_str().unwrap() {
            "invoke" => {
                invokes += 1;
                assert!(
                    open.insert(p, f.to_string()).is_none(),
                    "process {p} invoked twice: {line}"
                );
            }
            _ => {
                assert_eq!(
                    open.remove(&p).as_deref(),
                    Some(f),
                    "completion without invoke: {line}"
                );
            }
        }
    }
    assert!(open.is_empty(), "invokes without completion: {open:?}");
    assert!(invokes > 0, "no operations recorded");
}

/// Every anomaly count of summary.json's `anomalies`.
pub const ANOMALIES: [&str; 7] = [
    "stale_reads",
    "divergent_keys",
    "dirty_reads",
    "lost_writes",
    "monotonic_read_violations",
    "read_your_writes_violations",
    "impossible_reads",
];
