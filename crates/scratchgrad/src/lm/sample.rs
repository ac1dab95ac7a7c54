//! Drawing the next character from a model's scores: temperature and top-k, as makemore's
//! and nanoGPT's `generate` do.

use crate::array::Rng;

/// A sampling setting that cannot be used.
#[derive(Debug, Clone, PartialEq)]
pub enum SamplingError {
    /// Temperature must be a finite number above 0.
    Temperature(f64),
    /// Top-k must keep at least one token.
    TopK,
}

impl std::fmt::Display for SamplingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SamplingError::Temperature(t) => write!(
                f,
                "a temperature must be a number above 0 (1 samples the model as it is, lower is more cautious), not {t}"
            ),
            SamplingError::TopK => write!(f, "top-k must keep at least 1 token"),
        }
    }
}

impl std::error::Error for SamplingError {}

/// Draws a token from `logits` (scores whose softmax is the model's distribution of the next
/// token): softmax(logits / temperature), keeping only the `top_k` highest scores when given.
///
/// ```
/// use scratchgrad::array::Rng;
/// use scratchgrad::lm::next_token;
/// let mut rng = Rng::seed(0);
/// // With top-k 1, always the highest score.
/// assert_eq!(next_token(&[0.1, 2.0, 1.0], 1.0, Some(1), &mut rng).unwrap(), 1);
/// assert!(next_token(&[0.1, 2.0], 0.0, None, &mut rng).is_err());
/// ```
pub fn next_token(
    logits: &[f64],
    temperature: f64,
    top_k: Option<usize>,
    rng: &mut Rng,
) -> Result<usize, SamplingError> {
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(SamplingError::Temperature(temperature));
    }
    if top_k == Some(0) {
        return Err(SamplingError::TopK);
    }
    let weights = weights(logits, temperature, top_k);
    let total: f64 = weights.iter().sum();
    let mut target = rng.uniform() * total;
    for (token, &w) in weights.iter().enumerate() {
        if target < w {
            return Ok(token);
        }
        target -= w;
    }
    // Rounding left a sliver past the last weight: the last token that had any.
    Ok(weights.iter().rposition(|&w| w > 0.0).unwrap_or(0))
}

/// The model's probability for each token after its `logits`: softmax(logits).
///
/// ```
/// use scratchgrad::lm::sample::probabilities;
/// let p = probabilities(&[0.0, 0.0]);
/// assert_eq!(p, vec![0.5, 0.5]);
/// ```
pub fn probabilities(logits: &[f64]) -> Vec<f64> {
    let weights = weights(logits, 1.0, None);
    let total: f64 = weights.iter().sum();
    weights.iter().map(|w| w / total).collect()
}

/// e^((logit - highest) / temperature) for the `top_k` highest logits (all without it), 0 for
/// the rest: the softmax's weights before they are divided by their sum.
fn weights(logits: &[f64], temperature: f64, top_k: Option<usize>) -> Vec<f64> {
    // The k-th highest score: anything below it is left out.
    let floor = match top_k {
        Some(k) if k < logits.len() => {
            let mut sorted = logits.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            sorted[k - 1]
        }
        _ => f64::NEG_INFINITY,
    };
    let highest = logits.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    logits
        .iter()
        .map(|&l| {
            if l >= floor {
                ((l - highest) / temperature).exp()
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_softmax_and_temperature_sharpens_it() {
        let logits = [0.0, (3.0f64).ln()];
        let mut rng = Rng::seed(7);
        let draws = 20_000;
        let ones = (0..draws)
            .filter(|_| next_token(&logits, 1.0, None, &mut rng).unwrap() == 1)
            .count();
        // P(1) = 3/4; 20,000 draws put the share within 0.02 of it (about 6.5 standard errors).
        assert!((ones as f64 / draws as f64 - 0.75).abs() < 0.02, "{ones}");
        // Temperature 0.5 squares the odds: 9 to 1.
        let ones = (0..draws)
            .filter(|_| next_token(&logits, 0.5, None, &mut rng).unwrap() == 1)
            .count();
        assert!((ones as f64 / draws as f64 - 0.9).abs() < 0.02, "{ones}");
        assert!(matches!(
            next_token(&logits, f64::NAN, None, &mut rng),
            Err(SamplingError::Temperature(_))
        ));
        assert_eq!(
            next_token(&logits, 1.0, Some(0), &mut rng),
            Err(SamplingError::TopK)
        );
    }
}
