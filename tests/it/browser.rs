//! A real headless Chromium, driven over the DevTools protocol on a pipe
//! (`--remote-debugging-pipe`: commands on fd 3, replies on fd 4, NUL-separated JSON), to load a
//! page, collect its console errors and exceptions, evaluate an expression and take a
//! screenshot. Chromium comes from Debian's `chromium` package (scripts/setup.sh installs it).

use base64::Engine;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What loading a page showed.
pub struct Loaded {
    /// Console errors, uncaught exceptions and error log entries (failed loads included).
    pub errors: Vec<String>,
    /// The value of the evaluated expression.
    pub value: Value,
    /// A PNG of the viewport.
    pub png: Vec<u8>,
}

/// The Chromium binary; panics with the fix when it is missing (never a silent skip).
pub fn chromium() -> String {
    for b in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return b.to_string();
        }
    }
    panic!("chromium is not installed (fix: bash scripts/setup.sh, or apt-get install chromium)");
}

struct Browser {
    child: Child,
    to: std::fs::File,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    pending: Vec<Value>,
    _profile: tempfile::TempDir,
}

fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    (fds[0], fds[1])
}

impl Browser {
    fn start(width: u32, height: u32) -> Browser {
        let bin = chromium();
        let profile = tempfile::tempdir().unwrap();
        let (cmd_r, cmd_w) = pipe(); // we write commands, chromium reads fd 3
        let (ev_r, ev_w) = pipe(); // chromium writes fd 4, we read
        let mut c = Command::new(bin);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--remote-debugging-pipe",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", profile.path().display()),
            "about:blank",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        unsafe {
            c.pre_exec(move || {
                if libc::dup2(cmd_r, 3) < 0 || libc::dup2(ev_w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = c.spawn().expect("start chromium");
        unsafe {
            libc::close(cmd_r);
            libc::close(ev_w);
        }
        let to = unsafe { std::fs::File::from_raw_fd(cmd_w) };
        let from_file = unsafe { std::fs::File::from_raw_fd(ev_r) };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(from_file);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                            if tx.send(v).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to,
            from: rx,
            next_id: 0,
            pending: Vec::new(),
            _profile: profile,
        }
    }

    fn recv(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        self.from
            .recv_timeout(left)
            .expect("chromium did not answer in time")
    }

    /// Sends a command (to `session` if given) and waits for its reply; events meanwhile are
    /// kept for [`Browser::event`].
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.recv(deadline);
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
            self.pending.push(v);
        }
    }

    /// Waits for the event `method`.
    fn event(&mut self, method: &str) {
        if self.pending.iter().any(|v| v["method"] == json!(method)) {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.recv(deadline);
            let found = v["method"] == json!(method);
            self.pending.push(v);
            if found {
                return;
            }
        }
    }

    /// Drains events that arrive within `quiet`.
    fn drain(&mut self, quiet: Duration) {
        while let Ok(v) = self.from.recv_timeout(quiet) {
            self.pending.push(v);
        }
    }

    fn errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        for v in &self.pending {
            let p = &v["params"];
            match v["method"].as_str() {
                Some("Runtime.exceptionThrown") => out.push(format!("exception: {p}")),
                Some("Runtime.consoleAPICalled")
                    if matches!(p["type"].as_str(), Some("error" | "assert")) =>
                {
                    out.push(format!("console.{}: {}", p["type"], p["args"]))
                }
                Some("Log.entryAdded") if p["entry"]["level"] == json!("error") => {
                    out.push(format!("log: {}", p["entry"]))
                }
                _ => {}
            }
        }
        out
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Loads `file` in a fresh headless Chromium, evaluates `expression` (its value returned by
/// value) and takes a screenshot of a `width` x `height` viewport.
pub fn load(file: &Path, expression: &str, width: u32, height: u32) -> Loaded {
    let mut b = Browser::start(width, height);
    let target = b.call(None, "Target.createTarget", json!({"url": "about:blank"}));
    let tid = target["targetId"].as_str().unwrap().to_string();
    let att = b.call(
        None,
        "Target.attachToTarget",
        json!({"targetId": tid, "flatten": true}),
    );
    let sid = att["sessionId"].as_str().unwrap().to_string();
    let s = Some(sid.as_str());
    b.call(s, "Runtime.enable", json!({}));
    b.call(s, "Log.enable", json!({}));
    b.call(s, "Page.enable", json!({}));
    b.call(
        s,
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
    );
    let url = format!("file://{}", std::fs::canonicalize(file).unwrap().display());
    b.call(s, "Page.navigate", json!({"url": url}));
    b.event("Page.loadEventFired");
    b.drain(Duration::from_millis(500));
    let value = b.call(
        s,
        "Runtime.evaluate",
        json!({"expression": expression, "returnByValue": true}),
    )["result"]["value"]
        .clone();
    let shot = b.call(s, "Page.captureScreenshot", json!({"format": "png"}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    b.drain(Duration::from_millis(200));
    Loaded {
        errors: b.errors(),
        value,
        png,
    }
}

/// The share of pixels of a PNG that are not (near) white, and the number of distinct colours.
pub fn ink(png: &[u8]) -> (f64, usize) {
    let dec = png::Decoder::new(png);
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let ch = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let mut inked = 0usize;
    let mut colours = std::collections::HashSet::new();
    let n = px.len() / ch;
    for p in px.chunks(ch) {
        let (r, g, b) = (p[0], p[1.min(ch - 1)], p[2.min(ch - 1)]);
        if r < 235 || g < 235 || b < 235 {
            inked += 1;
        }
        if colours.len() < 10_000 {
            colours.insert((r >> 3, g >> 3, b >> 3));
        }
    }
    (inked as f64 / n.max(1) as f64, colours.len())
}
