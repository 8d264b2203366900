//! `--infra docker` against a real Docker engine, with the images built offline by
//! `scripts/build-images.sh` (built here first if the engine lacks them). Skipped, with one
//! line saying so, where no engine answers. The tests take turns (one stack at a time) and
//! each checks that its compose project left no container, network or volume behind.

use crate::support::{assert_complete_history, bin, run_command, Invocation};
use cachecheck::infra::{InfraConfig, InfraKind, Service, Stack};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

const DB_IMAGE: &str = "cachecheck/mariadb:local";
const REDIS_IMAGE: &str = "cachecheck/redis:local";
const PROXY_IMAGE: &str = "cachecheck/proxy:local";

/// What the engine offers the tests.
struct Setup {
    /// `$CACHECHECK_PROXY_IMAGE` if set, else `cachecheck/proxy:local`, or `none` when this
    /// cachecheck has no proxy server yet.
    proxy_image: String,
}

static SETUP: OnceLock<Option<Setup>> = OnceLock::new();
static TURN: Mutex<()> = Mutex::new(());

/// The engine and images, checked once; None (after one line on stderr) without an engine.
fn setup() -> Option<(&'static Setup, MutexGuard<'static, ()>)> {
    let s = SETUP.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        let ok = matches!(&info, Ok(o) if o.status.success());
        if !ok {
            let _ = writeln!(
                std::io::stderr(),
                "skipping the docker tests: no Docker engine answers `docker info`"
            );
            return None;
        }
        let mut only = vec![];
        if !image_exists(DB_IMAGE) || !image_exists(REDIS_IMAGE) {
            only.extend(["base", "mariadb", "redis"]);
        }
        let has_proxy_server = Command::new(bin())
            .args(["proxy-server", "--help"])
            .output()
            .is_ok_and(|o| o.status.success());
        let proxy_image = if let Ok(image) = std::env::var("CACHECHECK_PROXY_IMAGE") {
            image
        } else if has_proxy_server {
            // The script skips it when the image already holds this binary.
            only.extend(["base", "proxy"]);
            PROXY_IMAGE.to_string()
        } else {
            let _ = writeln!(
                std::io::stderr(),
                "docker tests run without a fault proxy: this cachecheck has no `proxy-server` command"
            );
            "none".to_string()
        };
        if !only.is_empty() {
            build_images(&only);
        }
        Some(Setup { proxy_image })
    });
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    s.as_ref().map(|s| (s, turn))
}

fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn build_images(only: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-images.sh");
    let mut c = Command::new("bash");
    c.arg(&script).args(["--bin", bin()]);
    for o in only {
        c.args(["--only", o]);
    }
    if only != ["base", "proxy"] {
        let _ = writeln!(
            std::io::stderr(),
            "building the local docker images ({}) with {}: a few minutes",
            only.join(", "),
            script.display()
        );
    }
    let o = c.output().expect("run scripts/build-images.sh");
    assert!(
        o.status.success(),
        "scripts/build-images.sh failed; build the images first (scripts/build-images.sh): {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `cachecheck run` in the background with the local images.
struct Running {
    child: Child,
    tmp: tempfile::TempDir,
    out: PathBuf,
}

fn spawn_run(setup: &Setup, toml: &str, args: &[&str]) -> Running {
    let (mut c, tmp, out) = run_command(toml);
    let child = c
        .args(["--infra", "docker"])
        .args(args)
        .env("CACHECHECK_DB_IMAGE", DB_IMAGE)
        .env("CACHECHECK_REDIS_IMAGE", REDIS_IMAGE)
        .env("CACHECHECK_PROXY_IMAGE", &setup.proxy_image)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cachecheck");
    Running { child, tmp, out }
}

impl Running {
    /// The compose project name prefix of this run (`cachecheck-<pid>-`).
    fn prefix(&self) -> String {
        format!("cachecheck-{}-", self.child.id())
    }

    fn wait(self) -> (Invocation, String) {
        let prefix = self.prefix();
        let o = self.child.wait_with_output().unwrap();
        let run_dir = std::fs::canonicalize(self.out.join("latest")).ok();
        let inv = Invocation {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            run_dir,
            tmp: self.tmp,
        };
        (inv, prefix)
    }

    /// Waits until the strategy's history has at least `n` lines.
    fn wait_for_history(&self, strategy: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let lines = std::fs::read_dir(&self.out)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join(strategy).join("history.jsonl"))
                .filter_map(|p| std::fs::read_to_string(p).ok())
                .map(|t| t.lines().count())
                .max()
                .unwrap_or(0);
            if lines >= n {
                return;
            }
            assert!(Instant::now() < deadline, "no history after 120 s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(o.status.success(), "docker {args:?}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// No container, network or volume whose name starts with `prefix` is left.
fn assert_no_leftovers(prefix: &str) {
    let filter = format!("name={prefix}");
    for (what, format) in [
        (&["ps", "-a"][..], "{{.Names}}"),
        (&["network", "ls"], "{{.Name}}"),
        (&["volume", "ls"], "{{.Name}}"),
    ] {
        let mut args = what.to_vec();
        args.extend(["--filter", &filter, "--format", format]);
        let left = docker_lines(&args);
        assert!(left.is_empty(), "left behind by {prefix}*: {left:?}");
    }
}

/// Removes whatever a kept project left, also when the test fails half-way.
struct RemoveOnDrop(String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let filter = format!("name={}", self.0);
        let ids = docker_lines(&["ps", "-aq", "--filter", &filter]);
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = Command::new("docker").args(&args).output();
        }
        for net in docker_lines(&["network", "ls", "-q", "--filter", &filter]) {
            let _ = Command::new("docker")
                .args(["network", "rm", &net])
                .output();
        }
    }
}

/// The container id of `service` in the run's project.
fn container(prefix: &str, service: &str) -> String {
    let svc = format!("label=com.docker.compose.service={service}");
    let name = format!("name={prefix}");
    docker_lines(&["ps", "-aq", "--filter", &name, "--filter", &svc])
        .pop()
        .unwrap_or_else(|| panic!("no {service} container for {prefix}"))
}

/// Every value acknowledged by an `ok` write is in commits.jsonl; returns (ok writes, commits
/// that are not the initial load).
fn assert_acknowledged_writes_committed(dir: &Path) -> (usize, usize) {
    let read = |f: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let commits = read("commits.jsonl");
    let committed: std::collections::HashSet<(i64, i64)> = commits
        .iter()
        .map(|c| (c["key"].as_i64().unwrap(), c["value"].as_i64().unwrap()))
        .collect();
    let mut invoked = std::collections::HashMap::new();
    let mut ok_writes = 0;
    for e in read("history.jsonl") {
        if e["f"] != "write" || e["process"].as_i64().unwrap() < 0 {
            continue;
        }
        let p = e["process"].as_i64().unwrap();
        match e["type"].as_str().unwrap() {
            "invoke" => {
                invoked.insert(
                    p,
                    (e["key"].as_i64().unwrap(), e["value"].as_i64().unwrap()),
                );
            }
            "ok" => {
                let kv = invoked[&p];
                assert!(committed.contains(&kv), "ok write {kv:?} not committed");
                ok_writes += 1;
            }
            _ => {}
        }
    }
    let written = commits.iter().filter(|c| c["initial"] != true).count();
    (ok_writes, written)
}

const CONTROL: &str = r#"
name = "docker-control"
keys = 8
clients = 8
duration_s = 2.0
read_fraction = 0.5
settle_ms = 200
strategies = ["db-only"]
[strategy.db-only]
expect = ["stale_reads == 0", "converges", "dirty_reads == 0", "impossible_reads == 0"]
"#;

#[test]
fn docker_runs_the_control_end_to_end_and_removes_the_stack() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let (inv, prefix) = spawn_run(setup, CONTROL, &[]).wait();
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    assert!(
        inv.stderr.contains("started docker project cachecheck-"),
        "{}",
        inv.stderr
    );
    let s = inv.summary("db-only");
    assert_eq!(s["infra"], "docker");
    for (name, v) in s["anomalies"].as_object().unwrap() {
        assert_eq!(v.as_u64(), Some(0), "{name} on db-only");
    }
    let dir = inv.strategy_dir("db-only");
    assert_complete_history(&dir);
    let (ok_writes, written) = assert_acknowledged_writes_committed(&dir);
    assert!(ok_writes >= 100, "only {ok_writes} ok writes");
    assert!(
        written >= ok_writes,
        "{written} commits for {ok_writes} ok writes"
    );
    let finals = std::fs::read_to_string(dir.join("final.jsonl")).unwrap();
    assert_eq!(finals.lines().count(), 8);
    let run_dir = inv.run_dir.as_ref().unwrap();
    assert!(run_dir.join("compose.yml").exists());
    assert!(std::fs::read_to_string(run_dir.join("compose.env"))
        .unwrap()
        .contains(&format!("COMPOSE_PROJECT_NAME={prefix}")));
    assert_no_leftovers(&prefix);
}

#[test]
fn docker_kill_and_restart_of_the_database_leaves_a_complete_history() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let toml = r#"
name = "docker-kill"
keys = 8
clients = 4
duration_s = 7.0
read_fraction = 0.5
op_timeout_ms = 500
settle_ms = 200
strategies = ["db-then-delete"]
"#;
    let run = spawn_run(setup, toml, &["-q"]);
    let prefix = run.prefix();
    run.wait_for_history("db-then-delete", 200);
    let db = container(&prefix, "db");
    docker_lines(&["kill", &db]);
    std::thread::sleep(Duration::from_millis(800));
    docker_lines(&["start", &db]);
    let (inv, _) = run.wait();
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    let dir = inv.strategy_dir("db-then-delete");
    assert_complete_history(&dir);
    let (ok_writes, _) = assert_acknowledged_writes_committed(&dir);
    assert!(ok_writes > 0);
    // The kill shows as failed or unknown operations, and the clients recovered after it.
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let events: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &serde_json::Value| e["process"].as_i64().unwrap() >= 0)
        .collect();
    let first_fault = events
        .iter()
        .position(|e| e["f"] == "write" && (e["type"] == "fail" || e["type"] == "info"))
        .expect("no write failed while the database was down");
    let recovered = events[first_fault..]
        .iter()
        .filter(|e| e["f"] == "write" && e["type"] == "ok")
        .count();
    assert!(recovered > 10, "only {recovered} ok writes after the kill");
    assert_no_leftovers(&prefix);
}

