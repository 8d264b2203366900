//! The Docker and Compose command lines: which Compose is installed (`docker compose` v2, else
//! `docker-compose` v1), a compose project (its name, files and variables), and the one place
//! that runs `docker`. Every child runs in its own process group, so a Ctrl-C in the terminal
//! reaches only the harness, which then tears the project down in order.
//!
//! With `[infra] db_replicas = N` a second compose file, `compose.replicas.yml`
//! ([`replicas_yml`]), adds a service per replica and the proxy ports of the replica roles.

use super::InfraError;
use super::Service;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The compose file, embedded so that an installed binary needs no checkout.
pub const COMPOSE_YML: &str = include_str!("../../docker/compose.yml");

/// Which Compose runs the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeTool {
    /// `docker compose` (the v2 plugin).
    V2,
    /// `docker-compose` (v1, Python).
    V1,
}

impl ComposeTool {
    /// Finds the Docker CLI, a reachable engine and a Compose; every failure names the fix.
    pub async fn detect() -> Result<ComposeTool> {
        check_engine().await?;
        if run(
            &program(ComposeTool::V2),
            &["compose", "version"],
            DOCKER_TIMEOUT,
        )
        .await
        .is_ok_and(|out| !out.trim().is_empty())
        {
            return Ok(ComposeTool::V2);
        }
        if super::process::find_binary(&["docker-compose"]).is_some() {
            return Ok(ComposeTool::V1);
        }
        Err(InfraError::MissingBinary {
            what: "docker compose (v2) or docker-compose (v1)".into(),
            fix: "apt-get install docker-compose".into(),
        }
        .into())
    }

    /// The command words before compose's own arguments, e.g. `docker-compose`.
    pub fn words(self) -> &'static [&'static str] {
        match self {
            ComposeTool::V2 => &["docker", "compose"],
            ComposeTool::V1 => &["docker-compose"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ComposeTool::V2 => "docker compose v2",
            ComposeTool::V1 => "docker-compose v1",
        }
    }
}

/// Finds the Docker CLI and a reachable engine; a failure names the fix.
pub async fn check_engine() -> Result<()> {
    if super::process::find_binary(&["docker"]).is_none() {
        return Err(InfraError::MissingBinary {
            what: "docker".into(),
            fix: "apt-get install docker.io docker-compose, or use --infra local".into(),
        }
        .into());
    }
    if let Err(e) = docker(&["info", "--format", "{{.ServerVersion}}"], DOCKER_TIMEOUT).await {
        return Err(InfraError::Unreachable(format!(
            "the Docker engine is not reachable: {e:#} (fix: start it, e.g. `systemctl start docker`, or use --infra local)"
        ))
        .into());
    }
    Ok(())
}

fn program(tool: ComposeTool) -> String {
    tool.words()[0].to_string()
}

/// Timeout of a quick docker command (inspect, kill, pause, network connect).
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);

/// A compose project: one per run, so that two runs never share containers.
#[derive(Debug, Clone)]
pub struct Project {
    pub tool: ComposeTool,
    /// `cachecheck-<pid>-<random>`.
    pub name: String,
    /// The compose file and its variables, written into the run directory.
    pub file: PathBuf,
    /// `compose.replicas.yml` (with `db_replicas`), given as a second `-f`.
    pub extra_file: Option<PathBuf>,
    pub env_file: PathBuf,
    /// `CACHECHECK_*` variables (images, host ports), given to compose explicitly so that the
    /// caller's environment cannot change them.
    pub vars: Vec<(String, String)>,
}

impl Project {
    /// Writes `compose.yml` and `compose.env` into `dir` and names a new project.
    pub fn create(tool: ComposeTool, dir: &Path, vars: Vec<(String, String)>) -> Result<Project> {
        Self::create_with(tool, dir, vars, None)
    }

    /// [`Project::create`] with a second compose file (`compose.replicas.yml`, its text).
    pub fn create_with(
        tool: ComposeTool,
        dir: &Path,
        vars: Vec<(String, String)>,
        extra: Option<&str>,
    ) -> Result<Project> {
        let name = format!(
            "cachecheck-{}-{:04x}",
            std::process::id(),
            rand::random::<u16>()
        );
        let file = dir.join("compose.yml");
        let env_file = dir.join("compose.env");
        std::fs::write(&file, COMPOSE_YML)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let extra_file = match extra {
            Some(text) => {
                let f = dir.join("compose.replicas.yml");
                std::fs::write(&f, text)
                    .with_context(|| format!("cannot write {}", f.display()))?;
                Some(f)
            }
            None => None,
        };
        let mut env =
            format!("# written by cachecheck for `--env-file`\nCOMPOSE_PROJECT_NAME={name}\n");
        env.extend(vars.iter().map(|(k, v)| format!("{k}={v}\n")));
        std::fs::write(&env_file, env)
            .with_context(|| format!("cannot write {}", env_file.display()))?;
        Ok(Project {
            tool,
            name,
            file,
            extra_file,
            env_file,
            vars,
        })
    }

