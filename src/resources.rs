//! The harness's own resource use while a run goes: resident memory and open file
//! descriptors, sampled once a second into the history (`process: -2`, `f: "resources"`) and
//! summarised in summary.json (`harness`). A soak run shows whether memory stays flat (the
//! history streams to disk) and where the harness, not the servers, becomes the limit.

use crate::history::recorder::Recorder;
use crate::history::{process, EventType};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Resident set size of this process in KiB (from /proc; 0 where unavailable).
pub fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Open file descriptors of this process.
pub fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0)
}

/// summary.json `harness`: the harness's resources during the clients' run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HarnessResources {
    pub samples: u64,
    pub rss_kb_start: u64,
    pub rss_kb_end: u64,
    pub rss_kb_max: u64,
    pub fds_start: u64,
    pub fds_end: u64,
    pub fds_max: u64,
}

/// Samples once a second until stopped.
pub struct Sampler {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    acc: Arc<Mutex<HarnessResources>>,
}

impl Sampler {
    pub fn start(rec: Recorder) -> Sampler {
        let stop = CancellationToken::new();
        let acc = Arc::new(Mutex::new(HarnessResources::default()));
        let (s, a) = (stop.clone(), acc.clone());
        let task = tokio::spawn(async move {
            loop {
                let (rss, fds, events) = (rss_kb(), open_fds(), rec.count());
                {
                    let mut r = a.lock().unwrap_or_else(|p| p.into_inner());
                    if r.samples == 0 {
                        r.rss_kb_start = rss;
                        r.fds_start = fds;
                    }
                    r.samples += 1;
                    r.rss_kb_end = rss;
                    r.fds_end = fds;
                    r.rss_kb_max = r.rss_kb_max.max(rss);
                    r.fds_max = r.fds_max.max(fds);
                }
                rec.internal(
                    process::HARNESS,
                    "resources",
                    EventType::Info,
                    None,
                    None,
                    Some(serde_json::json!({"rss_kb": rss, "fds": fds, "events": events})),
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = s.cancelled() => return,
                }
            }
        });
        Sampler { stop, task, acc }
    }

    pub async fn finish(self) -> HarnessResources {
        self.stop.cancel();
        let _ = self.task.await;
        let r = self.acc.lock().unwrap_or_else(|p| p.into_inner()).clone();
        r
    }
}
