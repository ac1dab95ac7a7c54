//! `scratchgrad train`: the texts' MNIST network by default, with everything a run leaves
//! behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use scratchgrad::arch::{Activation, Architecture, LAYER_GRAMMAR};
use scratchgrad::data::DatasetName;
use scratchgrad::train::run_dir::{CHECKPOINT, SUMMARY};
use scratchgrad::train::{
    load_resume, short_number, train, ConfigError, Engine, EpochMetrics, Observer, OptimizerKind,
    Preset, Resume, RunDir, RunDirError, Schedule, TrainConfig, TrainError,
};

use super::files::save;
use super::output::{errln, outln};
use super::progress::Progress;
use super::{data, report_files, CliError};

/// Train a classifier (default: the texts' 784-256-10 sigmoid MLP on MNIST, 20 epochs)
///
/// A run writes into its folder (--out, default runs/<dataset>-<time>): model.safetensors,
/// checkpoint.safetensors and metrics.jsonl after every epoch, then pictures and
/// summary.json. --resume DIR continues a stopped run with its own settings.
#[derive(Args)]
#[command(after_help = format!("Defaults by --arch: mlp: sgd, lr 1, cosine, 20 epochs; cnn and lenet5 (and --layers): adam, lr 0.002, cosine, 10 epochs.\n\n\
--layers takes a comma-separated list of layers, input side first: {LAYER_GRAMMAR}. \
Images are [1, 28, 28] when the list has a convolution or pooling (put flatten before the first linear layer), else flat [784]. \
Examples: --layers linear512,relu,linear256,relu,linear10; --layers conv32k3,relu,conv64k3,relu,maxpool2,flatten,linear128,relu,linear10 \
(the last layer has one output per class)."))]
pub struct TrainArgs {
    /// mnist, fashion-mnist or mnist-mini (built in, no download) [default: mnist]
    #[arg(long)]
    dataset: Option<DatasetName>,
    /// The network: mlp (the texts'), cnn or lenet5; each has its own default optimizer,
    /// learning rate, schedule and epochs (see below) [default: mlp]
    #[arg(long, conflicts_with = "layers")]
    arch: Option<Preset>,
    /// Hidden layer widths of the MLP, comma-separated (e.g. 512,256) [default: 256]
    #[arg(long, value_delimiter = ',', conflicts_with = "layers")]
    hidden: Option<Vec<usize>>,
    /// The MLP's hidden activation: sigmoid, relu or tanh [default: sigmoid]
    #[arg(long, conflicts_with = "layers")]
    activation: Option<Activation>,
    /// The network as a list of layers instead of --arch (grammar below)
    #[arg(long, value_name = "SPEC")]
    layers: Option<String>,
    /// Gradient engine: autograd or manual (hand-derived) [default: autograd]
    #[arg(long)]
    engine: Option<Engine>,
    /// Epochs to train (with --resume: the new total) [default: by --arch]
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per step [default: 64]
    #[arg(long)]
    batch_size: Option<usize>,
    /// Learning rate at the first epoch [default: by --arch; with another --optimizer, 1.0 for
    /// sgd, 0.05 for momentum, 0.001 for adam]
    #[arg(long, allow_negative_numbers = true)]
    lr: Option<f64>,
    /// sgd, momentum (0.9) or adam [default: by --arch]
    #[arg(long)]
    optimizer: Option<OptimizerKind>,
    /// Learning-rate schedule over the epochs: cosine (down towards 0) or constant [default: by --arch]
    #[arg(long)]
    schedule: Option<Schedule>,
    /// Seed for weights, shuffling and the validation split [default: 0]
    #[arg(long)]
    seed: Option<u64>,
    /// Hold out this fraction of the training set to score after each epoch; the test set is
    /// then scored once, at the end [default: 0, the texts' way: the test set every epoch]
    #[arg(long, value_name = "FRACTION", allow_negative_numbers = true)]
    val_split: Option<f64>,
    /// Threads for matrix products (results do not depend on it) [default: all cores]
    #[arg(long)]
    threads: Option<usize>,
    /// Folder for the model, metrics and pictures: new, empty, or a run stopped before its
    /// first epoch completed [default: runs/<dataset>-<time>]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run in DIR from its last complete epoch with its own settings (--epochs
    /// may raise the total; --threads, --quiet and --data-dir may change)
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Where data sets are kept [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print one line per epoch and no progress bars
    #[arg(long)]
    quiet: bool,
}

/// The most threads `--threads` accepts.
const MAX_THREADS: usize = 256;

/// Seconds since 1970 as `YYYYMMDD-HHMMSS` (UTC), for default run folders.
fn timestamp() -> String {
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

impl TrainArgs {
    /// The flag that sets a configuration's `setting`, for messages.
    fn flag(&self, setting: &str) -> &'static str {
        match setting {
            "dataset" => "--dataset",
            "architecture" if self.layers.is_some() => "--layers",
            "architecture" if self.arch.is_some_and(|a| a != Preset::Mlp) => "--arch",
            "architecture" => "--hidden",
            "engine" => "--engine",
            "epochs" => "--epochs",
            "batch_size" => "--batch-size",
            "lr" => "--lr",
            "optimizer" => "--optimizer",
            "schedule" => "--schedule",
            "seed" => "--seed",
            _ => "--val-split",
        }
    }

    fn config_error(&self, e: ConfigError) -> CliError {
        CliError::new(format!("{}: {}", self.flag(e.setting), e.message))
    }

    /// The preset whose defaults apply: the named one, `cnn`'s for a `--layers` list with
    /// convolutions, the MLP's otherwise.
    fn preset(&self) -> Preset {
        match (&self.arch, &self.layers) {
            (Some(preset), _) => *preset,
            (None, Some(_)) => Preset::Cnn,
            (None, None) => Preset::Mlp,
        }
    }

    /// The network the flags describe for `dataset`.
    fn arch(&self, dataset: DatasetName) -> Result<Architecture, CliError> {
        let (rows, cols) = dataset.image_size();
        if let Some(text) = &self.layers {
            return Architecture::parse_for_images(text, rows, cols)
                .map_err(|e| CliError::new(format!("--layers: {e}")));
        }
        let preset = self.preset();
        if preset != Preset::Mlp && (self.hidden.is_some() || self.activation.is_some()) {
            return Err(CliError::new(format!(
                "--hidden and --activation shape the MLP; --arch {preset} has its own layers (use --layers for another network)"
            )));
        }
        Ok(preset.arch(dataset, self.hidden.as_deref(), self.activation))
    }

    /// A new run's settings: the flags, the preset's defaults for the rest, checked.
    fn config(&self) -> Result<TrainConfig, CliError> {
        let dataset = self.dataset.unwrap_or(DatasetName::Mnist);
        let defaults = self.preset().defaults();
        let optimizer = self.optimizer.unwrap_or(defaults.optimizer);
        let lr = match self.optimizer {
            Some(o) if o != defaults.optimizer => o.default_lr(),
            _ => defaults.lr,
        };
        let config = TrainConfig {
            dataset,
            arch: self.arch(dataset)?,
            engine: self.engine.unwrap_or(Engine::Autograd),
            epochs: self.epochs.unwrap_or(defaults.epochs),
            batch_size: self.batch_size.unwrap_or(64),
            lr: self.lr.unwrap_or(lr),
            optimizer,
            schedule: self.schedule.unwrap_or(defaults.schedule),
            seed: self.seed.unwrap_or(0),
            val_split: self.val_split.unwrap_or(0.0),
        };
        config.validate().map_err(|e| self.config_error(e))?;
        Ok(config)
    }

    /// A resumed run keeps its settings: any flag given must agree with them.
    fn check_agrees(&self, run: &TrainConfig, dir: &Path) -> Result<(), CliError> {
        let mlp = run.arch.as_mlp();
        let given: [(&str, Option<String>, String); 12] = [
            (
                "--arch",
                self.arch.map(|a| a.to_string()),
                run.arch.layers_text(),
            ),
            (
                "--dataset",
                self.dataset.map(|d| d.to_string()),
                run.dataset.to_string(),
            ),
            (
                "--engine",
                self.engine.map(|e| e.to_string()),
                run.engine.to_string(),
            ),
            (
                "--batch-size",
                self.batch_size.map(|b| b.to_string()),
                run.batch_size.to_string(),
            ),
            ("--lr", self.lr.map(short_number), short_number(run.lr)),
            (
                "--optimizer",
                self.optimizer.map(|o| o.to_string()),
                run.optimizer.to_string(),
            ),
            (
                "--schedule",
                self.schedule.map(|s| s.to_string()),
                run.schedule.to_string(),
            ),
            (
                "--seed",
                self.seed.map(|s| s.to_string()),
                run.seed.to_string(),
            ),
            (
                "--val-split",
                self.val_split.map(short_number),
                short_number(run.val_split),
            ),
            ("--layers", self.layers.clone(), run.arch.layers_text()),
            (
                "--hidden",
                self.hidden.as_ref().map(|h| format!("{h:?}")),
                mlp.as_ref()
                    .map_or("none".into(), |(w, _)| format!("{:?}", &w[1..w.len() - 1])),
            ),
            (
                "--activation",
                self.activation.map(|a| a.to_string()),
                mlp.map_or("none".into(), |(_, a)| a.to_string()),
            ),
        ];
        for (flag, value, theirs) in given {
            let Some(value) = value else { continue };
            let agrees = match flag {
                "--layers" => {
                    Architecture::parse(&run.arch.input, &value).is_ok_and(|a| a == run.arch)
                }
                _ => value == theirs,
            };
            if !agrees {
                return Err(CliError::new(format!(
                    "{flag} {value} does not match the run in {} ({theirs}): a resumed run keeps its settings; only --epochs, --threads, --quiet and --data-dir may be given",
                    dir.display()
                )));
            }
        }
        Ok(())
    }
}

fn run_dir_error(path: &Path, e: RunDirError, resuming: bool) -> CliError {
    let shown = path.display();
    let how = match &e {
        RunDirError::HoldsRun => format!(
            ": choose another --out, or continue it with scratchgrad train --resume {shown}"
        ),
        RunDirError::NotEmpty { .. } => ": choose a new or empty folder for --out".into(),
        RunDirError::InUse { .. } => ": wait for it to finish, or choose another folder".into(),
        RunDirError::NotAFolder { .. } => ": give a folder".into(),
        RunDirError::NoRun => ": give the folder of a run that completed at least one epoch".into(),
        RunDirError::NoCompleteEpoch => {
            format!(": start it again with scratchgrad train --out {shown} and its flags")
        }
        RunDirError::Io(_) => String::new(),
    };
    let what = if resuming { "cannot resume: " } else { "" };
    CliError::new(format!("{what}{shown} {e}{how}"))
}

/// A run's folder and where it starts from.
struct Start {
    config: TrainConfig,
    dir: RunDir,
    resume: Option<Resume>,
}

fn start_new(args: &TrainArgs, runs: &Path) -> Result<Start, CliError> {
    let config = args.config()?;
    let dir = match &args.out {
        Some(out) => RunDir::create(out).map_err(|e| run_dir_error(out, e, false))?,
        None => {
            let stem = format!("{}-{}", config.dataset, timestamp());
            RunDir::create_unique(runs, &stem).map_err(|e| run_dir_error(runs, e, false))?
        }
    };
    Ok(Start {
        config,
        dir,
        resume: None,
    })
}

fn start_resumed(args: &TrainArgs, path: &Path) -> Result<Start, CliError> {
    let dir = RunDir::open(path).map_err(|e| run_dir_error(path, e, true))?;
    let (mut config, resume) =
        load_resume(&dir).map_err(|e| CliError::new(format!("cannot resume: {e}")))?;
    args.check_agrees(&config, path)?;
    if let Some(epochs) = args.epochs {
        config.epochs = epochs;
        config.validate().map_err(|e| args.config_error(e))?;
    }
    if resume.epochs_done > config.epochs {
        return Err(CliError::new(format!(
            "--epochs {} is fewer than the {} epochs {} has already trained",
            config.epochs,
            resume.epochs_done,
            path.display()
        )));
    }
    if resume.epochs_done == config.epochs && dir.file(SUMMARY).exists() {
        return Err(CliError::new(format!(
            "{} has already trained all {} of its epochs: pass a larger --epochs to continue",
            path.display(),
            config.epochs
        )));
    }
    Ok(Start {
        config,
        dir,
        resume: Some(resume),
    })
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Hears about a run beyond its steps and epochs: where it trains (the dashboard).
pub trait Listener: Observer {
    /// The run's folder is ready and training is about to start (after `epochs_done`
    /// epochs, when it resumes); `heading` is the line `train` prints.
    fn started(&mut self, folder: &Path, heading: &str, config: &TrainConfig, epochs_done: usize);
}

/// The flags of `scratchgrad train`, for the dashboard's runs.
#[derive(clap::Parser)]
#[command(name = "scratchgrad train", no_binary_name = true)]
struct TrainCommand {
    #[command(flatten)]
    args: TrainArgs,
}

/// Parses `train`'s flags (`["--epochs=3", ...]`) as the command line would, and checks a
/// new run's settings; a mistake is one line, as `train` prints it.
pub fn parse_flags(flags: &[String]) -> Result<TrainArgs, CliError> {
    use clap::Parser;
    let args = TrainCommand::try_parse_from(flags)
        .map(|c| c.args)
        .map_err(|e| {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad flags");
            CliError::new(first.trim_start_matches("error: ").to_string())
        })?;
    if args.resume.is_none() {
        args.config()?;
    }
    Ok(args)
}

/// Runs `scratchgrad train`.
pub fn run(args: TrainArgs) -> Result<(), CliError> {
    run_with(args, Path::new("runs"), None)
}

/// Runs `scratchgrad train` with new runs' default folders in `runs`, telling `listener`
/// too (the dashboard's runs).
pub fn run_with(
    args: TrainArgs,
    runs: &Path,
    listener: Option<Box<dyn Listener>>,
) -> Result<(), CliError> {
    let started = Instant::now();
    let threads = args.threads.unwrap_or_else(scratchgrad::array::num_threads);
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(CliError::new(format!(
            "--threads: must be 1 to {MAX_THREADS}, not {threads}"
        )));
    }
    let Start {
        config,
        dir,
        resume,
    } = match &args.resume {
        Some(path) => start_resumed(&args, path)?,
        None => start_new(&args, runs)?,
    };
    let result = train_in(&args, &config, &dir, resume, threads, started, listener);
    if result.is_err() {
        // A run that completed no epoch leaves nothing behind.
        dir.abandon();
    }
    result
}

fn train_in(
    args: &TrainArgs,
    config: &TrainConfig,
    dir: &RunDir,
    resume: Option<Resume>,
    threads: usize,
    started: Instant,
    mut listener: Option<Box<dyn Listener>>,
) -> Result<(), CliError> {
    let out = dir.path();
    let (train_set, test_set) = data::load(config.dataset, args.data_dir.as_deref(), args.quiet)?;
    scratchgrad::array::set_num_threads(threads);
    let done = resume.as_ref().map_or(0, |r| r.epochs_done);
    let first_loss = resume
        .as_ref()
        .and_then(|r| r.history.first())
        .map(|m| m.train_loss);
    let heading = format!(
        "training {} on {} ({} images, {} test) with the {} engine: {}{}, batch {}, {} lr {} ({}), seed {}{}, {} thread(s)",
        config.arch.describe(),
        config.dataset,
        train_set.len(),
        test_set.len(),
        config.engine,
        plural(config.epochs, "epoch"),
        if done > 0 { format!(" (resuming after epoch {done})") } else { String::new() },
        config.batch_size,
        config.optimizer,
        short_number(config.lr),
        config.schedule,
        config.seed,
        if config.val_split > 0.0 { format!(", {}% held out to validate", short_number(config.val_split * 100.0)) } else { String::new() },
        threads
    );
    outln!("{heading}");
    if let Some(listener) = listener.as_mut() {
        listener.started(out, &heading, config, done);
    }
    let also = listener.map(|l| l as Box<dyn Observer>);
    let mut progress = Progress::new(args.quiet, config.val_split > 0.0, first_loss).also(also);
    outln!("{}", progress.heading());
    let result = train(config, &train_set, &test_set, dir, resume, &mut progress);
    progress.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e @ TrainError::NonFinite { .. }) => return Err(CliError::new(format!("{e} (--lr)"))),
        Err(TrainError::Resume(problem)) => {
            return Err(CliError::new(format!(
                "cannot resume: {} {problem}",
                dir.file(CHECKPOINT).display()
            )))
        }
        Err(TrainError::Stopped { epochs_done }) => {
            let message = if epochs_done > 0 {
                format!("interrupted after {}, whose checkpoint is kept in {}: resume with: scratchgrad train --resume {}", plural(epochs_done, "complete epoch"), out.display(), out.display())
            } else {
                "interrupted before the first epoch completed, so nothing was kept".into()
            };
            return Err(CliError::new(message).with_exit_code(130));
        }
        Err(e) => {
            let how = if dir.has_checkpoint() {
                format!(
                    "; resume with: scratchgrad train --resume {}",
                    out.display()
                )
            } else {
                String::new()
            };
            return Err(CliError::new(format!("{e}{how}")));
        }
    };
    // The pictures, then the summary: a summary says the run is finished.
    let pictures = report_files(
        out,
        &outcome.history,
        &outcome.test,
        &test_set,
        &outcome.model,
    );
    for warning in &pictures.warnings {
        errln!("warning: {warning}");
    }
    let wall = started.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "final": outcome.history.last().map(EpochMetrics::to_json),
        "test": {
            "accuracy": outcome.test.accuracy,
            "loss": outcome.test.loss,
            "per_class_accuracy": outcome.test.per_class_accuracy(),
        },
        "config": config.to_json(),
        "threads": threads,
        "versions": { "scratchgrad": env!("CARGO_PKG_VERSION") },
        "wall_seconds": wall,
    });
    save(
        &dir.file(SUMMARY),
        format!("{summary:#}\n").as_bytes(),
        "summary",
    )?;
    let mut files = vec![
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
    ];
    files.extend(&pictures.written);
    files.push("summary.json");
    outln!(
        "done in {wall:.1} s: test accuracy {:.2}%. Wrote {} to {}",
        outcome.test.accuracy * 100.0,
        files.join(", "),
        out.display()
    );
    progress.warn_if_diverged();
    Ok(())
}