#[test]
fn docker_faults_act_on_the_containers() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = InfraConfig {
        kind: InfraKind::Docker,
        db_image: Some(DB_IMAGE.into()),
        redis_image: Some(REDIS_IMAGE.into()),
        proxy_image: Some(setup.proxy_image.clone()),
        ..Default::default()
    };
    let prefix = rt.block_on(async {
        let mut stack = Stack::start(&cfg, dir.path()).await.expect("start");
        let Stack::Docker(d) = &stack else {
            panic!("not a docker stack")
        };
        let prefix = d.project_name().to_string();
        let ep = stack.endpoints().clone();
        let redis_url = ep.redis_url();
        let redis_up = || cachecheck::infra::redis_version(&redis_url);
        let db_up = || cachecheck::infra::db_version(&ep.db);

        stack.pause(Service::Redis).await.unwrap();
        assert!(redis_up().await.is_err(), "redis answered while paused");
        stack.resume(Service::Redis).await.unwrap();
        assert!(
            redis_up().await.is_ok(),
            "redis did not answer after resume"
        );

        stack.partition(Service::Db).await.unwrap();
        assert!(
            db_up().await.is_err(),
            "database answered while partitioned"
        );
        stack.heal(Service::Db).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while db_up().await.is_err() {
            assert!(Instant::now() < deadline, "database unreachable after heal");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        stack.kill(Service::Redis).await.unwrap();
        assert!(redis_up().await.is_err(), "redis answered after kill");
        stack.restart(Service::Redis).await.unwrap();
        assert!(redis_up().await.is_ok());
        stack.restart(Service::Db).await.unwrap();
        assert!(db_up().await.is_ok());

        if setup.proxy_image != "none" {
            // A proxy created through the REST API is reachable from the host at the slot's
            // published address and reaches Redis by service name.
            let (listen, host) = stack.proxy_listen(2).expect("a proxy slot");
            let upstream = stack.proxy_upstream(Service::Redis).unwrap();
            let api = ep.toxiproxy_api.clone().unwrap();
            let body =
                serde_json::json!({"name": "redis-test", "listen": listen, "upstream": upstream});
            let status = http_post(&api, "/proxies", &body.to_string());
            assert!(status == 201 || status == 200, "POST /proxies: {status}");
            let via = format!("redis://{host}/");
            assert!(cachecheck::infra::redis_version(&via).await.is_ok());
        } else {
            assert!(stack.proxy_listen(0).is_none());
        }
        stack.pause(Service::Redis).await.unwrap();
        stack.stop().await;
        prefix
    });
    assert_no_leftovers(&prefix);
}

