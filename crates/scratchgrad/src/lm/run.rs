//! A language model's training run, as a folder: the text split and encoded, the model
//! trained, each evaluation appended to `metrics.jsonl` and followed by a checkpoint (so a
//! stopped run can go on, `LmRun::resume`), then `model.safetensors`, the loss curves and a few
//! samples, and `summary.json` last (its presence marks the run finished).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use super::arch::LmArch;
use super::checkpoint::{LmCheckpoint, LM_CHECKPOINT_FORMAT};
use super::examples::Examples;
use super::file::LmFile;
use super::generate::{generate, Generation};
use super::model::LanguageModel;
use super::train::{train_lm, LmObserver, LmProgress, LmTraining};
use crate::array::Rng;
use crate::data::{Corpus, Vocabulary, MAKEMORE_SEED};
use crate::files::{append_durably, read_in_folder, write_atomic};
use crate::report::curves_svg;
use crate::train::run_dir::{CHECKPOINT, METRICS, MODEL, SUMMARY};
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
    /// The checkpoint a resumed run goes on from.
    resumed: Option<LmCheckpoint>,
}

/// Why a stopped run cannot go on.
#[derive(Debug)]
pub enum LmResumeError {
    /// The folder (missing, locked by another process, not a run...).
    Folder(crate::train::RunDirError),
    /// The checkpoint is unreadable or does not fit.
    Checkpoint(String),
    /// It finished all its steps.
    Finished { steps: usize },
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
            resumed: None,
        })
    }

    /// A stopped run in `path`, to go on from its last checkpoint with its own settings.
    pub fn resume(path: &Path) -> Result<LmRun, LmResumeError> {
        let dir = RunDir::open(path).map_err(LmResumeError::Folder)?;
        let checkpoint = LmCheckpoint::load(&dir.file(CHECKPOINT))
            .map_err(|e| LmResumeError::Checkpoint(e.to_string()))?;
        if dir.file(SUMMARY).exists() {
            return Err(LmResumeError::Finished {
                steps: checkpoint.training.steps,
            });
        }
        let config = LmConfig {
            corpus: checkpoint.file.corpus,
            arch: checkpoint.file.arch,
            training: checkpoint.training.clone(),
        };
        Ok(LmRun {
            config,
            dir,
            finished: false,
            resumed: Some(checkpoint),
        })
    }

    /// What it was asked to do.
    pub fn config(&self) -> &LmConfig {
        &self.config
    }

    /// The steps a resumed run had taken.
    pub fn steps_done(&self) -> usize {
        self.resumed.as_ref().map_or(0, |c| c.progress.step)
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
        let (vocabulary, train, test) = Examples::of_corpus(corpus, text, MAKEMORE_SEED, arch)?;
        if train.is_empty() || test.is_empty() {
            return Err(format!(
                "{corpus} is too short for a context of {} characters",
                arch.context()
            ));
        }
        arch.check_batch(vocabulary.len(), training.batch_size)?;
        let (mut model, start, evaluations) = match self.resumed.take() {
            None => {
                let model =
                    LanguageModel::new(arch, vocabulary.len(), &mut Rng::seed(training.seed))?;
                (model, None, Vec::new())
            }
            Some(checkpoint) => {
                if checkpoint.file.vocabulary != vocabulary {
                    return Err(format!(
                        "{corpus}'s text is not the one the run learnt (its characters differ)"
                    ));
                }
                let kept = self.kept_evaluations(checkpoint.progress.step)?;
                (checkpoint.file.model(), Some(checkpoint.progress), kept)
            }
        };
        // A resumed run's clock goes on from its last evaluation's.
        let earlier = evaluations.last().map_or(0.0, |e: &Evaluation| e.seconds);
        let mut recorder = Recorder {
            inner: observer,
            dir: &self.dir,
            file: (vocabulary.clone(), corpus, training.clone()),
            started,
            earlier,
            evaluations,
            error: None,
        };
        let (steps, train_loss, test_loss) =
            train_lm(&mut model, &train, &test, training, &mut recorder, start)?;
        if let Some(e) = recorder.error {
            return Err(e);
        }
        let evaluations = recorder.evaluations;
        let file = LmFile::of(&model, &vocabulary, corpus, MAKEMORE_SEED);
        write_atomic(&self.dir.file(MODEL), &file.encode())
            .map_err(|e| format!("cannot write {MODEL}: {e}"))?;
        let mut files = vec![METRICS, CHECKPOINT, MODEL];
        if steps < training.steps {
            // Stopped early: the model so far and its checkpoint stay, to sample from or go
            // on with; no summary, which would mark the run finished.
            self.finished = true;
            return Ok(LmFinished {
                steps,
                train_loss,
                test_loss,
                parameters: arch.parameters(vocabulary.len()),
                samples: Vec::new(),
                seconds: earlier + started.elapsed().as_secs_f64(),
                files,
            });
        }
        let curve = |i: usize| -> Vec<(f64, f64)> {
            evaluations
                .iter()
                .map(|e| (e.step as f64, if i == 0 { e.train } else { e.test }))
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
        let seconds = earlier + started.elapsed().as_secs_f64();
        let summary = json!({
            "kind": "language-model", "corpus": corpus.to_string(), "architecture": arch.to_json(),
            "describe": arch.describe(), "parameters": arch.parameters(vocabulary.len()),
            "vocabulary": vocabulary.chars(), "steps": steps, "train_loss": train_loss,
            "test_loss": test_loss, "seed": training.seed, "batch_size": training.batch_size,
            "optimizer": training.optimizer.to_string(), "lr": training.lr,
            "dropout": training.dropout, "seconds": seconds,
            "samples": samples,
        });
        write_atomic(&self.dir.file(SUMMARY), format!("{summary:#}\n").as_bytes())
            .map_err(|e| format!("cannot write {SUMMARY}: {e}"))?;
        files.push(SUMMARY);
        self.finished = true;
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

/// Whether `folder` holds a language model's run: its checkpoint or its model says so (their
/// headers alone are read).
pub fn is_lm_run(folder: &Path) -> bool {
    let format = |name: &str| crate::model_files::format_in_folder(folder, name);
    format(CHECKPOINT).as_deref() == Some(LM_CHECKPOINT_FORMAT)
        || format(MODEL).as_deref() == Some(crate::model_files::LANGUAGE_MODEL_FORMAT)
}

impl LmRun {
    /// The evaluations in `metrics.jsonl` up to the checkpoint's `step`; the file is cut back
    /// to them (a line written after the checkpoint, or torn by a kill, goes: those steps are
    /// taken again).
    fn kept_evaluations(&self, step: usize) -> Result<Vec<Evaluation>, String> {
        // A missing file is an empty history (the curve starts at the resume).
        let bytes = match read_in_folder(self.dir.path(), METRICS, 1 << 30) {
            Err(e) if e.is_not_found() => Vec::new(),
            read => read
                .map_err(|e| format!("cannot resume: {} {e}", self.dir.file(METRICS).display()))?,
        };
        let text = String::from_utf8_lossy(&bytes);
        let kept: Vec<Evaluation> = text
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|v| {
                Some(Evaluation {
                    step: v["step"].as_u64()? as usize,
                    train: v["train_loss"].as_f64()?,
                    test: v["test_loss"].as_f64()?,
                    seconds: v["seconds"].as_f64()?,
                })
            })
            .filter(|e| e.step <= step)
            .collect();
        let lines: String = kept.iter().map(|e| format!("{}\n", e.line())).collect();
        write_atomic(&self.dir.file(METRICS), lines.as_bytes())
            .map_err(|e| format!("cannot write {METRICS}: {e}"))?;
        Ok(kept)
    }
}

/// One evaluation, as `metrics.jsonl` keeps it.
struct Evaluation {
    step: usize,
    train: f64,
    test: f64,
    seconds: f64,
}

impl Evaluation {
    fn line(&self) -> serde_json::Value {
        json!({
            "step": self.step, "train_loss": self.train, "test_loss": self.test,
            "seconds": self.seconds,
        })
    }
}

/// Passes events on, appends each evaluation to `metrics.jsonl` as it happens, and writes a
/// checkpoint after it.
struct Recorder<'a> {
    inner: &'a mut dyn LmObserver,
    dir: &'a RunDir,
    /// What the checkpoint's model file and settings say besides the model.
    file: (Vocabulary, Corpus, LmTraining),
    started: Instant,
    /// Seconds trained before a resume.
    earlier: f64,
    evaluations: Vec<Evaluation>,
    error: Option<String>,
}

