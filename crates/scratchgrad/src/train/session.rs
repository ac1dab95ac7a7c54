//! A training run from start to finish, as both front ends run it: a folder started or
//! resumed, the epochs trained, the pictures drawn, and `summary.json` written last. The
//! command line renders its progress on a terminal, the web dashboard sends it to pages; both
//! hear it through an [`Observer`], and neither does any of the run itself.
//!
//! Never here: printing, reading flags, or changing anything for the whole process (the
//! number of threads is this run's own).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::pictures::{draw_pictures, Pictures};
use super::run_dir::{RunDir, RunDirError, SUMMARY};
use super::{
    load_resume, short_number, train, ConfigError, EpochMetrics, Observer, Resume, ResumeError,
    TrainConfig, TrainError,
};
use crate::data::Dataset;
use crate::files::write_atomic;

/// Where a new run's folder goes.
#[derive(Debug, Clone, Copy)]
pub enum Folder<'a> {
    /// Exactly this folder: new, empty, or one whose run never completed an epoch.
    At(&'a Path),
    /// A new folder inside this one, named after the data set and the time
    /// (`mnist-20261130-123809`, with `-2`, `-3`, ... when two runs start in one second).
    In(&'a Path),
}

/// Why a run could not start, continue or finish.
#[derive(Debug)]
pub enum SessionError {
    /// The folder cannot be used (`resuming`: it was to be resumed).
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        error: RunDirError,
        /// Whether it was to be resumed.
        resuming: bool,
    },
    /// The run to resume cannot be read back.
    Resume(ResumeError),
    /// A setting is out of range (a new total of epochs, say).
    Config(ConfigError),
    /// A new total of epochs is below what the run has already trained.
    FewerEpochs {
        /// The total asked for.
        asked: usize,
        /// Epochs already trained.
        done: usize,
    },
    /// The run has already trained every epoch it asks for, and finished.
    Finished {
        /// Its epochs.
        epochs: usize,
    },
    /// Training stopped early (stopped by the observer, a loss that became NaN, a file that
    /// could not be written).
    Train(TrainError),
    /// `summary.json` could not be written.
    Summary(std::io::Error),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Folder { path, error, .. } => write!(f, "{} {error}", path.display()),
            SessionError::Resume(e) => e.fmt(f),
            SessionError::Config(e) => e.fmt(f),
            SessionError::FewerEpochs { asked, done } => write!(
                f,
                "a total of {asked} epochs is fewer than the {done} the run has already trained"
            ),
            SessionError::Finished { epochs } => write!(
                f,
                "the run has already trained all {epochs} of its epochs: ask for a larger total to continue"
            ),
            SessionError::Train(e) => e.fmt(f),
            SessionError::Summary(e) => write!(f, "cannot write {SUMMARY}: {e}"),
        }
    }
}

impl std::error::Error for SessionError {}

/// What a finished run produced, besides its files.
pub struct Finished {
    /// Every epoch's metrics, a resumed run's earlier ones included.
    pub history: Vec<EpochMetrics>,
    /// The test set's accuracy at the end.
    pub test_accuracy: f64,
    /// The pictures written, and those that could not be.
    pub pictures: Pictures,
    /// Seconds from the start of the session to the summary.
    pub wall_seconds: f64,
}

/// A run, its folder claimed (locked) for this process: started with [`Session::start`] or
/// [`Session::resume`], then trained with [`Session::train`].
///
/// A session dropped before its run completed an epoch (data that could not be loaded, a
/// run stopped in its first epoch) removes what it wrote, and the folder if it made it.
pub struct Session {
    config: TrainConfig,
    dir: RunDir,
    resume: Option<Resume>,
    started: Instant,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.dir.abandon();
    }
}

/// Seconds since 1970 as `YYYYMMDD-HHMMSS` (UTC), for default run folders.
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

impl Session {
    /// A new run of `config` (validated again here) in `folder`.
    pub fn start(config: TrainConfig, folder: Folder<'_>) -> Result<Session, SessionError> {
        config.validate().map_err(SessionError::Config)?;
        let folder_error = |path: &Path, error| SessionError::Folder {
            path: path.to_path_buf(),
            error,
            resuming: false,
        };
        let dir = match folder {
            Folder::At(path) => RunDir::create(path).map_err(|e| folder_error(path, e))?,
            Folder::In(parent) => {
                let stem = format!("{}-{}", config.dataset, timestamp());
                RunDir::create_unique(parent, &stem).map_err(|e| folder_error(parent, e))?
            }
        };
        Ok(Session {
            config,
            dir,
            resume: None,
            started: Instant::now(),
        })
    }

    /// The run in `path`, to continue from its last complete epoch with its own settings
    /// (checked as a new run's would be).
    pub fn resume(path: &Path) -> Result<Session, SessionError> {
        let dir = RunDir::open(path).map_err(|error| SessionError::Folder {
            path: path.to_path_buf(),
            error,
            resuming: true,
        })?;
        let (config, resume) = load_resume(&dir).map_err(SessionError::Resume)?;
        Ok(Session {
            config,
            dir,
            resume: Some(resume),
            started: Instant::now(),
        })
    }