    fn args<'a>(&'a self, rest: &[&'a str]) -> Vec<String> {
        let mut a: Vec<String> = self.tool.words()[1..]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend([
            "--env-file".into(),
            self.env_file.display().to_string(),
            "-p".into(),
            self.name.clone(),
            "-f".into(),
            self.file.display().to_string(),
        ]);
        if let Some(f) = &self.extra_file {
            a.extend(["-f".into(), f.display().to_string()]);
        }
        a.extend(rest.iter().map(|s| s.to_string()));
        a
    }

    /// Runs `compose <rest>` for this project.
    pub async fn compose(&self, rest: &[&str], timeout: Duration) -> Result<String> {
        let args = self.args(rest);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let what = format!("{} {}", self.tool.words().join(" "), rest.join(" "));
        run_env(&what, &program(self.tool), &refs, &self.vars, timeout).await
    }

    /// `up -d` of the given services (all when empty), without building or pulling.
    pub async fn up(&self, services: &[&str], timeout: Duration) -> Result<()> {
        let mut rest = vec!["up", "-d", "--no-build"];
        rest.extend_from_slice(services);
        self.compose(&rest, timeout).await.map(drop)
    }

    /// `down -v --remove-orphans`: removes the containers, the network and any volume.
    pub async fn down(&self) -> Result<()> {
        self.compose(
            &["down", "-v", "--remove-orphans", "--timeout", "5"],
            Duration::from_secs(120),
        )
        .await
        .map(drop)
    }

    /// The same as [`Project::down`], blocking: for `Drop`, after an error or a cancelled start.
    /// A container whose creation was still under way when `up` was killed is removed too.
    pub fn down_blocking(&self) {
        self.compose_down_blocking();
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let left = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter", &filter])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        if !left.trim().is_empty() {
            let mut rm = std::process::Command::new("docker");
            rm.args(["rm", "-f", "-v"]).args(left.split_whitespace());
            let _ = rm.output();
            self.compose_down_blocking();
        }
    }

    fn compose_down_blocking(&self) {
        let args = self.args(&["down", "-v", "--remove-orphans", "--timeout", "5"]);
        let mut c = std::process::Command::new(program(self.tool));
        c.args(&args)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let _ = c.status();
    }

    /// The command a person runs to remove the project (for `--keep`).
    pub fn down_command(&self) -> String {
        let mut words: Vec<String> = vec![program(self.tool)];
        words.extend(self.args(&["down", "-v"]));
        words.join(" ")
    }

    /// Container ids of the project by service name, from compose's labels.
    pub async fn containers(&self) -> Result<Vec<(String, String)>> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let out = docker(
            &[
                "ps",
                "-a",
                "--no-trunc",
                "--filter",
                &filter,
                "--format",
                "{{.ID}} {{.Label \"com.docker.compose.service\"}}",
            ],
            DOCKER_TIMEOUT,
        )
        .await?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(id, s)| (s.trim().to_string(), id.to_string()))
            .collect())
    }
}

/// Runs `docker <args>` and returns its stdout.
pub async fn docker(args: &[&str], timeout: Duration) -> Result<String> {
    run("docker", args, timeout).await
}

/// Whether an image is present in the engine.
pub async fn image_exists(image: &str) -> bool {
    docker(
        &["image", "inspect", "--format", "{{.Id}}", image],
        DOCKER_TIMEOUT,
    )
    .await
    .is_ok()
}

async fn run(program: &str, args: &[&str], timeout: Duration) -> Result<String> {
    let what = format!("{program} {}", args.first().copied().unwrap_or_default());
    run_env(&what, program, args, &[], timeout).await
}

/// A docker or compose command that failed: its reason (compose's own, see [`reason`]) and
/// whether trying again may help ([`transient`]).
#[derive(Debug, thiserror::Error)]
#[error("`{what}` failed ({status}): {reason}")]
pub struct CommandFailed {
    pub what: String,
    pub status: std::process::ExitStatus,
    pub reason: String,
    pub transient: bool,
}

/// Whether `e` is a failed command that may succeed when tried again.
pub fn is_transient(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<CommandFailed>()
            .is_some_and(|f| f.transient)
    })
}

