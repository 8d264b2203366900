//! The Docker and Compose command lines: which Compose is installed (`docker compose` v2, else
//! `docker-compose` v1), a compose project (its name, files and variables), and the one place
//! that runs `docker`. Every child runs in its own process group, so a Ctrl-C in the terminal
//! reaches only the harness, which then tears the project down in order.

use super::InfraError;
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
    pub env_file: PathBuf,
    /// `CACHECHECK_*` variables (images, host ports), given to compose explicitly so that the
    /// caller's environment cannot change them.
    pub vars: Vec<(String, String)>,
}

impl Project {
    /// Writes `compose.yml` and `compose.env` into `dir` and names a new project.
    pub fn create(tool: ComposeTool, dir: &Path, vars: Vec<(String, String)>) -> Result<Project> {
        let name = format!(
            "cachecheck-{}-{:04x}",
            std::process::id(),
            rand::random::<u16>()
        );
        let file = dir.join("compose.yml");
        let env_file = dir.join("compose.env");
        std::fs::write(&file, COMPOSE_YML)
            .with_context(|| format!("cannot write {}", file.display()))?;
        let mut env =
            format!("# written by cachecheck for `--env-file`\nCOMPOSE_PROJECT_NAME={name}\n");
        env.extend(vars.iter().map(|(k, v)| format!("{k}={v}\n")));
        std::fs::write(&env_file, env)
            .with_context(|| format!("cannot write {}", env_file.display()))?;
        Ok(Project {
            tool,
            name,
            file,
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

/// Runs a command (`what` names it in errors) and returns its stdout; an error carries the
/// last line of its stderr.
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
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("no message");
        anyhow::bail!("`{what}` failed ({}): {last}", out.status);
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
