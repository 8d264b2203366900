//! `--infra docker` against a real Docker engine, with the local images cachecheck builds
//! itself. The first docker test to run does it the way a new user does: one `cachecheck run
//! --infra docker` on an engine without the images (this checkout's test tag, see [`tag`]),
//! which builds them from Debian's packages and gets to a result; the other tests use those
//! images. Skipped, with one line saying so, where no engine answers. The tests take turns
//! (one stack at a time) and each checks that its compose project left no container, network
//! or volume behind.

use crate::support::{
    assert_complete_history, bin, cachecheck, output_of, run_command, Invocation,
};
use cachecheck::infra::{InfraConfig, InfraKind, Service, Stack};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The image variables of the harness, cleared for the runs here.
const IMAGE_VARS: [&str; 4] = [
    "CACHECHECK_DB_IMAGE",
    "CACHECHECK_REDIS_IMAGE",
    "CACHECHECK_PROXY_IMAGE",
    "CACHECHECK_IMAGE_TAG",
];

/// The tag of this checkout's test images, `it-<hash of the checkout's path>`: two checkouts
/// sharing an engine never build or remove each other's images, and a user's `local` ones are
/// left alone.
fn tag() -> String {
    // FNV-1a, stable across Rust versions.
    let h = env!("CARGO_MANIFEST_DIR")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
    format!("it-{:08x}", h as u32)
}

fn image(name: &str) -> String {
    format!("cachecheck/{name}:{}", tag())
}

/// The from-nothing run: `cachecheck run` on an engine without the test images.
struct Fresh {
    inv: Invocation,
    prefix: String,
    secs: f64,
}

/// What the engine offers the tests.
struct Setup {
    /// `cachecheck/toxiproxy:<tag>` when a real toxiproxy-server is found (as `cachecheck
    /// images build` finds it), else `cachecheck/proxy:<tag>`, the built-in server.
    proxy_image: String,
    /// Whether the proxy image holds the real Toxiproxy.
    real_toxiproxy: bool,
    /// The from-nothing run, when the setup did it (the images were missing).
    fresh: Mutex<Option<Fresh>>,
}

static SETUP: OnceLock<Option<Setup>> = OnceLock::new();
static TURN: Mutex<()> = Mutex::new(());

