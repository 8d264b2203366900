//! The service process a `service` strategy starts: argv run from the workload file's
//! directory with the `CACHECHECK_*` environment, stdout and stderr appended to `service.log`
//! in the strategy's result directory, healthy once `GET {health}` answers 200.
//!
//! The process gets its own process group (signals reach a wrapper's children too) and dies
//! with the harness (PR_SET_PDEATHSIG). Faults `kill` and `pause` with `service = "app"`
//! SIGKILL or SIGSTOP the group; healing starts it again (and waits until healthy) or resumes
//! it. At the end it is stopped with SIGTERM, then SIGKILL after a grace period.
//!
//! A service that dies on its own (exits, or is killed by anyone but a `kill` fault), or that
//! does not become healthy again after one, is remembered as lost: [`App::ensure_alive`] turns
//! that into the run's error once the clients have stopped.

use crate::infra::process;
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// The log file of a started service, in the strategy's result directory.
pub const LOG_FILE: &str = "service.log";

/// A started service.
pub struct App {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// The process group (the child's pid), while it may have members.
    pgid: Option<i32>,
    paused: bool,
    /// Why the service was lost during the run (see the module doc), as the error's text.
    lost: Option<String>,
}

impl App {
    pub fn new(argv: Vec<String>, env: Vec<(String, String)>, cwd: PathBuf, dir: &Path) -> App {
        App {
            argv,
            env,
            cwd,
            log: dir.join(LOG_FILE),
            child: None,
            pgid: None,
            paused: false,
            lost: None,
        }
    }

    /// `service `python3 app.py` (log: results/.../service.log)`, for messages.
    pub fn describe(&self) -> String {
        format!(
            "service `{}` (log: {})",
            self.argv.join(" "),
            self.log.display()
        )
    }

    /// Starts the process, its output appended to the log.
    pub fn spawn(&mut self) -> Result<()> {
        let log = process::open_log(&self.log)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", self.log.display()))?;
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..])
            .current_dir(&self.cwd)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        process::child_of_harness(&mut cmd, log)?;
        let child = cmd.spawn().map_err(|e| {
            anyhow::anyhow!(
                "cannot start service `{}` in {}: {e} (fix: check `command` in the workload)",
                self.argv.join(" "),
                self.cwd.display()
            )
        })?;
        self.pgid = child.id().map(|p| p as i32);
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// Waits until `GET url` answers 200; an error if the process exits first or `timeout`
    /// passes.
    pub async fn wait_healthy(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                anyhow::bail!(
                    "{} exited ({status}) before answering {url} with 200 (fix: see its log)",
                    self.describe()
                );
            }
            let probe = http.get(url).timeout(Duration::from_millis(500)).send();
            if let Ok(r) = probe.await {
                if r.status().as_u16() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                self.kill().await;
                anyhow::bail!(
                    "{} did not answer {url} with 200 within {} s (fix: see its log, or raise `start_timeout_s`)",
                    self.describe(),
                    timeout.as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether the process has exited (reaping it if so).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn signal_group(&self, sig: i32) -> bool {
        match self.pgid {
            // SAFETY: kill(2) on the process group of our own child (setpgid in spawn).
            Some(pgid) => unsafe { libc::kill(-pgid, sig) == 0 },
            None => false,
        }
    }

    /// Remembers a process that exited on its own (a `kill` fault's SIGKILL is not that).
    fn note_exit(&mut self) {
        if let Some(status) = self.exited() {
            self.lost.get_or_insert(format!(
                "{} exited ({status}) during the run, outside a `kill` fault (fix: see its log)",
                self.describe()
            ));
        }
    }

    /// Remembers that the service did not come back after a `kill` fault: `e` says why.
    pub fn lost_after_kill(&mut self, e: &anyhow::Error) {
        self.lost
            .get_or_insert(format!("after a `kill` fault: {e:#}"));
    }

    /// An error if the service was lost during the run (see the module doc).
    pub fn ensure_alive(&mut self) -> Result<()> {
        self.note_exit();
        match &self.lost {
            Some(why) => anyhow::bail!("{why}"),
            None => Ok(()),
        }
    }

    /// SIGKILL of the process group, and reap.
    pub async fn kill(&mut self) {
        self.note_exit();
        self.signal_group(libc::SIGKILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
        self.pgid = None;
        self.paused = false;
    }

    /// SIGSTOP of the process group.
    pub fn pause(&mut self) -> bool {
        let ok = self.signal_group(libc::SIGSTOP);
        self.paused |= ok;
        ok
    }

    /// SIGCONT of the process group.
    pub fn resume(&mut self) -> bool {
        let ok = self.signal_group(libc::SIGCONT);
        if ok {
            self.paused = false;
        }
        ok
    }

    /// SIGTERM, up to `grace` to exit, then SIGKILL.
    pub async fn stop(&mut self, grace: Duration) {
        if self.paused {
            self.resume();
        }
        if self.signal_group(libc::SIGTERM) {
            if let Some(c) = self.child.as_mut() {
                if tokio::time::timeout(grace, c.wait()).await.is_ok() {
                    // What the service left in its group goes too.
                    self.signal_group(libc::SIGKILL);
                    self.child = None;
                    self.pgid = None;
                    return;
                }
            }
        }
        self.kill().await;
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if self.paused {
            self.signal_group(libc::SIGCONT);
        }
        self.signal_group(libc::SIGKILL);
        if let Some(c) = self.child.as_mut() {
            if let Some(pid) = c.id() {
                let mut status = 0;
                // SAFETY: waitpid on our own child.
                unsafe { libc::waitpid(pid as i32, &mut status, 0) };
            }
        }
    }
}
