//! Characters as numbers: a language model's vocabulary, made as the lectures make it (the
//! sorted set of characters in the text; for names, token 0 is `.`, the boundary that starts
//! and ends every name).

use std::collections::HashMap;

use super::text::TextKind;

/// The characters a model knows, each with its number (its place in the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocabulary {
    chars: Vec<char>,
    boundary: bool,
    token_of: HashMap<char, usize>,
}

/// The most characters a vocabulary holds (Shakespeare has 65; a model's output layer has
/// this many rows at most).
pub const MAX_VOCABULARY: usize = 4096;

/// The boundary token's character, as makemore's lectures print it.
pub const BOUNDARY: char = '.';

impl Vocabulary {
    /// The vocabulary of `examples`: every character in them, sorted; for [`TextKind::Lines`]
    /// token 0 is the boundary [`BOUNDARY`].
    ///
    /// ```
    /// use scratchgrad::data::{TextKind, Vocabulary};
    /// let v = Vocabulary::of(&["emma".to_string(), "ava".to_string()], TextKind::Lines).unwrap();
    /// assert_eq!(v.chars(), ".aemv");
    /// assert_eq!(v.encode("ava").unwrap(), vec![1, 4, 1]);
    /// assert_eq!(v.decode(&[0, 2, 3, 3, 1, 0]), ".emma.");
    /// ```
    pub fn of(examples: &[String], kind: TextKind) -> Result<Self, String> {
        let mut chars: Vec<char> = examples.iter().flat_map(|e| e.chars()).collect();
        chars.sort_unstable();
        chars.dedup();
        let boundary = kind == TextKind::Lines;
        if boundary {
            if chars.contains(&BOUNDARY) {
                return Err(format!(
                    "the text holds `{BOUNDARY}`, which marks where a line starts and ends"
                ));
            }
            chars.insert(0, BOUNDARY);
        }
        Self::from_parts(chars, boundary)
    }

    /// A vocabulary as a model file stores it: its characters in order, and whether the
    /// first is the boundary.
    pub fn from_chars(chars: &str, boundary: bool) -> Result<Self, String> {
        let list: Vec<char> = chars.chars().collect();
        let mut sorted = list.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != list.len() {
            return Err("the vocabulary lists a character twice".into());
        }
        if boundary && list.first() != Some(&BOUNDARY) {
            return Err(format!(
                "the vocabulary's first character is not `{BOUNDARY}`"
            ));
        }
        Self::from_parts(list, boundary)
    }

    fn from_parts(chars: Vec<char>, boundary: bool) -> Result<Self, String> {
        if chars.len() < 2 {
            return Err(format!(
                "a vocabulary needs at least 2 characters, not {}",
                chars.len()
            ));
        }
        if chars.len() > MAX_VOCABULARY {
            return Err(format!(
                "{} different characters is more than the {MAX_VOCABULARY} a vocabulary holds (is the file text?)",
                chars.len()
            ));
        }
        let token_of = chars.iter().enumerate().map(|(t, &c)| (c, t)).collect();
        Ok(Vocabulary {
            chars,
            boundary,
            token_of,
        })
    }

    /// How many tokens there are.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Never: a vocabulary has at least two characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Whether token 0 is the boundary of a line.
    pub fn has_boundary(&self) -> bool {
        self.boundary
    }

    /// The characters in token order.
    pub fn chars(&self) -> String {
        self.chars.iter().collect()
    }

    /// The token of each character of `text`, or the first character the vocabulary lacks.
    pub fn encode(&self, text: &str) -> Result<Vec<usize>, char> {
        text.chars()
            .map(|c| self.token_of.get(&c).copied().ok_or(c))
            .collect()
    }

    /// The character of one token (the boundary shown as [`BOUNDARY`]).
    pub fn char_of(&self, token: usize) -> char {
        self.chars[token]
    }

    /// The text of `tokens` (the boundary shown as [`BOUNDARY`]).
    pub fn decode(&self, tokens: &[usize]) -> String {
        tokens.iter().map(|&t| self.char_of(t)).collect()
    }

    /// A line as a model reads it: the boundary, its characters, the boundary.
    pub fn framed(&self, line: &str) -> Result<Vec<usize>, char> {
        let mut tokens = vec![0];
        tokens.extend(self.encode(line)?);
        tokens.push(0);
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shakespeare_has_no_boundary_and_unknown_characters_are_named() {
        let v = Vocabulary::of(&["To be, or not".to_string()], TextKind::Stream).unwrap();
        assert_eq!(v.chars(), " ,Tbenort");
        assert_eq!(v.encode("not be").unwrap(), vec![5, 6, 8, 0, 3, 4]);
        assert_eq!(v.encode("nox"), Err('x'));
        assert!(!v.has_boundary());
    }

    #[test]
    fn stored_vocabularies_are_checked() {
        assert!(Vocabulary::from_chars(".abc", true).is_ok());
        assert!(Vocabulary::from_chars("abc", true).is_err());
        assert!(Vocabulary::from_chars("abca", false).is_err());
        assert!(Vocabulary::from_chars("a", false).is_err());
        assert!(Vocabulary::of(&["a.b".to_string()], TextKind::Lines).is_err());
        let wide: String = (0..5000u32).filter_map(char::from_u32).collect();
        assert!(Vocabulary::of(&[wide], TextKind::Stream).is_err());
    }
}
