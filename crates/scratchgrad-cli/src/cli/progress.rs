//! What people see while a model trains: a progress bar per epoch on a terminal, plain lines
//! otherwise, one summary line per epoch, and a warning when the loss runs away.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use scratchgrad::train::{EpochReport, Observer};

use crate::output::{errln, outln};

/// An epoch whose mean training loss is this many times the first batch's has diverged.
const DIVERGED: f64 = 2.0;

/// Prints training progress, and asks the run to stop when Ctrl-C was pressed.
pub struct Progress {
    bar: Option<ProgressBar>,
    interactive: bool,
    interrupted: Arc<AtomicBool>,
    validation: bool,
    /// The loss the run started from: its first batch's (or a resumed run's first epoch's).
    first_loss: Option<f64>,
    /// The last epoch's loss, when it is far above `first_loss`.
    diverged: Option<f64>,
}

impl Progress {
    /// Bars only on a terminal and without `--quiet`; the per-epoch columns name the
    /// validation split when there is one. The first Ctrl-C (SIGINT) or SIGTERM sets
    /// `interrupted`: the run stops at the next step, after any checkpoint being written has
    /// been completed. A second one ends the process at once (files are still never
    /// half-written: every write is a rename of a complete temporary file).
    pub fn new(quiet: bool, validation: bool, first_loss: Option<f64>) -> Self {
        let interrupted = super::interrupt::flag();
        Progress {
            bar: None,
            interactive: !quiet && std::io::stdout().is_terminal(),
            interrupted,
            validation,
            first_loss,
            diverged: None,
        }
    }

    /// Clears a half-drawn bar (before an error message or the next line).
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// The table heading printed before the first epoch line.
    pub fn heading(&self) -> &'static str {
        if self.validation {
            "epoch  train_loss  train_acc   val_loss   val_acc  seconds"
        } else {
            "epoch  train_loss  train_acc  test_loss  test_acc  seconds"
        }
    }

    /// Repeats, at the end, a warning that the loss ran away.
    pub fn warn_if_diverged(&self) {
        if let (Some(loss), Some(first)) = (self.diverged, self.first_loss) {
            errln!(
                "{}",
                divergence_warning("the training loss ended at", loss, first)
            );
        }
    }
}

fn divergence_warning(what: &str, loss: f64, first: f64) -> String {
    format!("warning: {what} {loss:.4}, far above where it started ({first:.4}): the learning rate is probably too high; lower it with --lr")
}

impl Observer for Progress {
    fn on_batch(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, accuracy: f64) {
        if batch == 1 && self.first_loss.is_none() {
            self.first_loss = Some(loss);
        }
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
        if batch.is_multiple_of(20) || batch == batches {
            bar.set_message(format!("loss {loss:.4} acc {:.2}%", accuracy * 100.0));
        }
    }

    fn should_stop(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    fn on_epoch(&mut self, epoch: &EpochReport<'_>) {
        let m = epoch.metrics;
        self.finish();
        outln!(
            "{:5}  {:10.4}  {:8.2}%  {:9.4}  {:7.2}%  {:7.2}",
            m.epoch,
            m.train_loss,
            m.train_accuracy * 100.0,
            m.loss,
            m.accuracy * 100.0,
            m.seconds
        );
        let first = self.first_loss.unwrap_or(m.train_loss);
        let diverged = m.train_loss > DIVERGED * first;
        if diverged && self.diverged.is_none() {
            let what = format!("the training loss of epoch {} is", m.epoch);
            errln!("{}", divergence_warning(&what, m.train_loss, first));
        }
        self.diverged = diverged.then_some(m.train_loss);
    }
}
