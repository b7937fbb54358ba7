//! Progress on stderr: a bar with rate and ETA on a terminal, plain lines (every 10%) otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// Bytes done out of a total.
pub struct Progress {
    what: &'static str,
    bar: Option<ProgressBar>,
    total: u64,
    done: AtomicU64,
    started: Instant,
    printed_tenths: AtomicU64,
}

impl Progress {
    /// Progress of `what` over `total` bytes.
    pub fn new(what: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(what);
            bar
        });
        Progress {
            what,
            bar,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            printed_tenths: AtomicU64::new(0),
        }
    }

    /// Adds `bytes` done.
    pub fn add(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::SeqCst) + bytes;
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                let tenths = (done * 10).checked_div(self.total).unwrap_or(10);
                let before = self.printed_tenths.fetch_max(tenths, Ordering::SeqCst);
                if tenths > before {
                    eprintln!("stowage: {} {}", self.what, self.line(done));
                }
            }
        }
    }

    fn line(&self, done: u64) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / seconds / 1_048_576.0;
        format!(
            "{:.1} of {:.1} MiB ({}%) at {rate:.1} MiB/s",
            done as f64 / 1_048_576.0,
            self.total as f64 / 1_048_576.0,
            (done * 100).checked_div(self.total).unwrap_or(100)
        )
    }

    /// Ends the bar (or prints the closing line).
    pub fn finish(&self) {
        let done = self.done.load(Ordering::SeqCst);
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!(
                "stowage: {} done: {} in {:.1} s",
                self.what,
                self.line(done),
                self.started.elapsed().as_secs_f64()
            ),
        }
    }
}
