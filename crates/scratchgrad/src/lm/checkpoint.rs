//! A language model's checkpoint (`checkpoint.safetensors` in its run folder): the model file,
//! and what training needs to go on bit for bit: its settings, the steps taken, where the batch
//! drawer is in its random stream, and the optimizers' buffers. Written after every evaluation.

use std::path::Path;

use super::file::LmFile;
use super::train::{LmProgress, LmTraining};
use crate::model_files::{decode_named, encode_named, read_file, LoadError, MAX_CHECKPOINT_BYTES};

/// The `format` of a language model's checkpoint.
pub const LM_CHECKPOINT_FORMAT: &str = "scratchgrad.lm-checkpoint.v1";

/// The two optimizers' prefixes (the matrices' with weight decay, the rest's).
const OPTIMIZERS: [&str; 2] = ["optimizer.matrices", "optimizer.rest"];
/// The count of steps taken.
const STEP: &str = "progress.step";

/// Everything a language model's checkpoint holds.
#[derive(Debug, Clone)]
pub struct LmCheckpoint {
    pub file: LmFile,
    pub training: LmTraining,
    pub progress: LmProgress,
}

impl LmCheckpoint {
    /// The checkpoint's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut named = self.file.named();
        named
            .metadata
            .insert("format".into(), LM_CHECKPOINT_FORMAT.into());
        named
            .metadata
            .insert("training".into(), self.training.to_json().to_string());
        named.metadata.insert(
            "rng_position".into(),
            self.progress.rng_position.to_string(),
        );
        for (prefix, state) in OPTIMIZERS.iter().zip(&self.progress.optimizers) {
            named.counts.push((format!("{prefix}.steps"), state.steps));
            for (name, buffer) in &state.buffers {
                named
                    .tensors
                    .push((format!("{prefix}.{name}"), buffer.clone()));
            }
        }
        named.counts.push((STEP.into(), self.progress.step as u64));
        encode_named(&named)
    }

    /// Reads a checkpoint from bytes; `name` is used in errors. The model is checked as a
    /// model file is; the optimizers' buffers are checked against the parameters when training
    /// goes on with them.
    pub fn decode(bytes: &[u8], name: &str) -> Result<LmCheckpoint, LoadError> {
        let fail = |problem: String| LoadError::Invalid {
            file: name.to_string(),
            problem,
        };
        let mut named = decode_named(bytes).map_err(&fail)?;
        if named.metadata.get("format").map(String::as_str) != Some(LM_CHECKPOINT_FORMAT) {
            return Err(fail("is not a language model's checkpoint".into()));
        }
        let training = named
            .metadata
            .get("training")
            .and_then(|t| serde_json::from_str(t).ok())
            .ok_or_else(|| fail("has no readable `training` settings".into()))
            .and_then(|json| {
                LmTraining::from_json(&json)
                    .map_err(|e| fail(format!("has training settings where {e}")))
            })?;
        let rng_position = named
            .metadata
            .get("rng_position")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| fail("has no `rng_position` that is a whole number".into()))?;
        let mut progress = LmProgress {
            step: 0,
            rng_position,
            optimizers: Default::default(),
        };
        for (prefix, state) in OPTIMIZERS.iter().zip(&mut progress.optimizers) {
            let mine = |n: &str| n.strip_prefix(prefix).is_some_and(|r| r.starts_with('.'));
            let (buffers, rest) = named.tensors.into_iter().partition(|(n, _)| mine(n));
            named.tensors = rest;
            state.buffers = buffers
                .into_iter()
                .map(|(n, a)| (n[prefix.len() + 1..].to_string(), a))
                .collect();
            let steps = format!("{prefix}.steps");
            let at = named
                .counts
                .iter()
                .position(|(n, _)| *n == steps)
                .ok_or_else(|| fail(format!("has no count `{steps}`")))?;
            state.steps = named.counts.swap_remove(at).1;
        }
        let at = named
            .counts
            .iter()
            .position(|(n, _)| n == STEP)
            .ok_or_else(|| fail(format!("has no count `{STEP}`")))?;
        let step = named.counts.swap_remove(at).1;
        if step == 0
            || step > training.steps as u64
            || progress.optimizers.iter().any(|o| o.steps != step)
        {
            return Err(fail(format!(
                "says {step} steps were taken, which does not fit its optimizers ({} and {}) or its {} steps in all",
                progress.optimizers[0].steps, progress.optimizers[1].steps, training.steps
            )));
        }
        // Each step draws `batch_size` numbers of 64 bits (2 words each); a draw is redrawn
        // with a chance below 2^-40 for any data set here, so the position is exactly that in
        // practice: allow a few redraws, refuse anything else.
        let least = 2 * step as u128 * training.batch_size as u128;
        if !(least..=least + 64).contains(&rng_position) {
            return Err(fail(format!(
                "has `rng_position` {rng_position}, which {step} steps of {} cannot have reached",
                training.batch_size
            )));
        }
        progress.step = step as usize;
        let file = LmFile::from_named(named, name)?;
        file.arch
            .check_batch(file.vocabulary.len(), training.batch_size)
            .map_err(fail)?;
        Ok(LmCheckpoint {
            file,
            training,
            progress,
        })
    }

    /// Reads and checks a checkpoint from disk.
    pub fn load(path: &Path) -> Result<LmCheckpoint, LoadError> {
        let bytes = read_file(path, MAX_CHECKPOINT_BYTES)?;
        Self::decode(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;
    use crate::data::{Corpus, TextKind, Vocabulary};
    use crate::lm::{LanguageModel, LmArch, LmOptimizer};

    fn checkpoint() -> LmCheckpoint {
        let names = vec!["emma".to_string(), "ava".to_string()];
        let vocabulary = Vocabulary::of(&names, TextKind::Lines).unwrap();
        let model =
            LanguageModel::new(LmArch::Bigram, vocabulary.len(), &mut Rng::seed(1)).unwrap();
        let training = LmTraining {
            steps: 10,
            batch_size: 4,
            optimizer: LmOptimizer::Sgd,
            lr: 0.1,
            min_lr: 0.01,
            warmup: 0,
            weight_decay: 0.0,
            clip: None,
            dropout: 0.0,
            eval_every: 5,
            eval_examples: 100,
            seed: 3,
        };
        let mut progress = LmProgress {
            step: 5,
            rng_position: 2 * 5 * 4,
            ..Default::default()
        };
        progress.optimizers[0].steps = 5;
        progress.optimizers[1].steps = 5;
        LmCheckpoint {
            file: LmFile::of(&model, &vocabulary, Corpus::Names, 3),
            training,
            progress,
        }
    }

    #[test]
    fn a_checkpoint_round_trips_and_settings_it_cannot_have_are_refused() {
        let good = checkpoint();
        let back = LmCheckpoint::decode(&good.encode(), "c").unwrap();
        assert_eq!(back.training, good.training);
        assert_eq!(back.progress.rng_position, 40);
        assert_eq!(back.file.state, good.file.state);
        let refused = |c: LmCheckpoint, want: &str| {
            let err = LmCheckpoint::decode(&c.encode(), "c")
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err}");
        };
        let mut c = checkpoint();
        c.training.min_lr = 100.0;
        refused(c, "below `min_lr`");
        let mut c = checkpoint();
        c.training.eval_every = 0;
        refused(c, "must be at least 1");
        let mut c = checkpoint();
        c.progress.rng_position = 0;
        refused(c, "cannot have reached");
        let mut c = checkpoint();
        c.progress.optimizers[1].steps = 4;
        refused(c, "does not fit its optimizers");
    }
}
