//! A language model's training run, as a folder: the text split and encoded, the model
//! trained, each evaluation appended to `metrics.jsonl`, then `model.safetensors`, the loss
//! curves and a few samples, and `summary.json` last (its presence marks the run finished).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::arch::LmArch;
use super::examples::Examples;
use super::file::LmFile;
use super::generate::{generate, Generation};
use super::model::LanguageModel;
use super::train::{train_lm, LmObserver, LmTraining};
use crate::array::Rng;
use crate::data::{Corpus, Vocabulary};
use crate::files::{append_durably, write_atomic};
use crate::report::curves_svg;
use crate::train::run_dir::{METRICS, MODEL, SUMMARY};
use crate::train::{timestamp, Folder, RunDir};

/// What a language-model run is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct LmConfig {
    pub corpus: Corpus,
    pub arch: LmArch,
    pub training: LmTraining,
}

/// What a finished run measured.
#[derive(Debug, Clone)]
pub struct LmFinished {
    pub steps: usize,
    pub train_loss: f64,
    pub test_loss: f64,
    pub parameters: usize,
    pub samples: Vec<String>,
    pub seconds: f64,
    /// The files written, in order.
    pub files: Vec<&'static str>,
}

/// A run in its folder, locked until it ends.
pub struct LmRun {
    config: LmConfig,
    dir: RunDir,
    finished: bool,
}

/// How many samples a run writes into its summary.
const SAMPLES: usize = 10;

impl LmRun {
    /// A new run of `config` in `folder` (as an image run's: new, empty, or a run that never
    /// finished; `Folder::In` names it after the text and the time).
    pub fn start(
        config: LmConfig,
        folder: Folder<'_>,
    ) -> Result<LmRun, (PathBuf, crate::train::RunDirError)> {
        let dir = match folder {
            Folder::At(path) => RunDir::create(path).map_err(|e| (path.to_path_buf(), e))?,
            Folder::In(parent) => {
                let stem = format!("{}-{}", config.corpus, timestamp());
                RunDir::create_unique(parent, &stem).map_err(|e| (parent.to_path_buf(), e))?
            }
        };
        Ok(LmRun {
            config,
            dir,
            finished: false,
        })
    }

    /// The run's folder.
    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    /// Trains on `text` (the corpus's whole text), reporting to `observer`, and writes the
    /// run's files. On an error nothing half-made is left: the folder is given up.
    pub fn train(
        mut self,
        text: &str,
        observer: &mut dyn LmObserver,
    ) -> Result<LmFinished, String> {
        let started = Instant::now();
        let LmConfig {
            corpus,
            arch,
            ref training,
        } = self.config;
        let (train_text, test_text) = corpus
            .split(text, training.seed)
            .map_err(|e| e.to_string())?;
        let all: Vec<String> = train_text.iter().chain(&test_text).cloned().collect();
        let vocabulary = Vocabulary::of(&all, corpus.kind())?;
        let examples = |texts: &[String]| {
            Examples::for_arch(texts, corpus.kind(), &vocabulary, arch)
                .map_err(|c| format!("{c:?} is not in the vocabulary"))
        };
        let (train, test) = (examples(&train_text)?, examples(&test_text)?);
        if train.is_empty() || test.is_empty() {
            return Err(format!(
                "{corpus} is too short for a context of {} characters",
                arch.context()
            ));
        }
        arch.check_batch(vocabulary.len(), training.batch_size)?;
        let mut model = LanguageModel::new(arch, vocabulary.len(), &mut Rng::seed(training.seed))?;
        let mut recorder = Recorder {
            inner: observer,
            metrics: self.dir.file(METRICS),
            started,
            evaluations: Vec::new(),
            error: None,
        };
        let (steps, train_loss, test_loss) =
            train_lm(&mut model, &train, &test, training, &mut recorder)?;
        if let Some(e) = recorder.error {
            return Err(e);
        }
        let evaluations = recorder.evaluations;
        let file = LmFile::of(&model, &vocabulary, corpus, training.seed);
        write_atomic(&self.dir.file(MODEL), &file.encode())
            .map_err(|e| format!("cannot write {MODEL}: {e}"))?;
        let mut files = vec![METRICS, MODEL];
        let curve = |i: usize| -> Vec<(f64, f64)> {
            evaluations
                .iter()
                .map(|e| (e.0 as f64, if i == 0 { e.1 } else { e.2 }))
                .collect()
        };
        if let Ok(svg) = curves_svg(
            &format!("{} on {corpus}", arch.describe()),
            "loss (nats per character)",
            &[("train", curve(0)), ("test", curve(1))],
        ) {
            if write_atomic(&self.dir.file("loss.svg"), svg.as_bytes()).is_ok() {
                files.push("loss.svg");
            }
        }
        let how = Generation {
            temperature: 1.0,
            top_k: None,
            max_chars: if vocabulary.has_boundary() { 40 } else { 200 },
        };
        let mut rng = Rng::stream(training.seed, 2);
        let samples = (0..SAMPLES)
            .map(|_| generate(&mut model, &vocabulary, "", &how, &mut rng))
            .collect::<Result<Vec<_>, _>>()?;
        let seconds = started.elapsed().as_secs_f64();
        let summary = json!({
            "kind": "language-model", "corpus": corpus.to_string(), "architecture": arch.to_json(),
            "describe": arch.describe(), "parameters": arch.parameters(vocabulary.len()),
            "vocabulary": vocabulary.chars(), "steps": steps, "train_loss": train_loss,
            "test_loss": test_loss, "seed": training.seed, "batch_size": training.batch_size,
            "optimizer": training.optimizer.to_string(), "lr": training.lr, "seconds": seconds,
            "samples": samples,
        });
        write_atomic(&self.dir.file(SUMMARY), format!("{summary:#}\n").as_bytes())
            .map_err(|e| format!("cannot write {SUMMARY}: {e}"))?;
        files.push(SUMMARY);
        self.finished = true;
        self.dir.finish_without_checkpoint();
        Ok(LmFinished {
            steps,
            train_loss,
            test_loss,
            parameters: arch.parameters(vocabulary.len()),
            samples,
            seconds,
            files,
        })
    }
}

impl Drop for LmRun {
    fn drop(&mut self) {
        if !self.finished {
            self.dir.abandon();
        }
    }
}

/// Passes events on, and appends each evaluation to `metrics.jsonl` as it happens.
struct Recorder<'a> {
    inner: &'a mut dyn LmObserver,
    metrics: PathBuf,
    started: Instant,
    evaluations: Vec<(usize, f64, f64)>,
    error: Option<String>,
}

impl LmObserver for Recorder<'_> {
    fn on_step(&mut self, step: usize, loss: f64, lr: f64) {
        self.inner.on_step(step, loss, lr);
    }

    fn on_eval(&mut self, step: usize, train_loss: f64, test_loss: f64) {
        self.evaluations.push((step, train_loss, test_loss));
        let line = json!({
            "step": step, "train_loss": train_loss, "test_loss": test_loss,
            "seconds": self.started.elapsed().as_secs_f64(),
        });
        if let Err(e) = append_durably(&self.metrics, format!("{line}\n").as_bytes()) {
            self.error
                .get_or_insert(format!("cannot write {METRICS}: {e}"));
        }
        self.inner.on_eval(step, train_loss, test_loss);
    }

    fn should_stop(&self) -> bool {
        self.error.is_some() || self.inner.should_stop()
    }
}
