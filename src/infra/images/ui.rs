//! What an image build shows while it goes: one bar per image on a terminal (stderr), plain
//! stable lines elsewhere (`images: <name>: <stage>`), so a CI log tells where the minutes went.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The display of one build (all images).
pub struct Ui {
    multi: Option<MultiProgress>,
}

impl Ui {
    /// Bars when stderr is a terminal, else plain lines.
    pub fn new() -> Ui {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Ui { multi }
    }

    /// A line of its own.
    pub fn say(&self, line: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// The display of one image's build.
    pub fn task(&self, name: &str) -> Task {
        let bar = self.multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(0));
            b.set_style(style(0));
            b.set_prefix(name.to_string());
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        Task {
            name: name.to_string(),
            bar,
            pos: AtomicU64::new(0),
            len: AtomicU64::new(0),
            stage: std::sync::Mutex::new(String::new()),
            quarter: AtomicU64::new(0),
        }
    }
}

/// A bar with a count, or a spinner for a stage without one (`len` 0).
fn style(len: u64) -> ProgressStyle {
    let template = if len > 0 {
        "{prefix:>10} [{elapsed_precise}] {bar:24} {percent:>3}% {msg}"
    } else {
        "{prefix:>10} [{elapsed_precise}] {spinner} {msg}"
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Default for Ui {
    fn default() -> Self {
        Ui::new()
    }
}

/// One image's line or bar.
pub struct Task {
    name: String,
    bar: Option<ProgressBar>,
    pos: AtomicU64,
    len: AtomicU64,
    /// The stage's name, for plain mode's percentages.
    stage: std::sync::Mutex<String>,
    /// Plain mode: the last quarter of the stage reported (0..=4), so that a long stage prints
    /// at most four lines.
    quarter: AtomicU64,
}

impl Task {
    /// A new stage with `len` steps (0: no count).
    pub fn stage(&self, what: &str, len: u64) {
        self.len.store(len, Ordering::Relaxed);
        self.pos.store(0, Ordering::Relaxed);
        self.quarter.store(0, Ordering::Relaxed);
        *self.stage.lock().unwrap_or_else(|e| e.into_inner()) = what.to_string();
        match &self.bar {
            Some(b) => {
                b.set_style(style(len));
                b.set_length(len);
                b.set_position(0);
                b.set_message(what.to_string());
            }
            None => eprintln!("images: {}: {what}", self.name),
        }
    }

    /// A detail of the stage (the bar's message; nothing in plain mode).
    pub fn detail(&self, what: &str) {
        if let Some(b) = &self.bar {
            b.set_message(what.to_string());
        }
    }

    /// Sets the number of steps of the stage (once it is known).
    pub fn set_len(&self, len: u64) {
        if self.len.swap(len, Ordering::Relaxed) != len {
            if let Some(b) = &self.bar {
                b.set_style(style(len));
                b.set_length(len);
            }
        }
    }

    /// Sets the position within the stage.
    pub fn set(&self, pos: u64) {
        self.pos.store(pos, Ordering::Relaxed);
        self.report(pos);
    }

    /// Advances the position by `n`.
    pub fn inc(&self, n: u64) {
        let pos = self.pos.fetch_add(n, Ordering::Relaxed) + n;
        self.report(pos);
    }

    fn report(&self, pos: u64) {
        let len = self.len.load(Ordering::Relaxed);
        match &self.bar {
            Some(b) => b.set_position(pos),
            None if len > 0 => {
                let q = (pos.min(len) * 4 / len).min(4);
                if self.quarter.fetch_max(q, Ordering::Relaxed) < q && q < 4 {
                    let stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
                    eprintln!("images: {}: {stage}: {}%", self.name, q * 25);
                }
            }
            None => {}
        }
    }

    /// The end of this image's build.
    pub fn finish(&self, what: &str) {
        match &self.bar {
            Some(b) => b.finish_with_message(what.to_string()),
            None => eprintln!("images: {}: {what}", self.name),
        }
    }
}

impl Drop for Task {
    /// A build that failed leaves its bar where it stopped (the error line follows).
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            if !b.is_finished() {
                b.abandon();
            }
        }
    }
}