/// POSTs JSON to `api` + `path` and returns the HTTP status.
fn http_post(api: &str, path: &str, body: &str) -> u16 {
    use std::io::Read;
    let hostport = api.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(hostport).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn docker_keep_leaves_the_stack_and_prints_how_to_stop_it() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let (inv, prefix) = spawn_run(setup, CONTROL, &["-q", "--duration", "0.5", "--keep"]).wait();
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    let line = inv
        .stderr
        .lines()
        .find(|l| l.contains("stop it with: "))
        .unwrap_or_else(|| panic!("no stop command in: {}", inv.stderr));
    let cmd = line.split("stop it with: ").nth(1).unwrap();
    let _cleanup = RemoveOnDrop(prefix.clone());
    let running = docker_lines(&["ps", "-q", "--filter", &format!("name={prefix}")]);
    let services = if setup.proxy_image == "none" { 2 } else { 3 };
    assert_eq!(running.len(), services, "the stack should still run");
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(
        o.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_no_leftovers(&prefix);
}

#[test]
fn docker_ctrl_c_stops_the_run_and_removes_the_stack() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let toml = CONTROL.replace("duration_s = 2.0", "duration_s = 30.0");
    let run = spawn_run(setup, &toml, &["-q"]);
    let prefix = run.prefix();
    run.wait_for_history("db-only", 50);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(run.child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let (inv, _) = run.wait();
    assert_eq!(inv.code, 2, "stderr: {}", inv.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(inv.stderr.contains("interrupted"), "{}", inv.stderr);
    assert_complete_history(&inv.strategy_dir("db-only"));
    assert_no_leftovers(&prefix);
}

#[test]
fn docker_missing_image_is_one_line_naming_the_fix() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("w.toml");
    std::fs::write(&wl, CONTROL).unwrap();
    let o = Command::new(bin())
        .arg("run")
        .arg(&wl)
        .arg("--out")
        .arg(tmp.path().join("results"))
        .args(["--infra", "docker", "-q"])
        .env("CACHECHECK_DB_IMAGE", "cachecheck/no-such-image:none")
        .env("CACHECHECK_PROXY_IMAGE", &setup.proxy_image)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cachecheck/no-such-image:none") && stderr.contains("fix:"),
        "{stderr}"
    );
}

#[test]
fn docker_kill_9_leaves_a_stack_the_next_run_removes() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let toml = CONTROL.replace("duration_s = 2.0", "duration_s = 30.0");
    let mut run = spawn_run(setup, &toml, &["-q"]);
    let prefix = run.prefix();
    run.wait_for_history("db-only", 50);
    // SAFETY: kill(2) on our own child. SIGKILL: no cleanup code of the harness runs.
    unsafe { libc::kill(run.child.id() as i32, libc::SIGKILL) };
    run.child.wait().unwrap();
    let _cleanup = RemoveOnDrop(prefix.clone());
    let left = docker_lines(&["ps", "-aq", "--filter", &format!("name={prefix}")]);
    assert!(
        !left.is_empty(),
        "the dead run's containers are there to clean up"
    );

    let (inv, _) = spawn_run(setup, CONTROL, &["-q", "--duration", "0.3"]).wait();
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    assert!(
        inv.stderr
            .contains("removed the containers of a run that died"),
        "{}",
        inv.stderr
    );
    assert_no_leftovers(&prefix);
}
