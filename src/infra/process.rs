//! A server run as a child process: started, killed, paused and restarted with the same
//! arguments. Children die with the harness (PR_SET_PDEATHSIG), so even `kill -9` of cachecheck
//! leaves no server behind; a normal stop kills and reaps them.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// A managed child process.
pub struct ManagedProcess {
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl ManagedProcess {
    pub fn new(name: &str, program: PathBuf, args: Vec<String>, log: PathBuf) -> Self {
        ManagedProcess {
            name: name.to_string(),
            program,
            args,
            log,
            child: None,
            paused: false,
        }
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// Starts the process (appending its output to the log file).
    pub fn spawn(&mut self) -> Result<()> {
        let log = open_log(&self.log)
            .with_context(|| format!("cannot open log {}", self.log.display()))?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        child_of_harness(&mut cmd, log)?;
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.display()))?;
        self.child = Some(child);
        self.paused = false;
        Ok(())
    }

    /// Whether the process has exited (and reaps it if so).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn signal(&self, sig: i32) -> bool {
        match self.pid() {
            // SAFETY: plain kill(2) on our own child's pid.
            Some(pid) => unsafe { libc::kill(pid as i32, sig) == 0 },
            None => false,
        }
    }

    /// SIGKILL and reap.
    pub async fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.paused {
                // A stopped process still dies of SIGKILL; resume anyway for tidy logs.
                let _ = c
                    .id()
                    .map(|p| unsafe { libc::kill(p as i32, libc::SIGCONT) });
            }
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
        self.paused = false;
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL.
    pub async fn stop(&mut self, grace: std::time::Duration) {
        if self.paused {
            self.resume();
        }
        if self.signal(libc::SIGTERM) {
            if let Some(c) = self.child.as_mut() {
                if tokio::time::timeout(grace, c.wait()).await.is_ok() {
                    self.child = None;
                    return;
                }
            }
        }
        self.kill().await;
    }

    /// SIGSTOP.
    pub fn pause(&mut self) -> bool {
        let ok = self.signal(libc::SIGSTOP);
        self.paused |= ok;
        ok
    }

    /// SIGCONT.
    pub fn resume(&mut self) -> bool {
        let ok = self.signal(libc::SIGCONT);
        if ok {
            self.paused = false;
        }
        ok
    }

    /// The whole log so far ("" if unreadable).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        all[all.len().saturating_sub(lines)..].join(" | ")
    }
}

impl Drop for ManagedProcess {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if self.paused {
                let _ = c
                    .id()
                    .map(|p| unsafe { libc::kill(p as i32, libc::SIGCONT) });
            }
            let _ = c.start_kill();
            // Reap synchronously so that the data directory can be removed after us.
            if let Some(pid) = c.id() {
                let mut status = 0;
                // SAFETY: waitpid on our own child.
                unsafe { libc::waitpid(pid as i32, &mut status, 0) };
            }
        }
    }
}

/// Opens (creating) a child's log file for appending.
pub fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Sets `cmd` up as every child of the harness runs: stdin closed, stdout and stderr appended
/// to `log`, killed when dropped and when the harness dies (PR_SET_PDEATHSIG), in a process
/// group of its own so that a Ctrl-C in the terminal reaches only the harness, which then stops
/// it in order (and signals to the group reach a wrapper's children too).
pub fn child_of_harness(cmd: &mut Command, log: std::fs::File) -> std::io::Result<()> {
    let log2 = log.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .kill_on_drop(true);
    // SAFETY: prctl and setpgid are async-signal-safe; nothing else runs between fork and
    // exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::setpgid(0, 0);
            Ok(())
        });
    }
    Ok(())
}

/// Finds an executable by name on PATH and in the sbin directories Debian uses for servers.
/// With `CACHECHECK_PATH_ONLY` set, only PATH is searched (to pin a server build, or to test
/// what a machine without the servers sees).
pub fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let extra: &[&str] = if std::env::var_os("CACHECHECK_PATH_ONLY").is_some() {
        &[]
    } else {
        &[
            "/usr/sbin",
            "/usr/local/sbin",
            "/sbin",
            "/usr/bin",
            "/usr/local/bin",
        ]
    };
    for d in extra {
        dirs.push(PathBuf::from(d));
    }
    for name in names {
        for d in &dirs {
            let p = d.join(name);
            if is_executable(&p) {
                return Some(p);
            }
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Another server took a port between our choosing it and our server binding it.
#[derive(Debug)]
pub struct PortClash(pub String);

impl std::fmt::Display for PortClash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PortClash {}

/// Whether a failed start-up was a port taken by someone else: a [`PortClash`], a server's
/// own "address already in use", or Docker's "port is already allocated".
fn is_port_clash(e: &anyhow::Error) -> bool {
    let m = format!("{e:#}").to_ascii_lowercase();
    e.downcast_ref::<PortClash>().is_some()
        || m.contains("address already in use")
        || m.contains("port is already allocated")
}

/// Runs a start-up that binds ports chosen by [`free_port`]. Another process can take such a
/// port between the choice and the bind; a start that failed that way (or found a stranger on
/// the port) is tried again, on new ports, up to 3 attempts in all.
pub async fn retry_on_port_clash<T, F, Fut>(mut start: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match start().await {
            Err(e) if attempt < 3 && is_port_clash(&e) => {
                tracing::warn!("start-up attempt {attempt}: {e:#}; trying new ports");
                attempt += 1;
            }
            r => return r,
        }
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it soon after).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a local port")?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Runs `retry_on_port_clash` over a start that fails with `errors` in turn, then succeeds;
    /// returns the result and the number of attempts.
    fn attempts(errors: Vec<anyhow::Error>) -> (Result<u32>, u32) {
        let calls = Cell::new(0);
        let errors = std::cell::RefCell::new(errors.into_iter());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(retry_on_port_clash(|| {
            calls.set(calls.get() + 1);
            let next = errors.borrow_mut().next();
            async move {
                match next {
                    Some(e) => Err(e),
                    None => Ok(7),
                }
            }
        }));
        (r, calls.get())
    }

    #[test]
    fn a_port_clash_is_retried_up_to_three_attempts() {
        let clash = || anyhow::Error::new(PortClash("port 1 answers with another redis".into()));
        let (r, n) = attempts(vec![
            clash(),
            anyhow::anyhow!("bind: Address already in use"),
        ]);
        assert_eq!((r.unwrap(), n), (7, 3));
        let (r, n) = attempts(vec![
            anyhow::anyhow!("Bind for 127.0.0.1:5 failed: port is already allocated"),
            clash(),
            clash(),
        ]);
        assert_eq!(n, 3);
        assert!(r.unwrap_err().to_string().contains("another redis"));
    }

    #[test]
    fn other_start_up_errors_are_not_retried() {
        let (r, n) = attempts(vec![anyhow::anyhow!("the database exited (signal 9)")]);
        assert_eq!(n, 1);
        assert!(r.is_err());
    }
}
