//! One epoch's results, and their line in `metrics.jsonl`.

/// The held-out images scored after each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldOut {
    /// The test set (the texts' way, with no validation split).
    Test,
    /// A validation split taken from the training set; the test set waits for the end.
    Validation,
}

impl HeldOut {
    /// The prefix of its keys in `metrics.jsonl` (`test_loss`, `val_loss`).
    pub fn key(self) -> &'static str {
        match self {
            HeldOut::Test => "test",
            HeldOut::Validation => "val",
        }
    }
}

/// One epoch's results.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean loss over the epoch's batches (each measured before its update).
    pub train_loss: f64,
    /// Training accuracy over the epoch's batches (each measured before its update).
    pub train_accuracy: f64,
    /// Which images `loss` and `accuracy` were measured on.
    pub held_out: HeldOut,
    /// Loss on the held-out images after the epoch.
    pub loss: f64,
    /// Accuracy on the held-out images after the epoch.
    pub accuracy: f64,
    /// Wall-clock seconds for the epoch's training loop.
    pub seconds: f64,
}

impl EpochMetrics {
    /// One `metrics.jsonl` line: `epoch`, `train_loss`, `train_accuracy`, `test_loss` and
    /// `test_accuracy` (or `val_loss` and `val_accuracy`), `seconds`.
    pub fn to_json(&self) -> serde_json::Value {
        let key = self.held_out.key();
        let mut json = serde_json::json!({
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "train_accuracy": self.train_accuracy,
            "seconds": self.seconds,
        });
        json[format!("{key}_loss")] = self.loss.into();
        json[format!("{key}_accuracy")] = self.accuracy.into();
        json
    }

    /// Back from a `metrics.jsonl` line, or `None` if it is not one.
    pub fn from_json(v: &serde_json::Value) -> Option<Self> {
        let held_out = [HeldOut::Test, HeldOut::Validation]
            .into_iter()
            .find(|h| v[format!("{}_loss", h.key())].is_number())?;
        let key = held_out.key();
        let finite = |x: &serde_json::Value| x.as_f64().filter(|x| x.is_finite());
        Some(EpochMetrics {
            epoch: usize::try_from(v["epoch"].as_u64()?).ok()?,
            train_loss: finite(&v["train_loss"])?,
            train_accuracy: finite(&v["train_accuracy"])?,
            held_out,
            loss: finite(&v[format!("{key}_loss")])?,
            accuracy: finite(&v[format!("{key}_accuracy")])?,
            seconds: finite(&v["seconds"])?,
        })
    }
}
