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

    /// The summary of the first strategy directory of the run.
    pub fn summary_any(&self) -> serde_json::Value {
        let dir = self.run_dir.as_ref().expect("a run directory");
        let mut strategies: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("summary.json").exists())
            .collect();
        strategies.sort();
        let first = strategies.first().expect("a strategy directory");
        serde_json::from_str(&std::fs::read_to_string(first.join("summary.json")).unwrap()).unwrap()
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
    let (c, tmp, out) = run_command(toml);
    invoke(c, args, tmp, out)
}

/// [`run_workload`] through the fault proxy `server` (its `[infra] proxy` set, and
/// `CACHECHECK_TOXIPROXY` naming the real server's binary); checks that summary.json records
/// the server it ran through.
pub fn run_workload_on(server: ProxyServer, toml: &str, args: &[&str]) -> Invocation {
    let (mut c, tmp, out) = run_command(&server.workload(toml));
    server.env(&mut c);
    let inv = invoke(c, args, tmp, out);
    if inv.code == 0 {
        server.assert_recorded(&inv.summary_any());
    }
    inv
}

fn invoke(mut c: Command, args: &[&str], tmp: tempfile::TempDir, out: PathBuf) -> Invocation {
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

/// A fault proxy server the fault tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyServer {
    /// `cachecheck proxy-server`.
    Builtin,
    /// Shopify's `toxiproxy-server` (see [`toxiproxy`]).
    Toxiproxy,
}

/// The real `toxiproxy-server` for the tests: `$CACHECHECK_TEST_TOXIPROXY` (scripts/test.sh
/// sets it to `../shared/toxiproxy/bin/toxiproxy-server` when that exists), else
/// `$CACHECHECK_TOXIPROXY`, else `toxiproxy-server` on PATH.
pub fn toxiproxy() -> Option<PathBuf> {
    let executable = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    for var in ["CACHECHECK_TEST_TOXIPROXY", "CACHECHECK_TOXIPROXY"] {
        if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let p = PathBuf::from(p);
            assert!(executable(&p), "{var}={}: not an executable", p.display());
            return Some(p);
        }
    }
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("toxiproxy-server"))
        .find(|p| executable(p))
}

impl ProxyServer {
    /// `[infra] proxy` naming this server.
    pub fn name(self) -> &'static str {
        match self {
            ProxyServer::Builtin => "builtin",
            ProxyServer::Toxiproxy => "toxiproxy",
        }
    }

    /// Whether the server can run here; for the real one, says so in one line when it cannot
    /// (its variant of a test then passes without running).
    pub fn available(self) -> bool {
        if self == ProxyServer::Builtin || toxiproxy().is_some() {
            return true;
        }
        eprintln!("skipped: no toxiproxy-server (set CACHECHECK_TEST_TOXIPROXY or put it on PATH)");
        false
    }

    /// The workload text with `[infra] proxy` set to this server.
    pub fn workload(self, toml: &str) -> String {
        let mut table: toml::Table = toml::from_str(toml).expect("a workload in TOML");
        let infra = table
            .entry("infra")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        infra
            .as_table_mut()
            .expect("[infra] is a table")
            .insert("proxy".into(), toml::Value::String(self.name().into()));
        toml::to_string(&table).unwrap()
    }

    /// Points `CACHECHECK_TOXIPROXY` at the real server for a `cachecheck` command.
    pub fn env(self, c: &mut Command) {
        if let (ProxyServer::Toxiproxy, Some(p)) = (self, toxiproxy()) {
            c.env("CACHECHECK_TOXIPROXY", p);
        }
    }

    /// summary.json's `proxy` names this server.
    pub fn assert_recorded(self, summary: &serde_json::Value) {
        assert_eq!(
            summary["proxy"]["name"],
            self.name(),
            "summary.json `proxy`: {}",
            summary["proxy"]
        );
        if self == ProxyServer::Toxiproxy {
            assert!(summary["proxy"]["version"]
                .as_str()
                .is_some_and(|v| !v.is_empty()));
        }
    }
}

/// Declares a test run once through each fault proxy server: `mod NAME { fn builtin; fn
/// toxiproxy }` (so `cargo test NAME` still selects both). The real server's variant passes
/// without running, saying so, where no `toxiproxy-server` is available.
macro_rules! on_both_servers {
    ($(#[$meta:meta])* fn $name:ident($server:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::support::ProxyServer;

            fn run($server: ProxyServer) $body

            #[test]
            fn builtin() {
                run(ProxyServer::Builtin)
            }

            #[test]
            fn toxiproxy() {
                if ProxyServer::Toxiproxy.available() {
                    run(ProxyServer::Toxiproxy)
                }
            }
        }
    };
}
pub(crate) use on_both_servers;