    /// A resumed run's new total of epochs.
    pub fn set_epochs(&mut self, epochs: usize) -> Result<(), SessionError> {
        let mut config = self.config.clone();
        config.epochs = epochs;
        config.validate().map_err(SessionError::Config)?;
        let done = self.epochs_done();
        if done > epochs {
            return Err(SessionError::FewerEpochs {
                asked: epochs,
                done,
            });
        }
        self.config = config;
        Ok(())
    }

    /// True when there is nothing left to do: every epoch trained and the summary written.
    pub fn is_finished(&self) -> bool {
        self.epochs_done() == self.config.epochs && self.dir.file(SUMMARY).exists()
    }

    /// The run's settings.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The run's folder.
    pub fn folder(&self) -> &Path {
        self.dir.path()
    }

    /// Epochs already trained (a resumed run's).
    pub fn epochs_done(&self) -> usize {
        self.resume.as_ref().map_or(0, |r| r.epochs_done)
    }

    /// The epochs already trained (a resumed run's), oldest first.
    pub fn history(&self) -> &[EpochMetrics] {
        self.resume.as_ref().map_or(&[], |r| &r.history)
    }

    /// Checks a resumed run's counts against the data it will train on (its optimizer
    /// steps are epochs times batches), before anything is shown or trained.
    pub fn check_data(&self, train_set: &Dataset) -> Result<(), SessionError> {
        let held = Dataset::held_out(train_set.len(), self.config.val_split);
        if self.config.val_split > 0.0 && held == 0 {
            // Validation numbers of no image would be made up.
            return Err(SessionError::Config(ConfigError {
                setting: "val_split",
                message: format!(
                    "holds out none of the {} training images: give at least {} (one image)",
                    train_set.len(),
                    short_number(1.0 / train_set.len().max(1) as f64)
                ),
            }));
        }
        let Some(resume) = &self.resume else {
            return Ok(());
        };
        resume
            .check_steps(train_set.len() - held, self.config.batch_size)
            .map_err(|problem| SessionError::Train(TrainError::Resume(problem)))
    }

    /// One line saying what will train: the network, the data, the settings.
    pub fn heading(&self, train_set: &Dataset, test_set: &Dataset, threads: usize) -> String {
        let c = &self.config;
        let done = self.epochs_done();
        let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        format!(
            "training {} on {} ({} images, {} test) with the {} engine: {}{}, batch {}, {} lr {} ({}), seed {}{}, {} thread(s)",
            c.arch.describe(),
            c.dataset,
            train_set.len(),
            test_set.len(),
            c.engine,
            plural(c.epochs, "epoch"),
            if done > 0 { format!(" (resuming after epoch {done})") } else { String::new() },
            c.batch_size,
            c.optimizer,
            short_number(c.lr),
            c.schedule,
            c.seed,
            if c.val_split > 0.0 { format!(", {}% held out to validate", short_number(c.val_split * 100.0)) } else { String::new() },
            threads
        )
    }

    /// Trains on `train_set` and `test_set` (the config's data set) with `threads` threads
    /// for this run's matrix products, telling `observer`; then draws the pictures and
    /// writes `summary.json` (last: a summary says the run finished). A run that fails
    /// before its first epoch completes leaves nothing behind.
    pub fn train(
        mut self,
        train_set: &Dataset,
        test_set: &Dataset,
        threads: usize,
        observer: &mut dyn Observer,
    ) -> Result<Finished, SessionError> {
        if self.is_finished() {
            return Err(SessionError::Finished {
                epochs: self.config.epochs,
            });
        }
        let resume = self.resume.take();
        let result = crate::array::with_threads(threads, || {
            train(
                &self.config,
                train_set,
                test_set,
                &self.dir,
                resume,
                observer,
            )
        });
        let outcome = result.map_err(SessionError::Train)?;
        let out = self.dir.path();
        let pictures = draw_pictures(
            out,
            &outcome.history,
            &outcome.test,
            test_set,
            &outcome.model,
        );
        let wall_seconds = self.started.elapsed().as_secs_f64();
        let summary = serde_json::json!({
            "final": outcome.history.last().map(EpochMetrics::to_json),
            "test": {
                "accuracy": outcome.test.accuracy,
                "loss": outcome.test.loss,
                "per_class_accuracy": outcome.test.per_class_accuracy(),
            },
            "config": self.config.to_json(),
            "threads": threads,
            "versions": { "scratchgrad": env!("CARGO_PKG_VERSION") },
            "wall_seconds": wall_seconds,
        });
        write_atomic(&self.dir.file(SUMMARY), format!("{summary:#}\n").as_bytes())
            .map_err(SessionError::Summary)?;
        Ok(Finished {
            history: outcome.history,
            test_accuracy: outcome.test.accuracy,
            pictures,
            wall_seconds,
        })
    }
}
