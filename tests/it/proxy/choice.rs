//! Naming the fault proxy server of a run: `[infra] proxy = "auto" | "toxiproxy" | "builtin"`
//! and `CACHECHECK_TOXIPROXY`; the start-up line and summary.json's `proxy` say which ran.

use crate::support::{run_command, toxiproxy, ProxyServer};

const WORKLOAD: &str = r#"
name = "choice"
keys = 2
clients = 2
duration_s = 0.3
strategies = ["db-only"]
"#;

/// `cachecheck run` on `toml` (not quiet) with `env` set: (exit code, stderr, the run's
/// summary.json if one was written).
fn run_with(toml: &str, env: &[(&str, &str)]) -> (i32, String, Option<serde_json::Value>) {
    let (mut c, _tmp, out) = run_command(toml);
    c.env_remove("CACHECHECK_TOXIPROXY");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let summary = std::fs::read_to_string(out.join("latest/db-only/summary.json"))
        .ok()
        .map(|t| serde_json::from_str(&t).unwrap());
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    (o.status.code().unwrap_or(-1), stderr, summary)
}

#[test]
fn a_missing_toxiproxy_is_a_one_line_error_naming_the_fix() {
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let toml = ProxyServer::Toxiproxy.workload(WORKLOAD);
    let (code, stderr, summary) = run_with(&toml, &[("PATH", path), ("CACHECHECK_PATH_ONLY", "1")]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("toxiproxy-server not found (fix: "),
        "{stderr}"
    );
    assert!(stderr.contains("CACHECHECK_TOXIPROXY=") && stderr.contains("proxy = \"builtin\""));
    assert!(summary.is_none());
    // A CACHECHECK_TOXIPROXY that names no executable is an error too, also under `auto`.
    let (code, stderr, _) = run_with(
        WORKLOAD,
        &[("CACHECHECK_TOXIPROXY", "/nonexistent/toxiproxy-server")],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("CACHECHECK_TOXIPROXY=/nonexistent/toxiproxy-server"),
        "{stderr}"
    );
    // `proxy` is for local stacks.
    let toml = format!("{WORKLOAD}[infra]\nkind = \"docker\"\nproxy = \"builtin\"\n");
    let (code, stderr, _) = run_with(&toml, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("infra.proxy"), "{stderr}");
}

#[test]
fn the_run_says_which_server_it_used_and_summary_json_records_it() {
    let (code, stderr, summary) = run_with(&ProxyServer::Builtin.workload(WORKLOAD), &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(
            "fault proxy (builtin 2.12.0+cachecheck: cachecheck proxy-server) on 127.0.0.1:"
        ),
        "{stderr}"
    );
    let summary = summary.unwrap();
    assert_eq!(
        summary["proxy"],
        serde_json::json!({"name": "builtin", "version": "2.12.0+cachecheck"})
    );
    // No proxy, no field.
    let direct = format!("{WORKLOAD}[infra]\ndirect = true\n");
    let (code, stderr, summary) = run_with(&direct, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("fault proxy"), "{stderr}");
    assert!(summary.unwrap().get("proxy").is_none());

    let Some(real) = ProxyServer::Toxiproxy.available().then(toxiproxy).flatten() else {
        return;
    };
    // `auto` takes CACHECHECK_TOXIPROXY.
    let real = real.to_str().unwrap();
    let (code, stderr, summary) = run_with(WORKLOAD, &[("CACHECHECK_TOXIPROXY", real)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "fault proxy (toxiproxy 2.12.0: {real}) on 127.0.0.1:"
        )),
        "{stderr}"
    );
    assert_eq!(
        summary.unwrap()["proxy"],
        serde_json::json!({"name": "toxiproxy", "version": "2.12.0"})
    );
    // `builtin` wins over it.
    let toml = ProxyServer::Builtin.workload(WORKLOAD);
    let (code, stderr, summary) = run_with(&toml, &[("CACHECHECK_TOXIPROXY", real)]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary.unwrap()["proxy"]["name"], "builtin");
}
