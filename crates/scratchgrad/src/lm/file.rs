//! A language model's file: its tensors in safetensors, and in the metadata what the model is,
//! the characters it knows, and the text it learnt (so `eval` can rebuild the held-out split).

use std::collections::HashMap;
use std::path::Path;

use super::arch::LmArch;
use super::model::{LanguageModel, NamedArrays, NamedCounts};
use crate::data::{Corpus, Vocabulary};
use crate::model_files::{
    decode_named, encode_named, read_file, LoadError, NamedTensors, LANGUAGE_MODEL_FORMAT,
    LEGACY_MODEL_FORMAT, MAX_MODEL_BYTES, MODEL_FORMAT,
};

/// The metadata key of the split's seed. Files written before the names were split as
/// makemore splits them have `split_seed` instead, and are refused.
const SPLIT_SEED: &str = "torch_split_seed";

/// Everything a language model's file holds.
#[derive(Debug, Clone)]
pub struct LmFile {
    pub arch: LmArch,
    pub vocabulary: Vocabulary,
    /// The text data set it learnt.
    pub corpus: Corpus,
    /// The seed of the split into training and held-out text ([`Corpus::split`]).
    pub split_seed: u32,
    pub state: NamedArrays,
    /// Each batch norm's count of batches.
    pub counts: NamedCounts,
}

impl LmFile {
    /// The file of `model`.
    pub fn of(
        model: &LanguageModel,
        vocabulary: &Vocabulary,
        corpus: Corpus,
        split_seed: u32,
    ) -> LmFile {
        let (mut state, counts) = model.state();
        // In name order, as the file stores them.
        state.sort_by(|a, b| a.0.cmp(&b.0));
        LmFile {
            arch: model.arch(),
            vocabulary: vocabulary.clone(),
            corpus,
            split_seed,
            state,
            counts,
        }
    }

    /// The model, ready to sample from or evaluate.
    pub fn model(&self) -> LanguageModel {
        LanguageModel::from_arrays(
            self.arch,
            self.vocabulary.len(),
            self.state.clone(),
            &self.counts,
        )
        .expect("decode_lm checked the tensors")
    }

    /// The file's bytes (the same model gives the same bytes).
    pub fn encode(&self) -> Vec<u8> {
        encode_named(&self.named())
    }

    /// The file as named tensors, counts and metadata (a checkpoint adds to them).
    pub(crate) fn named(&self) -> NamedTensors {
        let metadata = HashMap::from([
            ("format".to_string(), LANGUAGE_MODEL_FORMAT.to_string()),
            ("architecture".to_string(), self.arch.to_json().to_string()),
            ("vocabulary".to_string(), self.vocabulary.chars()),
            (
                "boundary".to_string(),
                self.vocabulary.has_boundary().to_string(),
            ),
            ("corpus".to_string(), self.corpus.to_string()),
            (SPLIT_SEED.to_string(), self.split_seed.to_string()),
        ]);
        NamedTensors {
            metadata,
            tensors: self.state.clone(),
            counts: self.counts.clone(),
        }
    }

    /// Reads a language model's file from bytes; `name` is used in errors. Every field is
    /// checked, and the tensors against the architecture, before anything is built.
    pub fn decode(bytes: &[u8], name: &str) -> Result<LmFile, LoadError> {
        let fail = |problem: String| LoadError::Invalid {
            file: name.to_string(),
            problem,
        };
        let parsed = decode_named(bytes).map_err(&fail)?;
        match parsed.metadata.get("format").map(String::as_str) {
            Some(LANGUAGE_MODEL_FORMAT) => {}
            Some(MODEL_FORMAT | LEGACY_MODEL_FORMAT) => {
                return Err(fail(
                    "is an image classifier, not a language model: use it with predict or eval"
                        .into(),
                ))
            }
            Some(super::checkpoint::LM_CHECKPOINT_FORMAT) => {
                return Err(fail(
                    "is a language model's training checkpoint: give its run's folder or model.safetensors"
                        .into(),
                ))
            }
            _ => return Err(fail("is not a scratchgrad language model".into())),
        }
        Self::from_named(parsed, name)
    }

