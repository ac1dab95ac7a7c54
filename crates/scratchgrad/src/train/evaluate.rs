//! Loss, accuracy, confusion matrix and per-image predictions on a data set.

use super::Model;
use crate::arch::Architecture;
use crate::data::Dataset;

/// How a model does on a data set.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// `confusion[target][predicted]` counts.
    pub confusion: Vec<Vec<usize>>,
    /// The predicted class of each image.
    pub predictions: Vec<usize>,
    /// The probability the model gave its prediction, per image.
    pub confidence: Vec<f32>,
}

impl Evaluation {
    /// Accuracy on the images of each class.
    pub fn per_class_accuracy(&self) -> Vec<f64> {
        self.confusion
            .iter()
            .enumerate()
            .map(|(c, row)| row[c] as f64 / row.iter().sum::<usize>().max(1) as f64)
            .collect()
    }
}

/// A model whose outputs are not numbers for some example: NaN or infinite logits, which no
/// probability or loss can be made of (weights that are finite but huge, 3e38 say, give them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotFinite {
    /// The example (0-based, in the order given) whose outputs are not finite.
    pub example: usize,
}

impl std::fmt::Display for NotFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gives outputs that are not finite numbers (inf or NaN) for example {}: its weights are too large to compute with",
            self.example
        )
    }
}

impl std::error::Error for NotFinite {}

/// Checks that every one of a batch's outputs (`[n, classes]`, the batch starting at example
/// `first`) is a finite number.
pub fn check_finite(outputs: &crate::array::Array<f32>, first: usize) -> Result<(), NotFinite> {
    let classes = outputs.shape().last().copied().unwrap_or(1).max(1);
    match outputs.data().iter().position(|v| !v.is_finite()) {
        Some(i) => Err(NotFinite {
            example: first + i / classes,
        }),
        None => Ok(()),
    }
}

/// The values evaluation may hold at once in one layer (64 MB of `f32`).
const VALUES_IN_FLIGHT: usize = 16 << 20;

/// How many examples of `arch` evaluation runs at once: up to 1,000, fewer when one layer
/// would hold more than 64 MB for them (a CNN's im2col columns: 1,000 images through `cnn`'s
/// second convolution would be 313 MB).
fn evaluation_batch(arch: &Architecture) -> usize {
    (VALUES_IN_FLIGHT / arch.values_in_flight_per_example().max(1)).clamp(1, 1000)
}

/// Runs the model (whose network is `arch`) over `data`, in batches sized by
/// [`evaluation_batch`]; refuses outputs that are not finite.
pub fn evaluate(
    model: &mut Model,
    arch: &Architecture,
    data: &Dataset,
    classes: usize,
) -> Result<Evaluation, NotFinite> {
    let batch = evaluation_batch(arch);
    let mut confusion = vec![vec![0; classes]; classes];
    let (mut predictions, mut confidence) = (
        Vec::with_capacity(data.len()),
        Vec::with_capacity(data.len()),
    );
    let mut total_loss = 0.0;
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(batch) {
        let (x, labels) = data.batch(chunk);
        let logits = model.logits(x);
        check_finite(&logits, chunk[0])?;
        let log_p = logits.log_softmax(1);
        for (row, &label) in labels.iter().enumerate() {
            let scores = &log_p.data()[row * classes..(row + 1) * classes];
            let best = (0..classes).fold(0, |b, c| if scores[c] > scores[b] { c } else { b });
            total_loss -= scores[label] as f64;
            confusion[label][best] += 1;
            predictions.push(best);
            confidence.push(scores[best].exp());
        }
    }
    let n = data.len().max(1) as f64;
    let right: usize = (0..classes).map(|c| confusion[c][c]).sum();
    Ok(Evaluation {
        loss: total_loss / n,
        accuracy: right as f64 / n,
        confusion,
        predictions,
        confidence,
    })
}
