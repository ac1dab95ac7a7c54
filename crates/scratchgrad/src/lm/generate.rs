//! Writing new text with a model: one character at a time, each drawn from the model's scores
//! for what follows the characters before it.

use super::arch::LmArch;
use super::model::LanguageModel;
use super::sample::next_token;
use crate::array::Rng;
use crate::data::Vocabulary;

/// How to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generation {
    /// Above 0: 1 draws from the model as it is, lower is more cautious.
    pub temperature: f64,
    /// Draw only among the `k` likeliest characters.
    pub top_k: Option<usize>,
    /// The most characters to add (a name ends earlier, at its boundary).
    pub max_chars: usize,
}

/// Continues `prompt`. For a model of lines (names), the result is one line: the prompt and
/// what follows until the model ends the line (or `max_chars`). For a stream, the prompt and
/// `max_chars` more characters; a prompt shorter than the model's context is padded on the
/// left with newlines (or the first character), as text that starts a new line.
///
/// ```
/// use scratchgrad::array::Rng;
/// use scratchgrad::data::{TextKind, Vocabulary};
/// use scratchgrad::lm::{generate, Generation, LanguageModel, LmArch};
/// let vocabulary = Vocabulary::of(&["ab".to_string()], TextKind::Lines).unwrap();
/// let mut model = LanguageModel::new(LmArch::Bigram, vocabulary.len(), &mut Rng::seed(0)).unwrap();
/// let how = Generation { temperature: 1.0, top_k: None, max_chars: 20 };
/// let name = generate(&mut model, &vocabulary, "b", &how, &mut Rng::seed(1)).unwrap();
/// assert!(name.starts_with('b') && name.len() <= 21);
/// assert!(generate(&mut model, &vocabulary, "bz", &how, &mut Rng::seed(1)).is_err());
/// ```
pub fn generate(
    model: &mut LanguageModel,
    vocabulary: &Vocabulary,
    prompt: &str,
    how: &Generation,
    rng: &mut Rng,
) -> Result<String, String> {
    generate_each(model, vocabulary, prompt, how, rng, &mut |_| true)
}

/// [`generate`], handing each character to `each` as soon as it is drawn (to show a long
/// passage as it is written); a `false` from `each` stops the drawing there, as if
/// `max_chars` had been reached (the reader has gone). Nothing is handed over when the
/// prompt is refused.
///
/// ```
/// use scratchgrad::array::Rng;
/// use scratchgrad::data::{TextKind, Vocabulary};
/// use scratchgrad::lm::{generate_each, Generation, LanguageModel, LmArch};
/// let vocabulary = Vocabulary::of(&["ab\nba\n".to_string()], TextKind::Stream).unwrap();
/// let mut model = LanguageModel::new(LmArch::Bigram, vocabulary.len(), &mut Rng::seed(0)).unwrap();
/// let how = Generation { temperature: 1.0, top_k: None, max_chars: 20 };
/// let mut seen = String::new();
/// let text = generate_each(&mut model, &vocabulary, "a", &how, &mut Rng::seed(1), &mut |c| {
///     seen.push(c);
///     seen.len() < 3 // stop after the third character
/// })
/// .unwrap();
/// assert_eq!(seen.chars().count(), 3);
/// assert_eq!(text, format!("a{seen}"));
/// ```
pub fn generate_each(
    model: &mut LanguageModel,
    vocabulary: &Vocabulary,
    prompt: &str,
    how: &Generation,
    rng: &mut Rng,
    each: &mut dyn FnMut(char) -> bool,
) -> Result<String, String> {
    let prompt_tokens = vocabulary.encode(prompt).map_err(|c| {
        format!(
            "the prompt holds {c:?}, which the model never saw (it knows {:?})",
            vocabulary.chars()
        )
    })?;
    let lines = vocabulary.has_boundary();
    if lines && prompt_tokens.contains(&0) {
        return Err(format!(
            "the prompt holds {:?}, which marks where a line ends",
            crate::data::vocabulary::BOUNDARY
        ));
    }
    let context = model.arch().context();
    let mut tokens = start_tokens(model.arch(), vocabulary, &prompt_tokens);
    model.set_training(false);
    let mut added = Vec::new();
    for _ in 0..how.max_chars {
        let window = &tokens[tokens.len().saturating_sub(context)..];
        let scores = model.next_scores(window);
        if scores.iter().any(|s| !s.is_finite()) {
            return Err("the model gives scores that are not finite numbers (inf or NaN); it cannot be used".into());
        }
        let next =
            next_token(&scores, how.temperature, how.top_k, rng).map_err(|e| e.to_string())?;
        if lines && next == 0 {
            break;
        }
        tokens.push(next);
        added.push(next);
        if !each(vocabulary.char_of(next)) {
            break;
        }
    }
    model.set_training(true);
    Ok(format!("{prompt}{}", vocabulary.decode(&added)))
}

/// What a model reads before writing after `prompt`: for a GPT of lines, the boundary then
/// the prompt (it learnt each line from its first position, as makemore's windows start);
/// for every other model, a full context of padding (the boundary, or a newline in a stream)
/// then the prompt. The model reads the last [`LmArch::context`] of them.
pub fn start_tokens(arch: LmArch, vocabulary: &Vocabulary, prompt: &[usize]) -> Vec<usize> {
    let lines = vocabulary.has_boundary();
    let pad = if lines {
        0
    } else {
        vocabulary.encode("\n").map(|t| t[0]).unwrap_or(0)
    };
    let mut tokens = if lines && arch.predicts_every_position() {
        vec![0]
    } else {
        vec![pad; arch.context()]
    };
    tokens.extend(prompt);
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Array;
    use crate::data::TextKind;

    #[test]
    fn a_model_whose_scores_overflow_is_refused_not_sampled() {
        let vocabulary = Vocabulary::of(&["ab".to_string()], TextKind::Lines).unwrap();
        let arch = LmArch::Mlp {
            context: 2,
            embedding: 2,
            hidden: 4,
            batch_norm: false,
        };
        let model = LanguageModel::new(arch, 3, &mut Rng::seed(0)).unwrap();
        // Finite weights of 3e38 in the output layer: four of them summed overflow.
        let (mut state, _) = model.state();
        for (name, array) in &mut state {
            if name == "out.weight" {
                *array = Array::full(array.shape(), 3e38);
            }
        }
        let mut model = LanguageModel::from_arrays(arch, 3, state, &Vec::new()).unwrap();
        let how = Generation {
            temperature: 1.0,
            top_k: None,
            max_chars: 5,
        };
        let err = generate(&mut model, &vocabulary, "", &how, &mut Rng::seed(0)).unwrap_err();
        assert!(err.contains("not finite"), "{err}");
    }
}
