//! Training examples for a language model: a context of characters and the character that
//! follows. Every example reads its context from one token buffer, so a data set of a
//! million positions costs a million offsets, not a million copies of the context.

use super::arch::LmArch;
use crate::data::{Corpus, TextKind, Vocabulary};

/// A target that is not there: a whole line's window is padded past the line's end with
/// positions whose loss does not count (PyTorch's `ignore_index`, -1 in makemore).
pub const IGNORED: usize = usize::MAX;

/// Examples with a fixed context length: example `i` reads `context` tokens of `buffer`
/// ending just before `targets[i]`, and must predict the token at `targets[i]`. For whole
/// lines (a GPT on names), example `i` is a line instead, `buffer[targets[i]..]` up to the next
/// line: its boundary, its characters and the boundary again.
#[derive(Debug, Clone)]
pub struct Examples {
    buffer: Vec<u32>,
    targets: Vec<u32>,
    context: usize,
    whole_lines: bool,
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
            whole_lines: false,
        })
    }

    /// One example per line, as makemore feeds its GPT: the window is the boundary, the
    /// line and boundaries after it, `context` tokens long, and the targets are the line, its
    /// boundary, then [`IGNORED`] (`emma` with a context of 7: `.emma..` -> `emma.` and two
    /// ignored). A line longer than `context - 1` is cut. Fails on the first character the
    /// vocabulary lacks.
    ///
    /// ```
    /// use scratchgrad::data::{TextKind, Vocabulary};
    /// use scratchgrad::lm::examples::{Examples, IGNORED};
    /// let names = vec!["emma".to_string(), "al".to_string()];
    /// let vocabulary = Vocabulary::of(&names, TextKind::Lines).unwrap();
    /// let examples = Examples::lines(&names, &vocabulary, 7).unwrap();
    /// assert_eq!((examples.len(), examples.characters()), (2, 8));
    /// let (windows, targets) = examples.windows(&[1]);
    /// assert_eq!(vocabulary.decode(&windows), ".al....");
    /// assert_eq!(vocabulary.decode(&targets[..3]), "al.");
    /// assert_eq!(targets[3..], [IGNORED; 4]);
    /// ```
    pub fn lines(
        texts: &[String],
        vocabulary: &Vocabulary,
        context: usize,
    ) -> Result<Examples, char> {
        let mut buffer = Vec::new();
        let mut targets = Vec::new();
        for text in texts {
            let tokens = vocabulary.encode(text)?;
            targets.push(buffer.len() as u32);
            buffer.push(0);
            buffer.extend(tokens.iter().map(|&t| t as u32));
            buffer.push(0);
        }
        Ok(Examples {
            buffer,
            targets,
            context,
            whole_lines: true,
        })
    }

    /// A corpus's whole `text` as a run learns from it: split with `seed` ([`Corpus::split`]),
    /// the vocabulary of both halves, and each half's examples for `arch` (training's, then
    /// the held-out ones).
    pub fn of_corpus(
        corpus: Corpus,
        text: &str,
        seed: u32,
        arch: LmArch,
    ) -> Result<(Vocabulary, Examples, Examples), String> {
        let (train, test) = corpus.split(text, seed).map_err(|e| e.to_string())?;
        let all: Vec<String> = train.iter().chain(&test).cloned().collect();
        let vocabulary = Vocabulary::of(&all, corpus.kind())?;
        let examples = |texts: &[String]| {
            Examples::for_arch(texts, corpus.kind(), &vocabulary, arch)
                .map_err(|c| format!("{c:?} is not in the vocabulary"))
        };
        let (train, test) = (examples(&train)?, examples(&test)?);
        Ok((vocabulary, train, test))
    }

    /// The examples of `texts` as `arch` reads them: whole lines for a GPT on lines,
    /// otherwise [`Examples::of`].
    pub fn for_arch(
        texts: &[String],
        kind: TextKind,
        vocabulary: &Vocabulary,
        arch: LmArch,
    ) -> Result<Examples, char> {
        if kind == TextKind::Lines && arch.predicts_every_position() {
            Self::lines(texts, vocabulary, arch.context())
        } else {
            Self::of(texts, kind, vocabulary, arch.context())
        }
    }

    /// Whether each example is a whole line's window.
    pub fn whole_lines(&self) -> bool {
        self.whole_lines
    }

    /// How many examples there are.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// How many characters they ask a model to predict: one per example, or for whole lines
    /// each line's characters and its boundary.
    pub fn characters(&self) -> usize {
        if self.whole_lines {
            self.buffer.len() - self.targets.len()
        } else {
            self.targets.len()
        }
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
        if self.whole_lines {
            return self.line_windows(examples);
        }
        self.read(examples, self.context)
    }

    /// Each line's window and targets (see [`Examples::lines`]).
    fn line_windows(&self, examples: &[usize]) -> (Vec<usize>, Vec<usize>) {
        let mut windows = Vec::with_capacity(examples.len() * self.context);
        let mut targets = Vec::with_capacity(examples.len() * self.context);
        for &e in examples {
            let start = self.targets[e] as usize;
            let end = self
                .targets
                .get(e + 1)
                .map_or(self.buffer.len(), |&t| t as usize);
            // `.emma.`: the window reads it from the first token (padded with boundaries),
            // the targets from the second (padded with nothing to predict).
            let line = &self.buffer[start..end];
            for i in 0..self.context {
                windows.push(line.get(i).map_or(0, |&t| t as usize));
                targets.push(line.get(i + 1).map_or(IGNORED, |&t| t as usize));
            }
        }
        (windows, targets)
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