/// The reason a docker or compose command printed for failing. Compose v1 ends with
/// "Encountered errors while bringing up the project.", which hides the cause: the cause is in
/// its `ERROR: for <container>  <message>` lines (one per container and again per service),
/// and in its other `ERROR:` lines (an HTTP timeout, an address pool). Those messages, once
/// each, joined by ` | `; else the last line (compose v2 and plain docker end with the cause).
pub fn reason(stderr: &str) -> String {
    let mut found: Vec<&str> = Vec::new();
    for line in stderr.lines().map(str::trim) {
        let msg = if let Some(rest) = line.strip_prefix("ERROR: for ") {
            rest.split_once("  ").map(|(_, m)| m.trim()).unwrap_or(rest)
        } else if let Some(rest) = line.strip_prefix("ERROR: ") {
            rest
        } else {
            continue;
        };
        if !msg.is_empty() && !msg.starts_with("Encountered errors") && !found.contains(&msg) {
            found.push(msg);
        }
    }
    if found.is_empty() {
        return stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no message")
            .to_string();
    }
    found.join(" | ")
}

/// Whether a failure's reason is one that goes away when tried again: the engine too slow to
/// answer on a loaded machine, a resource briefly short, an object another command was still
/// removing. (A port taken in the meantime is retried on new ports, see
/// [`super::process::retry_on_port_clash`].)
pub fn transient(reason: &str) -> bool {
    const SIGNS: [&str; 10] = [
        "timed out",
        "timeout",
        "took too long",
        "context deadline exceeded",
        "resource temporarily unavailable",
        "non-overlapping ipv4 address pool",
        "is already in progress",
        "connection reset by peer",
        "device or resource busy",
        "no such container",
    ];
    let r = reason.to_ascii_lowercase();
    SIGNS.iter().any(|s| r.contains(s))
}

/// Runs a command (`what` names it in errors) and returns its stdout; a failure is a
/// [`CommandFailed`] with the command's reason.
async fn run_env(
    what: &str,
    program: &str,
    args: &[&str],
    vars: &[(String, String)],
    timeout: Duration,
) -> Result<String> {
    let mut c = tokio::process::Command::new(program);
    c.args(args)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    let out = tokio::time::timeout(timeout, c.output())
        .await
        .map_err(|_| anyhow::anyhow!("`{what}` timed out after {} s", timeout.as_secs()))?
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        let reason = reason(&String::from_utf8_lossy(&out.stderr));
        return Err(CommandFailed {
            what: what.to_string(),
            status: out.status,
            transient: transient(&reason),
            reason,
        }
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `pid` is a running cachecheck process.
fn cachecheck_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim() == "cachecheck")
        .unwrap_or(false)
}

fn docker_words(args: &[&str]) -> Vec<String> {
    std::process::Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the containers and networks of cachecheck stacks whose harness died (`kill -9`):
/// those labelled with an owner pid that no longer runs cachecheck and not kept with `--keep`.
/// Returns the removed project names.
pub fn remove_dead_projects() -> Vec<String> {
    let listed = docker_words(&[
        "ps",
        "-a",
        "--filter",
        "label=cachecheck.owner-pid",
        "--format",
        "{{.Label \"com.docker.compose.project\"}} {{.Label \"cachecheck.owner-pid\"}} {{.Label \"cachecheck.keep\"}}",
    ]);
    let mut dead: Vec<String> = listed
        .chunks(3)
        .filter(|c| c.len() == 3 && c[2] != "1")
        .filter(|c| c[1].parse().is_ok_and(|pid| !cachecheck_alive(pid)))
        .map(|c| c[0].clone())
        .collect();
    dead.sort();
    dead.dedup();
    for name in &dead {
        let filter = format!("label=com.docker.compose.project={name}");
        let ids = docker_words(&["ps", "-aq", "--filter", &filter]);
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            docker_words(&args);
        }
        for net in docker_words(&["network", "ls", "-q", "--filter", &filter]) {
            docker_words(&["network", "rm", &net]);
        }
    }
    dead
}

/// The compose service of replica `index` (1-based).
pub fn replica_service(index: usize) -> String {
    format!("db-replica-{index}")
}