/// Whether a real toxiproxy-server is found from this checkout (PATH, CACHECHECK_TOXIPROXY,
/// ../shared/toxiproxy/bin).
fn real_toxiproxy() -> bool {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/toxiproxy/bin/toxiproxy-server");
    std::env::var_os("CACHECHECK_TOXIPROXY").is_some()
        || shared.is_file()
        || Command::new("toxiproxy-server")
            .arg("-version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// The engine and images, checked once; None (after one line on stderr) without an engine.
fn setup() -> Option<(&'static Setup, MutexGuard<'static, ()>)> {
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = SETUP.get_or_init(|| {
        let info = Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .output();
        if !matches!(&info, Ok(o) if o.status.success()) {
            let _ = writeln!(
                std::io::stderr(),
                "skipping the docker tests: no Docker engine answers `docker info`"
            );
            return None;
        }
        let real = real_toxiproxy();
        if !real {
            let _ = writeln!(
                std::io::stderr(),
                "docker tests: no toxiproxy-server found: the stack's fault proxy is the built-in one"
            );
        }
        let proxy_image = image(if real { "toxiproxy" } else { "proxy" });
        let have = ["mariadb", "redis"]
            .iter()
            .all(|n| image_exists(&image(n)))
            && image_exists(&proxy_image);
        let fresh = (!have).then(from_nothing);
        Some(Setup {
            proxy_image,
            real_toxiproxy: real,
            fresh: Mutex::new(fresh),
        })
    });
    s.as_ref().map(|s| (s, turn))
}

/// Removes the test images, then runs the control workload with `--infra docker` and nothing
/// but the tag set, as a new user would: it builds the images and gets to a result.
fn from_nothing() -> Fresh {
    let (code, out, err) = cachecheck(&["images", "remove", "--tag", &tag()], None);
    assert_eq!(code, 0, "images remove: {out}{err}");
    let _ = writeln!(
        std::io::stderr(),
        "docker tests: one `cachecheck run --infra docker` builds the {} images from nothing: a few minutes",
        tag()
    );
    let t0 = Instant::now();
    let (mut c, tmp, out) = run_command(CONTROL);
    for v in IMAGE_VARS {
        c.env_remove(v);
    }
    // The official images, when an engine has them, win over local ones: name ours then, so
    // that the run still builds them.
    if image_exists("mysql:8")
        || image_exists("redis:7")
        || image_exists("ghcr.io/shopify/toxiproxy")
    {
        c.env("CACHECHECK_DB_IMAGE", image("mariadb"))
            .env("CACHECHECK_REDIS_IMAGE", image("redis"));
    }
    let child = c
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--infra", "docker"])
        .env("CACHECHECK_IMAGE_TAG", tag())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cachecheck");
    let (inv, prefix) = Running { child, tmp, out }.wait();
    let secs = t0.elapsed().as_secs_f64();
    let _ = writeln!(
        std::io::stderr(),
        "docker tests: the run from nothing took {secs:.0} s"
    );
    Fresh { inv, prefix, secs }
}

/// `cachecheck ARGS` with environment changes (None removes the variable) in `cwd`: (exit
/// code, stdout, stderr).
fn cachecheck_with(
    args: &[&str],
    vars: &[(&str, Option<&str>)],
    cwd: Option<&Path>,
) -> (i32, String, String) {
    let mut c = Command::new(bin());
    c.args(args);
    for (k, v) in vars {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    output_of(&mut c)
}

fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `cachecheck run` in the background with the local images.
struct Running {
    child: Child,
    tmp: tempfile::TempDir,
    out: PathBuf,
}

fn spawn_run(setup: &Setup, toml: &str, args: &[&str]) -> Running {
    spawn_run_with(setup, toml, args, &[])
}

/// [`spawn_run`] with more variables (they win over the test images).
fn spawn_run_with(setup: &Setup, toml: &str, args: &[&str], vars: &[(&str, &str)]) -> Running {
    let (mut c, tmp, out) = run_command(toml);
    let child = c
        .args(["--infra", "docker"])
        .args(args)
        .env_remove("CACHECHECK_IMAGE_TAG")
        .env("CACHECHECK_DB_IMAGE", image("mariadb"))
        .env("CACHECHECK_REDIS_IMAGE", image("redis"))
        .env("CACHECHECK_PROXY_IMAGE", &setup.proxy_image)
        .envs(vars.iter().copied())
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
        db_image: Some(image("mariadb")),
        redis_image: Some(image("redis")),
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
    assert_eq!(running.len(), 3, "the stack should still run");
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
    let missing = [("CACHECHECK_DB_IMAGE", "example/no-such-image:none")];
    let (inv, _) = spawn_run_with(setup, CONTROL, &["-q"], &missing).wait();
    let stderr = &inv.stderr;
    assert_eq!(inv.code, 2, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("example/no-such-image:none") && stderr.contains("fix:"),
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

#[test]
fn docker_run_from_an_engine_without_the_images_builds_them_and_gets_a_result() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let taken = setup.fresh.lock().unwrap().take();
    let fresh = taken.unwrap_or_else(from_nothing);
    let inv = &fresh.inv;
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    let err = &inv.stderr;
    // Said once, with progress, and how long it took.
    assert_eq!(err.matches("building the local images").count(), 1, "{err}");
    for step in [
        "images: base: downloading",
        "images: base: installing them with dpkg",
        "images: mariadb: docker build",
        "images: redis: docker build",
    ] {
        assert!(err.contains(step), "no `{step}` in: {err}");
    }
    assert!(err.contains("built the local images in "), "{err}");
    let started = err
        .lines()
        .find(|l| l.starts_with("started docker project"))
        .unwrap_or_else(|| panic!("no start-up line in: {err}"));
    assert!(started.contains(&image("mariadb")), "{started}");
    assert!(started.contains(&image("redis")), "{started}");
    let proxy = if setup.real_toxiproxy {
        "fault proxy Toxiproxy 2.12.0"
    } else {
        "fault proxy cachecheck proxy-server"
    };
    assert!(started.contains(proxy), "{started}");
    let s = inv.summary("db-only");
    assert_eq!(s["infra"], "docker");
    assert_complete_history(&inv.strategy_dir("db-only"));
    assert_no_leftovers(&fresh.prefix);
    for name in ["base", "mariadb", "redis"] {
        assert!(image_exists(&image(name)), "{} was not built", image(name));
    }
    assert!(image_exists(&setup.proxy_image));
    let _ = writeln!(
        std::io::stderr(),
        "docker: from nothing to a result in {:.0} s",
        fresh.secs
    );
}

#[test]
fn docker_stack_runs_the_real_toxiproxy() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    if !setup.real_toxiproxy {
        let _ = writeln!(
            std::io::stderr(),
            "skipping docker_stack_runs_the_real_toxiproxy: no toxiproxy-server found (CACHECHECK_TOXIPROXY, PATH, ../shared/toxiproxy/bin)"
        );
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = InfraConfig {
        kind: InfraKind::Docker,
        db_image: Some(image("mariadb")),
        redis_image: Some(image("redis")),
        proxy_image: Some(image("toxiproxy")),
        ..Default::default()
    };
    let prefix = rt.block_on(async {
        let stack = Stack::start(&cfg, dir.path()).await.expect("start");
        let Stack::Docker(d) = &stack else {
            panic!("not a docker stack")
        };
        let prefix = d.project_name().to_string();
        // Toxiproxy answers its own version; the built-in server says 2.12.0+cachecheck.
        assert_eq!(d.proxy_version.as_deref(), Some("2.12.0"));
        assert!(stack.describe().contains("fault proxy Toxiproxy 2.12.0"));
        // A proxy in front of Redis with a 300 ms latency toxic: PING through it takes that
        // long, PING straight to Redis does not.
        let api = stack.endpoints().toxiproxy_api.clone().unwrap();
        let (listen, host) = stack.proxy_listen(1).unwrap();
        let upstream = stack.proxy_upstream(Service::Redis).unwrap();
        let body = serde_json::json!({"name": "cache", "listen": listen, "upstream": upstream});
        assert_eq!(http_post(&api, "/proxies", &body.to_string()), 201);
        let toxic = serde_json::json!({"type": "latency", "stream": "downstream", "attributes": {"latency": 300}});
        assert_eq!(http_post(&api, "/proxies/cache/toxics", &toxic.to_string()), 200);
        let ping = |url: String| async move {
            let t0 = Instant::now();
            cachecheck::infra::redis_version(&url).await.expect("redis through the proxy");
            t0.elapsed()
        };
        let direct = ping(stack.endpoints().redis_url()).await;
        let through = ping(format!("redis://{host}/")).await;
        assert!(through >= Duration::from_millis(300), "{through:?} through the latency toxic");
        assert!(direct < Duration::from_millis(300), "{direct:?} straight to Redis");
        stack.stop().await;
        prefix
    });
    assert_no_leftovers(&prefix);
}

#[test]
fn docker_compose_failure_reason_reaches_the_error_line() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    // The base image has no database: compose cannot start the db container's command.
    let base = image("base");
    let run = spawn_run_with(setup, CONTROL, &["-q"], &[("CACHECHECK_DB_IMAGE", &base)]);
    let (inv, prefix) = run.wait();
    assert_eq!(inv.code, 2, "stderr: {}", inv.stderr);
    let err = inv.stderr.trim();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("up -d --no-build db redis proxy` failed"),
        "{err}"
    );
    assert!(err.contains("Cannot start service db"), "{err}");
    assert!(
        err.contains(r#"exec: "--server-id=1": executable file not found"#),
        "{err}"
    );
    assert!(!err.contains("Encountered errors"), "{err}");
    assert_no_leftovers(&prefix);
}

#[test]
fn docker_builtin_proxy_image_is_the_fallback_without_toxiproxy() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    // No toxiproxy-server anywhere: not on PATH, not named, no ../shared beside the directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out, err) = cachecheck_with(
        &["images", "build", "--tag", &tag()],
        &[
            ("PATH", Some("/usr/bin:/bin")),
            ("CACHECHECK_PATH_ONLY", Some("1")),
            ("CACHECHECK_TOXIPROXY", None),
        ],
        Some(elsewhere.path()),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("no toxiproxy-server found"), "{err}");
    // The default set has the built-in proxy in it, not cachecheck/toxiproxy.
    assert!(!out.contains(&image("toxiproxy")), "{out}");
    assert!(image_exists(&image("proxy")), "{out}");
    let (inv, prefix) = spawn_run_with(
        setup,
        CONTROL,
        &["--duration", "0.5"],
        &[("CACHECHECK_PROXY_IMAGE", &image("proxy"))],
    )
    .wait();
    assert_eq!(inv.code, 0, "stderr: {}", inv.stderr);
    assert!(
        inv.stderr.contains(&format!(
            "fault proxy cachecheck proxy-server 2.12.0+cachecheck ({})",
            image("proxy")
        )),
        "{}",
        inv.stderr
    );
    assert_no_leftovers(&prefix);
}

#[test]
fn docker_images_list_and_remove() {
    let Some((_setup, _turn)) = setup() else {
        return;
    };
    let t = tag();
    let (code, out, err) = cachecheck(&["images", "build", "proxy", "--tag", &t], None);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = cachecheck(&["images", "list", "--tag", &t], None);
    assert_eq!(code, 0, "{err}");
    let row = |out: &str, name: &str| -> String {
        out.lines()
            .find(|l| l.starts_with(&image(name)))
            .unwrap_or_else(|| panic!("no {name} row in {out}"))
            .to_string()
    };
    for name in ["base", "mariadb", "redis", "proxy"] {
        let r = row(&out, name);
        assert!(r.contains(" MB ") && !r.contains("not built"), "{r}");
    }
    assert!(row(&out, "base").contains("Debian bookworm"), "{out}");
    assert!(
        row(&out, "proxy").contains("cachecheck proxy-server 2.12.0+cachecheck"),
        "{out}"
    );

    let (code, out, err) = cachecheck(&["images", "remove", "proxy", "--tag", &t], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("images: removed {}", image("proxy")));
    assert!(!image_exists(&image("proxy")));
    assert!(
        image_exists(&image("redis")),
        "remove took more than it was asked"
    );
    let (_, out, _) = cachecheck(&["images", "list", "--tag", &t], None);
    assert!(row(&out, "proxy").contains("not built"), "{out}");
    let (code, out, _) = cachecheck(&["images", "remove", "proxy", "--tag", &t], None);
    assert_eq!(
        (code, out.trim()),
        (0, format!("images: {}: not built", image("proxy")).as_str())
    );
    let (code, _, err) = cachecheck(&["images", "list", "--tag", "bad tag"], None);
    assert_eq!(code, 2);
    assert!(err.contains("not a Docker tag"), "{err}");
}

#[test]
fn docker_images_build_with_an_unreachable_mirror_is_one_line() {
    let Some((_setup, _turn)) = setup() else {
        return;
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mirror = format!("http://{closed}/debian");
    let (code, _, err) = cachecheck_with(
        &["images", "build", "base", "--tag", "it-unreachable"],
        &[("CACHECHECK_DEBIAN_MIRROR", Some(&mirror))],
        None,
    );
    assert_eq!(code, 2, "{err}");
    let line = err.lines().last().unwrap_or_default();
    assert!(line.starts_with("cachecheck: error: "), "{err}");
    assert!(line.contains(&mirror) && line.contains("(fix: "), "{err}");
    assert!(!image_exists("cachecheck/base:it-unreachable"));
}

#[test]
fn images_build_without_docker_names_the_command_that_installs_it() {
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let (code, _, err) = cachecheck_with(
        &["images", "build"],
        &[("PATH", Some(path)), ("CACHECHECK_PATH_ONLY", Some("1"))],
        None,
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("docker not found (fix: apt-get install docker.io"),
        "{err}"
    );
}

/// Strategy `service` on Docker infra: the service runs on the host, started by cachecheck,
/// and reaches the role proxies through their published 127.0.0.1 ports; a latency fault on
/// `cache-write` and a `kill` of the service act as on local infra
/// ([`crate::service::assert_ran_elsewhere`]).
#[test]
fn docker_service_reaches_the_role_proxies_and_is_killed_and_judged() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let mark = "docker-service";
    let run = spawn_run(setup, &crate::service::elsewhere_workload(mark), &["-q"]);
    let (inv, prefix) = run.wait();
    assert_eq!(inv.summary("service")["infra"], "docker");
    crate::service::assert_ran_elsewhere(&inv, mark);
    assert_no_leftovers(&prefix);
}

const REPLICA: &str = r#"
name = "docker-replica"
keys = 8
clients = 6
read_fraction = 0.5
duration_s = 2.5
op_timeout_ms = 1000
strategies = ["db-then-delete"]
[strategy.db-then-delete]
fill_from = "replica"
[infra]
db_replicas = 1
[[nemesis]]
fault = "replica-lag"
mode = "stop-sql"
at_s = 0.5
duration_s = 1.0
"#;

/// `db_replicas = 1` on docker: a `db-replica-1` service of the run's project replicates from
/// the primary through the `replication` proxy; misses read it (`source: "replica"`), the lag
/// is sampled and visible under a stop-sql fault, the replica caught up at the end with exactly
/// the primary's commits, and nothing is left.
#[test]
fn docker_replica_serves_fills_lags_and_catches_up() {
    let Some((setup, _turn)) = setup() else {
        return;
    };
    let (inv, prefix) = spawn_run(setup, REPLICA, &[]).wait();
    assert_eq!(inv.code, 0, "{}\n{}", inv.stdout, inv.stderr);
    assert!(
        inv.stderr.contains(", 1 replica on 127.0.0.1:"),
        "{}",
        inv.stderr
    );
    let s = inv.summary("db-then-delete");
    assert_eq!(s["infra"], "docker");
    let faults = s["faults"].as_array().unwrap();
    assert!(!faults.is_empty());
    for f in faults {
        assert!(f["error"].is_null(), "{f}");
    }
    let r = &s["replicas"]["replica-1"];
    assert_eq!(r["matches_primary"], true, "{r}");
    assert!(r["commits"].as_u64().unwrap() > 8, "{r}");
    let lag = &s["replica_lag_ms"];
    assert!(lag["count"].as_u64().unwrap() > 0, "{lag}");
    assert!(lag["max"].as_f64().unwrap() > 100.0, "no lag seen: {lag}");
    let history =
        std::fs::read_to_string(inv.strategy_dir("db-then-delete").join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"source\":\"replica\""),
        "no read from the replica"
    );
    let compose = inv.run_dir.as_ref().unwrap().join("compose.replicas.yml");
    assert!(std::fs::read_to_string(compose)
        .unwrap()
        .contains("db-replica-1:"));
    assert_no_leftovers(&prefix);
}
