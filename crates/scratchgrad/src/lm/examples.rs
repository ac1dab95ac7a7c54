//! Training examples for a language model: a context of characters and the character that
//! follows. Every example reads its context from one token buffer, so a data set of a
//! million positions costs a million offsets, not a million copies of the context.

use crate::data::{TextKind, Vocabulary};

/// Examples with a fixed context length: example `i` reads `context` tokens of `buffer`
/// ending just before `targets[i]`, and must predict the token at `targets[i]`.
#[derive(Debug, Clone)]
pub struct Examples {
    buffer: Vec<u32>,
    targets: Vec<u32>,
    context: usize,
}

impl Examples {
    /// The examples of `texts` for a model reading `context` characters. A line (a name) is
    /// read as the lectures build their data sets: its context starts as `context` boundary
    /// tokens, and after its last character comes the boundary, which the model must predict
    /// too (so `emma` with a context of 3 gives `... -> e`, `..e -> m`, `.em -> m`,
    /// `emm -> a`, `mma -> .`). A stream gives one example per position after the first
    /// `context` characters. Fails on the first character the vocabulary lacks.
    ///
    /// ```
    /// use scratchgrad::data::{TextKind, Vocabulary};
    /// use scratchgrad::lm::Examples;
    /// let names = vec!["emma".to_string()];
    /// let vocabulary = Vocabulary::of(&names, TextKind::Lines).unwrap();
    /// let examples = Examples::of(&names, TextKind::Lines, &vocabulary, 3).unwrap();
    /// assert_eq!(examples.len(), 5);
    /// let (contexts, targets) = examples.batch(&[0, 3, 4]);
    /// assert_eq!(vocabulary.decode(&contexts), "...emmmma");
    /// assert_eq!(vocabulary.decode(&targets), "ea.");
    /// ```
    pub fn of(
        texts: &[String],
        kind: TextKind,
        vocabulary: &Vocabulary,
        context: usize,
    ) -> Result<Examples, char> {
        let mut buffer = Vec::new();
        let mut targets = Vec::new();
        for text in texts {
            let tokens = vocabulary.encode(text)?;
            match kind {
                TextKind::Lines => {
                    buffer.extend(std::iter::repeat_n(0, context));
                    let start = buffer.len();
                    buffer.extend(tokens.iter().map(|&t| t as u32));
                    buffer.push(0);
                    targets.extend((start..buffer.len()).map(|p| p as u32));
                }
                TextKind::Stream => {
                    let start = buffer.len();
                    buffer.extend(tokens.iter().map(|&t| t as u32));
                    targets.extend((start + context..buffer.len()).map(|p| p as u32));
                }
            }
        }
        Ok(Examples {
            buffer,
            targets,
            context,
        })
    }

    /// How many examples there are.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The contexts (`[examples.len() * context]`, row by row) and targets of `examples`.
    pub fn batch(&self, examples: &[usize]) -> (Vec<usize>, Vec<usize>) {
        self.read(examples, 1)
    }

    /// For a model that predicts at every position (a GPT): each example's whole window of
    /// `context` tokens and the token after each of them (the window moved on by one), row by
    /// row. A window of a line may reach back into the padding and the line before, as the
    /// text runs on in the buffer.
    pub fn windows(&self, examples: &[usize]) -> (Vec<usize>, Vec<usize>) {
        self.read(examples, self.context)
    }

    /// Each example's context, and the last `per_example` tokens up to its target.
    fn read(&self, examples: &[usize], per_example: usize) -> (Vec<usize>, Vec<usize>) {
        let tokens = |from: usize, to: usize| self.buffer[from..to].iter().map(|&t| t as usize);
        let mut contexts = Vec::with_capacity(examples.len() * self.context);
        let mut targets = Vec::with_capacity(examples.len() * per_example);
        for &e in examples {
            let at = self.targets[e] as usize;
            contexts.extend(tokens(at - self.context, at));
            targets.extend(tokens(at + 1 - per_example, at + 1));
        }
        (contexts, targets)
    }

    /// The examples of a model: [`Examples::batch`], or [`Examples::windows`] when it
    /// predicts at every position.
    pub fn for_model(&self, examples: &[usize], every_position: bool) -> (Vec<usize>, Vec<usize>) {
        if every_position {
            self.windows(examples)
        } else {
            self.batch(examples)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_predicts_every_character_after_its_first_context() {
        let text = vec!["abcab".to_string()];
        let vocabulary = Vocabulary::of(&text, TextKind::Stream).unwrap();
        let examples = Examples::of(&text, TextKind::Stream, &vocabulary, 2).unwrap();
        assert_eq!(examples.len(), 3);
        let (contexts, targets) = examples.batch(&[0, 1, 2]);
        assert_eq!(vocabulary.decode(&contexts), "abbcca");
        assert_eq!(vocabulary.decode(&targets), "cab");
        let (contexts, targets) = examples.windows(&[0, 2]);
        assert_eq!(vocabulary.decode(&contexts), "abca");
        assert_eq!(vocabulary.decode(&targets), "bcab");
        let unknown = Examples::of(&["abd".to_string()], TextKind::Stream, &vocabulary, 2);
        assert_eq!(unknown.unwrap_err(), 'd');
    }
}
