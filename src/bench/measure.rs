//! Timing a command as a user would run it: a child process, its wall time, its CPU time and
//! its peak resident memory (`wait4`'s rusage of that one child), and its output.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// What one child process took.
#[derive(Debug, Clone, Default)]
pub struct Took {
    pub wall_s: f64,
    /// User + system.
    pub cpu_s: f64,
    pub peak_rss_bytes: u64,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub code: i32,
}

/// Runs `program args...` to its end and measures it.
pub fn run(program: &Path, args: &[&std::ffi::OsStr]) -> Result<Took> {
    let t0 = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {}", program.display()))?;
    let mut out = child.stdout.take().context("no stdout pipe")?;
    let mut err = child.stderr.take().context("no stderr pipe")?;
    // stderr is small (a line or two); stdout is read here while the child runs.
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut stdout = Vec::new();
    out.read_to_end(&mut stdout)
        .with_context(|| format!("{}: cannot read its output", program.display()))?;
    let mut status = 0i32;
    // SAFETY: rusage is plain data written by the kernel; the pid is our own child, reaped
    // here (std's Child is not waited on afterwards).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall_s = t0.elapsed().as_secs_f64();
    if rc != pid {
        bail!(
            "{}: wait4 failed: {}",
            program.display(),
            std::io::Error::last_os_error()
        );
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok(Took {
        wall_s,
        cpu_s: tv(ru.ru_utime) + tv(ru.ru_stime),
        peak_rss_bytes: u64::try_from(ru.ru_maxrss).unwrap_or(0) * 1024,
        stdout,
        stderr: err_thread.join().unwrap_or_default(),
        code,
    })
}

/// The wall time of one `wc -l FILE` pass: the reference every checker figure is a ratio to.
/// Run twice (the file is in the page cache either way), the faster counts.
pub fn wc_l(file: &Path) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..2 {
        let t = run(Path::new("wc"), &["-l".as_ref(), file.as_os_str()])
            .context("wc -l (coreutils) is needed as the reference")?;
        if t.code != 0 {
            bail!("wc -l {}: {}", file.display(), t.stderr.trim());
        }
        best = best.min(t.wall_s);
    }
    Ok(best)
}
