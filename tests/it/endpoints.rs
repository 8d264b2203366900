//! Real endpoints through `--redis-url` / `--db-url` (issue 15 item 6): a password-protected
//! Redis (`requirepass` and an ACL user) and a TLS Redis (a self-signed certificate made here
//! with openssl), each run as an external endpoint behind the run's per-role fault proxies.
//! The password must never appear in the output or the result directory.
//!
//! Regression: the password of `redis://:PASS@host` was dropped when the per-role URLs were
//! rebuilt from host and port, and every cache operation failed with NOAUTH.

use crate::support::{assert_complete_history, bin, run_workload};
use cachecheck::infra::local::LocalInfra;
use cachecheck::infra::process::{free_port, ManagedProcess};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PASSWORD: &str = "pw-7f3kQz9-never-printed";
const ACL_PASSWORD: &str = "acl-Xq82-never-printed";

const WORKLOAD: &str = r#"
name = "endpoints"
keys = 4
clients = 4
duration_s = 1.0
settle_ms = 100
strategies = ["db-then-delete"]
"#;

/// A private redis-server with extra arguments, waited for until `probe` (redis-cli
/// arguments) answers PONG.
fn redis_server(dir: &Path, name: &str, args: &[String], probe: &[String]) -> ManagedProcess {
    let mut all = vec![
        "--bind".to_string(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.to_str().unwrap().into(),
    ];
    all.extend(args.iter().cloned());
    let mut p = ManagedProcess::new(
        name,
        PathBuf::from("redis-server"),
        all,
        dir.join(format!("{name}.log")),
    );
    p.spawn().expect("redis-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = Command::new("redis-cli")
            .args(probe)
            .arg("ping")
            .env("REDISCLI_AUTH", PASSWORD)
            .output()
            .expect("redis-cli");
        if String::from_utf8_lossy(&out.stdout).contains("PONG") {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not start: {}",
            p.log_tail(20)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every file under `dir` and the run's output, checked for the secrets.
fn assert_no_secret(dir: &Path, text: &str) {
    for secret in [PASSWORD, ACL_PASSWORD] {
        assert!(!text.contains(secret), "secret in the output: {text}");
        let grep = Command::new("grep")
            .args(["-r", "-l", "-a", secret])
            .arg(dir)
            .output()
            .unwrap();
        let hits = String::from_utf8_lossy(&grep.stdout);
        assert!(hits.trim().is_empty(), "secret in result files: {hits}");
    }
}

/// One run against `redis_url` through per-role proxies; asserts it ran clean.
fn run_ok(db_url: &str, redis_url: &str, proxy_api: &str) {
    let inv = run_workload(
        WORKLOAD,
        &[
            "--db-url",
            db_url,
            "--redis-url",
            redis_url,
            "--toxiproxy-url",
            proxy_api,
        ],
    );
    let all = format!("{}\n{}", inv.stdout, inv.stderr);
    assert_eq!(inv.code, 0, "{all}");
    let dir = inv.strategy_dir("db-then-delete");
    assert_complete_history(&dir);
    let s = inv.summary("db-then-delete");
    assert!(
        s["ops"]["read"]["ok"].as_u64().unwrap_or(0) > 0
            && s["ops"]["write"]["ok"].as_u64().unwrap_or(0) > 0,
        "no read or no write succeeded: {}",
        s["ops"]
    );
    assert_no_secret(dir.parent().unwrap(), &all);
}

/// A run that must be refused (exit 2, one line) without printing the secret.
fn run_refused(db_url: &str, redis_url: &str, needle: &str) {
    let inv = run_workload(WORKLOAD, &["--db-url", db_url, "--redis-url", redis_url]);
    let all = format!("{}\n{}", inv.stdout, inv.stderr);
    assert_eq!(inv.code, 2, "{all}");
    assert!(inv.stderr.contains(needle), "{all}");
    assert_eq!(inv.stderr.trim().lines().count(), 1, "{all}");
    for secret in [PASSWORD, ACL_PASSWORD] {
        assert!(!all.contains(secret), "secret in the error: {all}");
    }
}

#[test]
fn password_acl_and_tls_redis_work_as_external_endpoints_and_never_show_the_password() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The server processes are tokio children: spawned and reaped inside the runtime.
    let _in_rt = rt.enter();
    let infra = rt.block_on(LocalInfra::start(None)).expect("local servers");
    let ep = infra.endpoints.clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The built-in fault proxy, for the per-role proxies the credentials must pass through.
    let api_port = free_port().unwrap();
    let mut proxy = ManagedProcess::new(
        "fault proxy",
        PathBuf::from(bin()),
        vec![
            "proxy-server".into(),
            "--listen".into(),
            format!("127.0.0.1:{api_port}"),
        ],
        d.join("proxy.log"),
    );
    proxy.spawn().expect("proxy-server starts");
    let api = format!("http://127.0.0.1:{api_port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.block_on(cachecheck::infra::proxy_version(&api)).is_err() {
        assert!(Instant::now() < deadline, "proxy: {}", proxy.log_tail(20));
        std::thread::sleep(Duration::from_millis(50));
    }

    // requirepass, and an ACL user beside it.
    let port = free_port().unwrap();
    let _auth = redis_server(
        d,
        "auth",
        &[
            "--port".into(),
            port.to_string(),
            "--requirepass".into(),
            PASSWORD.into(),
            "--user".into(),
            "app".into(),
            "on".into(),
            format!(">{ACL_PASSWORD}"),
            "~*".into(),
            "&*".into(),
            "+@all".into(),
        ],
        &["-p".into(), port.to_string()],
    );

    // TLS only, with a self-signed certificate for 127.0.0.1, and a password.
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{made:?}");
    let tls_port = free_port().unwrap();
    let cert_s = cert.to_str().unwrap().to_string();
    let _tls = redis_server(
        d,
        "tls",
        &[
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            cert_s.clone(),
            "--tls-key-file".into(),
            key.to_str().unwrap().into(),
            "--tls-auth-clients".into(),
            "no".into(),
            "--requirepass".into(),
            PASSWORD.into(),
        ],
        &[
            "--tls".into(),
            "--cacert".into(),
            cert_s.clone(),
            "-p".into(),
            tls_port.to_string(),
        ],
    );

    let db_url = format!("mysql://root@127.0.0.1:{}/cc_endpoints", ep.db.port);
    run_ok(
        &db_url,
        &format!("redis://:{PASSWORD}@127.0.0.1:{port}"),
        &api,
    );
    run_ok(
        &db_url,
        &format!("redis://app:{ACL_PASSWORD}@127.0.0.1:{port}/0"),
        &api,
    );
    run_ok(
        &db_url,
        &format!("rediss://:{PASSWORD}@127.0.0.1:{tls_port}/?ca_file={cert_s}"),
        &api,
    );

    // Refusals name the problem and never the password.
    run_refused(
        &db_url,
        &format!("redis://127.0.0.1:{port}"),
        "cannot reach redis at redis://127.0.0.1",
    );
    run_refused(
        &db_url,
        &format!("redis://:wrong-{PASSWORD}@127.0.0.1:{port}"),
        "redis://:***@127.0.0.1",
    );
    run_refused(
        &db_url,
        &format!("redis://app:{PASSWORD}@127.0.0.1:{port}"),
        "redis://app:***@127.0.0.1",
    );
    // Without the CA the self-signed certificate is not trusted.
    run_refused(
        &db_url,
        &format!("rediss://:{PASSWORD}@127.0.0.1:{tls_port}"),
        "cannot reach redis at rediss://:***@127.0.0.1",
    );
    run_refused(
        &db_url,
        &format!("redis://:{PASSWORD}@127.0.0.1:{port}/?ca_file={cert_s}"),
        "ca_file needs TLS",
    );

    // MySQL TLS is asked for: the local MariaDB has no certificate, so REQUIRED is refused.
    run_refused(
        &format!("{db_url}?ssl-mode=REQUIRED"),
        &format!("redis://:{PASSWORD}@127.0.0.1:{port}"),
        "cannot reach the database",
    );

    rt.block_on(infra.stop());
}