    /// The model in named tensors, whatever their `format` says; every field is checked.
    pub(crate) fn from_named(parsed: NamedTensors, name: &str) -> Result<LmFile, LoadError> {
        let fail = |problem: String| LoadError::Invalid {
            file: name.to_string(),
            problem,
        };
        let meta = |key: &str| {
            parsed
                .metadata
                .get(key)
                .ok_or_else(|| fail(format!("has no `{key}` metadata")))
        };
        let json = serde_json::from_str(meta("architecture")?)
            .map_err(|e| fail(format!("has an unreadable architecture ({e})")))?;
        let arch = LmArch::from_json(&json)
            .and_then(|a| a.validate(2).map(|()| a))
            .map_err(|e| fail(format!("has an architecture it cannot use ({e})")))?;
        let boundary = match meta("boundary")?.as_str() {
            "true" => true,
            "false" => false,
            other => return Err(fail(format!("has `boundary` {other:?}, not true or false"))),
        };
        let vocabulary = Vocabulary::from_chars(meta("vocabulary")?, boundary)
            .map_err(|e| fail(format!("has a bad vocabulary: {e}")))?;
        let corpus: Corpus = meta("corpus")?
            .parse()
            .map_err(|e| fail(format!("names a text it cannot have learnt ({e})")))?;
        if (corpus.kind() == crate::data::TextKind::Lines) != boundary {
            return Err(fail(format!("has a vocabulary that does not fit {corpus}")));
        }
        if parsed.metadata.contains_key("split_seed") && !parsed.metadata.contains_key(SPLIT_SEED) {
            return Err(fail(
                "was written by an earlier scratchgrad, which held out other names than makemore's: \
                 train it again"
                    .into(),
            ));
        }
        let split_seed = meta(SPLIT_SEED)?.parse().map_err(|_| {
            fail(format!(
                "has a `{SPLIT_SEED}` that is not a 32-bit whole number"
            ))
        })?;
        let file = LmFile {
            arch,
            vocabulary,
            corpus,
            split_seed,
            state: parsed.tensors,
            counts: parsed.counts,
        };
        LanguageModel::from_arrays(
            file.arch,
            file.vocabulary.len(),
            file.state.clone(),
            &file.counts,
        )
        .map_err(&fail)?;
        Ok(file)
    }

    /// Reads and checks a language model's file from disk.
    pub fn load(path: &Path) -> Result<LmFile, LoadError> {
        let bytes = read_file(path, MAX_MODEL_BYTES)?;
        Self::decode(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;
    use crate::data::TextKind;

    #[test]
    fn a_file_round_trips_and_a_tampered_one_is_refused() {
        let names = vec!["emma".to_string(), "ava".to_string()];
        let vocabulary = Vocabulary::of(&names, TextKind::Lines).unwrap();
        let model =
            LanguageModel::new(LmArch::LECTURE_MLP, vocabulary.len(), &mut Rng::seed(2)).unwrap();
        let file = LmFile::of(&model, &vocabulary, Corpus::Names, 42);
        let bytes = file.encode();
        assert_eq!(
            bytes,
            LmFile::of(&model, &vocabulary, Corpus::Names, 42).encode()
        );
        let back = LmFile::decode(&bytes, "m").unwrap();
        assert_eq!(back.state, file.state);
        assert_eq!(
            (back.arch, back.corpus, back.split_seed),
            (file.arch, file.corpus, 42)
        );
        assert_eq!(back.vocabulary, vocabulary);
        // The same file with Shakespeare's name: a vocabulary with a boundary cannot be its.
        let other = LmFile {
            corpus: Corpus::Shakespeare,
            ..file.clone()
        };
        let err = LmFile::decode(&other.encode(), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not fit shakespeare"), "{err}");
        // A file from before the names were split as makemore splits them: other names held
        // out, so `eval` would score names it trained on.
        let mut old = file.named();
        let seed = old.metadata.remove(SPLIT_SEED).unwrap();
        old.metadata.insert("split_seed".into(), seed);
        let err = LmFile::decode(&encode_named(&old), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("earlier scratchgrad"), "{err}");
        let mut shapes = file.clone();
        shapes.state[0].1 = crate::array::Array::zeros(&[2, 2]);
        let err = LmFile::decode(&shapes.encode(), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("of shape [2, 2]"), "{err}");
        let mut infinite = file;
        infinite.state[1].1 = infinite.state[1].1.map(|_| f32::INFINITY);
        let err = LmFile::decode(&infinite.encode(), "m")
            .unwrap_err()
            .to_string();
        assert!(err.contains("non-finite"), "{err}");
    }
}