/// `compose.replicas.yml` for `n` replicas: services `db-replica-1..n` on the primary's image
/// (`CACHECHECK_DB_IMAGE`; a MariaDB image), each with server id `100 + N`, the binlog in ROW
/// format, `log_slave_updates`, `read_only`, replication not started (cachecheck runs `CHANGE
/// MASTER` once the `replication` proxy exists), published on `CACHECHECK_DB_REPLICA_PORT_N`;
/// and the proxy container's ports `first_slot..first_slot+slots` (`CACHECHECK_PROXY_PORT_i`),
/// where the `db-replica` and `replication` proxies listen.
pub fn replicas_yml(n: usize, first_slot: usize, slots: usize) -> String {
    let mut y = String::from(
        "# written by cachecheck for [infra] db_replicas: read replicas of `db` (see compose.yml)\nservices:\n  proxy:\n    ports:\n",
    );
    for i in first_slot..first_slot + slots {
        y.push_str(&format!(
            "      - \"127.0.0.1:${{CACHECHECK_PROXY_PORT_{i}}}:{}\"\n",
            super::docker::PROXY_BASE_PORT as usize + i
        ));
    }
    for index in 1..=n {
        y.push_str(&format!(
            r#"  {service}:
    image: ${{CACHECHECK_DB_IMAGE}}
    labels:
      cachecheck.owner-pid: "${{CACHECHECK_OWNER_PID:-0}}"
      cachecheck.keep: "${{CACHECHECK_KEEP:-0}}"
    environment:
      MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: "1"
      MARIADB_ROOT_HOST: "%"
    command:
      - --server-id={server_id}
      - --log-bin=binlog
      - --binlog-format=ROW
      - --log-slave-updates=ON
      - --read-only=ON
      - --skip-slave-start
      - --relay-log=relay
      - --slave-net-timeout=5
      - --innodb-flush-log-at-trx-commit=2
      - --sync-binlog=0
      - --skip-name-resolve
      - --max-connections=8192
      - --innodb-buffer-pool-size=64M
    ports:
      - "127.0.0.1:${{CACHECHECK_DB_REPLICA_PORT_{index}}}:3306"
    networks: [cachecheck]
"#,
            service = replica_service(index),
            server_id = 100 + index,
        ));
    }
    y
}

/// The compose service name of a service.
pub fn service_name(s: Service) -> &'static str {
    match s {
        Service::Db => "db",
        Service::Redis => "redis",
        Service::Proxy => "proxy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docker-compose 1.29.2's stderr when two containers cannot start (captured here with
    /// images that lack the command).
    const V1_EXEC: &str = r#"Creating network "cfx_cachecheck" with the default driver
Creating cfx_redis_1 ...
Creating cfx_db_1    ...
Creating cfx_redis_1 ... error

ERROR: for cfx_redis_1  Cannot start service redis: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "redis-server": executable file not found in $PATH: unknown
Creating cfx_db_1    ... error

ERROR: for cfx_db_1  Cannot start service db: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "--server-id=1": executable file not found in $PATH: unknown

ERROR: for redis  Cannot start service redis: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "redis-server": executable file not found in $PATH: unknown

ERROR: for db  Cannot start service db: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "--server-id=1": executable file not found in $PATH: unknown
Encountered errors while bringing up the project.
"#;

    #[test]
    fn replicas_yml_has_a_service_per_replica_and_the_replica_slots() {
        let y = replicas_yml(2, 6, 2);
        for want in [
            "  db-replica-1:\n",
            "  db-replica-2:\n",
            "--server-id=101",
            "--server-id=102",
            "--log-slave-updates=ON",
            "--read-only=ON",
            "${CACHECHECK_DB_REPLICA_PORT_2}:3306",
            "\"127.0.0.1:${CACHECHECK_PROXY_PORT_6}:21006\"",
            "\"127.0.0.1:${CACHECHECK_PROXY_PORT_7}:21007\"",
        ] {
            assert!(y.contains(want), "{want} missing from\n{y}");
        }
        assert!(
            !y.contains("db-replica-3") && !y.contains("PROXY_PORT_8"),
            "{y}"
        );
    }

    #[test]
    fn compose_v1_reason_is_each_containers_error_once() {
        let r = reason(V1_EXEC);
        assert_eq!(r.matches(" | ").count(), 1, "{r}");
        assert!(r.starts_with("Cannot start service redis: "), "{r}");
        assert!(
            r.contains(r#"exec: "--server-id=1": executable file not found"#),
            "{r}"
        );
        assert!(!r.contains("Encountered errors"), "{r}");
        assert!(!transient(&r));
    }

    #[test]
    fn an_http_timeout_of_compose_v1_is_transient() {
        let err = "Creating x_db_1 ...\n\nERROR: for x_db_1  UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read timeout=60)\n\nERROR: for db  UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read timeout=60)\nERROR: An HTTP request took too long to complete. Retry with --verbose to obtain debug information.\nEncountered errors while bringing up the project.\n";
        let r = reason(err);
        assert!(r.starts_with("UnixHTTPConnectionPool"), "{r}");
        assert!(r.contains("An HTTP request took too long"), "{r}");
        assert!(transient(&r));
    }

    #[test]
    fn other_output_gives_its_last_line() {
        let v2 = " Container p-db-1  Creating\nError response from daemon: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network\n";
        let r = reason(v2);
        assert!(
            r.starts_with("Error response from daemon: could not find"),
            "{r}"
        );
        assert!(transient(&r));
        assert_eq!(reason(""), "no message");
        assert!(!transient(
            "Bind for 127.0.0.1:5 failed: port is already allocated"
        ));
    }
}
