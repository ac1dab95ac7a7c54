//! What people see while a model trains: a progress bar per epoch on a terminal, plain lines
//! otherwise, and one summary line per epoch.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use scratchgrad::train::{EpochMetrics, Observer};

use super::output::outln;

/// Prints training progress, and asks the run to stop when Ctrl-C was pressed.
pub struct Progress {
    bar: Option<ProgressBar>,
    interactive: bool,
    interrupted: Arc<AtomicBool>,
}

impl Progress {
    /// Bars only on a terminal and without `--quiet`. The first Ctrl-C (SIGINT) or SIGTERM
    /// sets `interrupted`: the run stops at the next step, after any checkpoint being written
    /// has been completed. A second one ends the process at once (files are still never
    /// half-written: every write is a rename of a complete temporary file).
    pub fn new(quiet: bool) -> Self {
        let interrupted = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration fails only for signals that may not be caught; these may.
            let _ = signal_hook::flag::register_conditional_shutdown(
                signal,
                130,
                Arc::clone(&interrupted),
            );
            let _ = signal_hook::flag::register(signal, Arc::clone(&interrupted));
        }
        Progress {
            bar: None,
            interactive: !quiet && std::io::stdout().is_terminal(),
            interrupted,
        }
    }

    /// Clears a half-drawn bar (before an error message or the next line).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// The table heading printed before the first epoch line.
    pub fn heading() -> &'static str {
        "epoch  train_loss  train_acc  test_loss  test_acc  seconds"
    }
}

impl Observer for Progress {
    fn on_batch(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, accuracy: f64) {
        if !self.interactive {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::new(batches as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "epoch {prefix:>3} {bar:30} {pos}/{len} {msg} (ETA {eta})",
                )
                .expect("a valid template"),
            );
            bar.set_prefix(epoch.to_string());
            bar
        });
        bar.set_position(batch as u64);
        if batch % 20 == 0 || batch == batches {
            bar.set_message(format!("loss {loss:.4} acc {:.2}%", accuracy * 100.0));
        }
    }

    fn should_stop(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    fn on_epoch(&mut self, m: &EpochMetrics) {
        self.finish();
        outln!(
            "{:5}  {:10.4}  {:8.2}%  {:9.4}  {:7.2}%  {:7.2}",
            m.epoch,
            m.train_loss,
            m.train_accuracy * 100.0,
            m.test_loss,
            m.test_accuracy * 100.0,
            m.seconds
        );
    }
}
