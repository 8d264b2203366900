//! The harness survives its own crashes and bad input: kill -9 mid-run, Ctrl-C, unwritable
//! output, repeated runs. Real servers; each test uses its own TMPDIR so that leftovers are
//! visible and other tests' servers are never touched.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKLOAD: &str = r#"
name = "crash"
keys = 4
clients = 4
duration_s = 20.0
read_fraction = 0.7
strategies = ["db-then-delete", "db-only"]
"#;

struct Spawned {
    child: Child,
    tmp: tempfile::TempDir,
    out: PathBuf,
}

fn spawn_run(workload: &str) -> Spawned {
    let (mut c, tmp, out) = run_command(workload);
    let servers_tmp = tmp.path().join("servers");
    std::fs::create_dir(&servers_tmp).unwrap();
    let child = c
        .env("TMPDIR", &servers_tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Spawned { child, tmp, out }
}

/// Waits until the first strategy's history has some events.
fn wait_for_history(out: &Path, strategy: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(entries) = std::fs::read_dir(out) {
            for e in entries.flatten() {
                let h = e.path().join(strategy).join("history.jsonl");
                if std::fs::metadata(&h)
                    .map(|m| m.len() > 20_000)
                    .unwrap_or(false)
                {
                    return e.path().join(strategy);
                }
            }
        }
        assert!(Instant::now() < deadline, "the run never started recording");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        if stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
        {
            continue; // a zombie holds no resources
        }
        let cl = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cl = String::from_utf8_lossy(&cl).replace('\0', " ");
        if cl.contains(needle) {
            out.push(format!("{name}: {cl}"));
        }
    }
    out
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every file of a directory (not recursive) with its bytes, sorted by name.
fn snapshot(d: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn kill_9_leaves_a_checkable_history_and_the_next_run_cleans_up() {
    let mut s = spawn_run(WORKLOAD);
    let dir = wait_for_history(&s.out, "db-then-delete");
    std::thread::sleep(Duration::from_millis(500));
    // SIGKILL: no cleanup code of the harness runs.
    unsafe { libc::kill(s.child.id() as i32, libc::SIGKILL) };
    s.child.wait().unwrap();
    let servers_tmp = s.tmp.path().join("servers");
    // The servers die with the harness.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_mentioning(servers_tmp.to_str().unwrap()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "servers outlived the harness: {:?}",
            processes_mentioning(servers_tmp.to_str().unwrap())
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        entries(&servers_tmp).len(),
        1,
        "the dead run's directory is there to clean up"
    );

    // The history reads to its last complete line, and check gives figures.
    let before = snapshot(&dir);
    let (code, out, err) = cachecheck(&["check", dir.to_str().unwrap(), "--json"], None);
    assert!(
        code == 0 || code == 1,
        "check of a killed run failed ({code}): {err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["incomplete"], true);
    assert!(v["ops"]["read"]["ok"].as_u64().unwrap() > 0);
    assert!(
        v["warnings"].to_string().contains("died"),
        "{}",
        v["warnings"]
    );
    // Neither check nor compare changes what they read.
    // (A killed run has no summary.json: compare names it, exit 2, or compares what it has.)
    let (code, _, err) = cachecheck(&["compare", dir.to_str().unwrap()], None);
    assert!(code == 0 || code == 2, "compare of a killed run: {err}");
    assert_eq!(before, snapshot(&dir), "check or compare changed its input");

    // The next run removes the leftovers and says so.
    let o = Command::new(bin())
        .args([
            "run",
            s.tmp.path().join("workload.toml").to_str().unwrap(),
            "--duration",
            "0.5",
            "--strategy",
            "db-only",
            "--out",
        ])
        .arg(&s.out)
        .env("TMPDIR", &servers_tmp)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("removed the leftovers of a run that died"),
        "{err}"
    );
    assert!(
        entries(&servers_tmp).is_empty(),
        "left behind: {:?}",
        entries(&servers_tmp)
    );
}

#[test]
fn ctrl_c_stops_heals_and_writes_partial_results() {
    let mut s = spawn_run(&format!(
        "{WORKLOAD}\n[[nemesis]]\nfault = \"latency\"\nrole = \"cache-read\"\nlatency_ms = 20\nat_s = 0.1\nduration_s = 60\n"
    ));
    let dir = wait_for_history(&s.out, "db-then-delete");
    // Interrupt while the fault is active.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .contains("\"phase\":\"start\"")
    {
        assert!(Instant::now() < deadline, "the fault never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let t0 = Instant::now();
    unsafe { libc::kill(s.child.id() as i32, libc::SIGINT) };
    let status = s.child.wait().unwrap();
    let took = t0.elapsed();
    eprintln!(
        "Ctrl-C: the run stopped {:.2} s after SIGINT",
        took.as_secs_f64()
    );
    assert!(
        took < Duration::from_secs(15),
        "the run hung after Ctrl-C: {took:?}"
    );
    assert_eq!(status.code(), Some(2));
    // Partial results, marked incomplete, with the fault healed and recorded.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["incomplete"], true);
    assert_eq!(summary["valid"], false);
    let f = &summary["faults"][0];
    assert!(f["end_ns"].is_u64(), "fault not healed: {f}");
    assert_complete_history(&dir);
    assert!(
        !dir.parent().unwrap().join("db-only").exists(),
        "the next strategy started after Ctrl-C"
    );
    // Nothing left: no process, no temporary directory.
    let servers_tmp = s.tmp.path().join("servers");
    assert!(processes_mentioning(servers_tmp.to_str().unwrap()).is_empty());
    assert!(
        entries(&servers_tmp).is_empty(),
        "left behind: {:?}",
        entries(&servers_tmp)
    );
}

#[test]
fn unwritable_output_is_an_error_before_any_server_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let wl = tmp.path().join("w.toml");
    std::fs::write(&wl, WORKLOAD).unwrap();
    let servers_tmp = tmp.path().join("servers");
    std::fs::create_dir(&servers_tmp).unwrap();
    let t0 = Instant::now();
    let o = Command::new(bin())
        .args([
            "run",
            wl.to_str().unwrap(),
            "--out",
            file.join("results").to_str().unwrap(),
        ])
        .env("TMPDIR", &servers_tmp)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("output directory"), "{err}");
    assert!(entries(&servers_tmp).is_empty(), "a server was started");
    eprintln!("unwritable --out rejected in {:?}", t0.elapsed());
}

#[test]
fn a_disk_without_room_is_an_error_before_any_server_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let wl = tmp.path().join("w.toml");
    std::fs::write(&wl, WORKLOAD).unwrap();
    let servers_tmp = tmp.path().join("servers");
    std::fs::create_dir(&servers_tmp).unwrap();
    let out = tmp.path().join("results");
    // More free space than any disk has: the disk counts as full.
    let o = Command::new(bin())
        .args(["run", wl.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .env("TMPDIR", &servers_tmp)
        .env("CACHECHECK_MIN_FREE_MB", "1000000000000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("MB free in the output directory"), "{err}");
    assert!(entries(&servers_tmp).is_empty(), "a server was started");
    assert!(entries(&out).is_empty(), "a run directory was created");
}

#[test]
fn a_run_never_writes_into_an_earlier_run() {
    let wl = "name = \"twice\"\nkeys = 2\nclients = 2\nduration_s = 0.3\nstrategies = [\"db-only\"]\n[infra]\ndirect = true\n";
    let first = run_workload(wl, &["-q"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first_dir = first.run_dir.clone().unwrap();
    let before = snapshot(&first_dir.join("db-only"));
    // Same output directory, same second: a new run directory, the old one untouched.
    let out = first_dir.parent().unwrap();
    let wl_path = first.tmp.path().join("workload.toml");
    for _ in 0..2 {
        let o = Command::new(bin())
            .args([
                "run",
                wl_path.to_str().unwrap(),
                "-q",
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
    }
    let runs: Vec<_> = entries(out).into_iter().filter(|n| n != "latest").collect();
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert_eq!(
        before,
        snapshot(&first_dir.join("db-only")),
        "an earlier run's files changed"
    );
}

/// A compressed history is flushed every second: a run killed with SIGKILL leaves a zstd
/// stream that reads up to its last flush, and `check` judges what it holds.
#[test]
fn kill_9_of_a_compressed_run_leaves_a_readable_prefix() {
    let workload = format!("compress = true\n{WORKLOAD}");
    let mut s = spawn_run(&workload);
    let deadline = Instant::now() + Duration::from_secs(60);
    let dir = loop {
        let found = entries(&s.out).into_iter().find_map(|run| {
            let d = s.out.join(run).join("db-then-delete");
            let z = d.join("history.jsonl.zst");
            let len = std::fs::metadata(&z).map(|m| m.len()).unwrap_or(0);
            (len > 2_000).then_some(d)
        });
        if let Some(d) = found {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "the run never flushed its history"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(2_500));
    unsafe { libc::kill(s.child.id() as i32, libc::SIGKILL) };
    s.child.wait().unwrap();
    assert!(!dir.join("history.jsonl").exists(), "{:?}", entries(&dir));
    let (code, out, err) = cachecheck(&["check", dir.to_str().unwrap(), "--json"], None);
    assert!(
        code == 0 || code == 1,
        "check of a killed compressed run ({code}): {err}"
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["incomplete"], true);
    assert!(v["ops"]["read"]["ok"].as_u64().unwrap() > 0, "{v}");
    // Killed 2.5 s after the first flush: at least the first two seconds were flushed.
    assert!(
        v["duration_s"].as_f64().unwrap() > 1.0,
        "{}",
        v["duration_s"]
    );
    assert!(
        v["warnings"].to_string().contains("ends mid-stream"),
        "{}",
        v["warnings"]
    );
}

/// `run --compress` writes history.jsonl.zst only, and every command that reads a history
/// reads it: check (the same figures as the run's), report, timeline, compare.
#[test]
fn a_compressed_run_reads_in_check_report_timeline_and_compare() {
    let inv = run_workload(
        "name = \"z\"\nkeys = 4\nclients = 2\nduration_s = 1.0\nsettle_ms = 50\nstrategies = [\"db-then-delete\"]\n[infra]\ndirect = true\n",
        &["--compress", "-q"],
    );
    assert_eq!(inv.code, 0, "{}", inv.stderr);
    let dir = inv.strategy_dir("db-then-delete");
    assert!(dir.join("history.jsonl.zst").is_file());
    assert!(!dir.join("history.jsonl").exists());
    let d = dir.to_str().unwrap();
    let (code, out, err) = cachecheck(&["check", d, "--json", "--stats"], None);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let stored = inv.summary("db-then-delete");
    assert_eq!(v["ops"], stored["ops"]);
    assert_eq!(v["anomalies"], stored["anomalies"]);
    assert!(
        err.starts_with("stats: ") && err.contains("events/s"),
        "{err}"
    );
    let html = inv.tmp.path().join("r.html");
    let (code, _, err) = cachecheck(&["report", d, "-o", html.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cachecheck(&["timeline", d, "--every", "0.5", "--json"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ops_per_s"), "{out}");
    let (code, out, err) = cachecheck(&["compare", d], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("db-then-delete"), "{out}");
}
