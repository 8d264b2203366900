//! `cachecheck bench`: performance measurements of the checker and of the harness.
//!
//! * [`sim`]: a synthetic history with anomalies of every kind in known numbers; [`shapes`]:
//!   the named configurations of it that `bench checker` measures;
//! * [`checker`]: `bench checker`, generates a history of every shape, checks it from the
//!   files with `cachecheck check` as a child process ([`measure`]), asserts the counts,
//!   reports events/s, the ratio to a `wc -l` pass, and peak resident memory per operation;
//! * [`harness`]: `bench harness`, one read-heavy workload with history recording on and off,
//!   and `redis-benchmark` against the same Redis;
//! * [`linearizability`]: `bench linearizability`, the search on published data sets and the
//!   linear path on large histories.
//!
//! Benchmarks report; they judge only correctness (the counts). The figures measured on this
//! project's machine are in docs/performance.md.

pub mod checker;
pub mod harness;
pub mod linearizability;
pub mod measure;
pub mod shapes;
pub mod sim;

/// Peak resident memory of this process so far, in bytes (`getrusage`).
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ru.ru_maxrss).unwrap_or(0) * 1024
}

/// Current resident memory of this process, in bytes (`/proc/self/statm`; 0 if unknown).
pub fn current_rss_bytes() -> u64 {
    let Ok(s) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = s
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

/// `12.3 M` style numbers for the text output.
pub fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.1}")
    }
}