impl LmObserver for Recorder<'_> {
    fn on_step(&mut self, step: usize, loss: f64, lr: f64) {
        self.inner.on_step(step, loss, lr);
    }

    fn on_eval(&mut self, step: usize, train_loss: f64, test_loss: f64) {
        let evaluation = Evaluation {
            step,
            train: train_loss,
            test: test_loss,
            seconds: self.earlier + self.started.elapsed().as_secs_f64(),
        };
        let line = format!("{}\n", evaluation.line());
        self.evaluations.push(evaluation);
        if let Err(e) = append_durably(&self.dir.file(METRICS), line.as_bytes()) {
            self.error
                .get_or_insert(format!("cannot write {METRICS}: {e}"));
        }
        self.inner.on_eval(step, train_loss, test_loss);
    }

    fn on_checkpoint(&mut self, model: &LanguageModel, progress: &LmProgress) {
        let (vocabulary, corpus, training) = &self.file;
        let checkpoint = LmCheckpoint {
            file: LmFile::of(model, vocabulary, *corpus, MAKEMORE_SEED),
            training: training.clone(),
            progress: progress.clone(),
        };
        if let Err(e) = write_atomic(&self.dir.file(CHECKPOINT), &checkpoint.encode()) {
            self.error
                .get_or_insert(format!("cannot write {CHECKPOINT}: {e}"));
        }
        self.inner.on_checkpoint(model, progress);
    }

    fn should_stop(&self) -> bool {
        self.error.is_some() || self.inner.should_stop()
    }
}
