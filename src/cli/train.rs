//! `scratchgrad train`: the texts' MNIST network by default, with everything a run leaves
//! behind.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use scratchgrad::data::DatasetName;
use scratchgrad::io::{decode_checkpoint, remove_stale_temporaries, write_atomic};
use scratchgrad::train::{
    train, Activation, Architecture, Engine, EpochMetrics, OptimizerKind, Schedule, TrainConfig,
    TrainError,
};

use super::output::outln;
use super::progress::Progress;
use super::{data, report_files, CliError};

/// Train a classifier (default: the texts' 784-256-10 sigmoid MLP on MNIST, 20 epochs).
#[derive(Args)]
pub struct TrainArgs {
    /// mnist, fashion-mnist or mnist-mini (built in, no download)
    #[arg(long, default_value = "mnist")]
    dataset: DatasetName,
    /// Hidden layer widths, comma-separated (e.g. 512,256)
    #[arg(long, default_value = "256", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Hidden activation: sigmoid, relu or tanh
    #[arg(long, default_value = "sigmoid")]
    activation: Activation,
    /// Gradient engine: autograd or manual (hand-derived)
    #[arg(long, default_value = "autograd")]
    engine: Engine,
    /// Epochs to train [default: 20]
    #[arg(long)]
    epochs: Option<usize>,
    /// Examples per step
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning rate at the first epoch [default: 1.0 for sgd, 0.05 for momentum, 0.001 for adam]
    #[arg(long)]
    lr: Option<f64>,
    /// sgd, momentum (0.9) or adam
    #[arg(long, default_value = "sgd")]
    optimizer: OptimizerKind,
    /// Learning-rate schedule over the epochs: cosine (down towards 0) or constant
    #[arg(long, default_value = "cosine")]
    schedule: Schedule,
    /// Seed for weights and shuffling
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads for matrix products [default: all cores]
    #[arg(long)]
    threads: Option<usize>,
    /// Folder for the model, metrics and pictures [default: runs/<dataset>-<time>]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Continue the run in DIR from its last complete epoch (its settings are reused;
    /// --epochs may raise the total)
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    resume: Option<PathBuf>,
    /// Where data sets are kept [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print one line per epoch and no progress bars
    #[arg(long)]
    quiet: bool,
}

/// The largest network `train` will build (2 GB of f32 weights, and as much again for their
/// gradients and optimizer state): beyond it, allocation would fail.
const MAX_PARAMETERS: usize = 500_000_000;

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

fn config_from(args: &TrainArgs) -> Result<TrainConfig, CliError> {
    if args.hidden.contains(&0) {
        return Err(CliError::new(
            "--hidden widths must be positive, e.g. --hidden 256 or --hidden 512,256",
        ));
    }
    let mut widths = vec![784];
    widths.extend(&args.hidden);
    widths.push(10);
    let parameters = widths.windows(2).try_fold(0usize, |total, w| {
        total.checked_add(w[0].checked_mul(w[1])?.checked_add(w[1])?)
    });
    if parameters.is_none_or(|p| p > MAX_PARAMETERS) {
        return Err(CliError::new(format!(
            "--hidden {:?} asks for more than {MAX_PARAMETERS} parameters; choose smaller widths",
            args.hidden
        )));
    }
    if args.epochs == Some(0) {
        return Err(CliError::new("--epochs must be at least 1"));
    }
    if args.batch_size == 0 {
        return Err(CliError::new("--batch-size must be at least 1"));
    }
    let lr = args.lr.unwrap_or(args.optimizer.default_lr());
    if !(lr.is_finite() && lr > 0.0) {
        return Err(CliError::new(format!(
            "--lr must be a positive number, not {lr}"
        )));
    }
    let threads = args.threads.unwrap_or_else(scratchgrad::array::num_threads);
    if threads == 0 {
        return Err(CliError::new("--threads must be at least 1"));
    }
    Ok(TrainConfig {
        dataset: args.dataset,
        arch: Architecture {
            inputs: 784,
            hidden: args.hidden.clone(),
            classes: 10,
            activation: args.activation,
        },
        engine: args.engine,
        epochs: args.epochs.unwrap_or(20),
        batch_size: args.batch_size,
        lr,
        optimizer: args.optimizer,
        schedule: args.schedule,
        seed: args.seed,
        threads,
    })
}

/// Reads a run folder's checkpoint and earlier metrics.
fn load_resume(
    dir: &Path,
    epochs: Option<usize>,
) -> Result<(TrainConfig, scratchgrad::io::Checkpoint, Vec<EpochMetrics>), CliError> {
    let path = dir.join("checkpoint.safetensors");
    let bytes = std::fs::read(&path).map_err(|e| CliError::new(format!("cannot resume: {} cannot be read ({e}); give the folder of a run that finished at least one epoch", path.display())))?;
    let checkpoint = decode_checkpoint(&bytes, &path.display().to_string())
        .map_err(|e| CliError::new(format!("cannot resume: {e}")))?;
    let mut config = TrainConfig::from_json(&checkpoint.config)
        .map_err(|e| CliError::new(format!("cannot resume: {}: {e}", path.display())))?;
    if let Some(epochs) = epochs {
        config.epochs = epochs;
    }
    let metrics_path = dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics_path).unwrap_or_default();
    let history: Vec<EpochMetrics> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter_map(|v| EpochMetrics::from_json(&v))
        .take(checkpoint.epochs_done)
        .collect();
    if history.len() != checkpoint.epochs_done {
        return Err(CliError::new(format!(
            "cannot resume: {} has {} epochs of metrics but the checkpoint has {}",
            metrics_path.display(),
            history.len(),
            checkpoint.epochs_done
        )));
    }
    Ok((config, checkpoint, history))
}

/// Runs `scratchgrad train`.
pub fn run(args: TrainArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let (config, resume, out) = match &args.resume {
        Some(dir) => {
            let (config, checkpoint, history) = load_resume(dir, args.epochs)?;
            (config, Some((checkpoint, history)), dir.clone())
        }
        None => {
            let config = config_from(&args)?;
            let out = args.out.clone().unwrap_or_else(|| {
                PathBuf::from(format!("runs/{}-{}", config.dataset, timestamp()))
            });
            if out.join("model.safetensors").exists() || out.join("checkpoint.safetensors").exists()
            {
                return Err(CliError::new(format!(
                    "{} already holds a run: choose another --out, or continue it with --resume {}",
                    out.display(),
                    out.display()
                )));
            }
            (config, None, out)
        }
    };
    if let Some((checkpoint, _)) = &resume {
        if checkpoint.epochs_done >= config.epochs {
            return Err(CliError::new(format!(
                "{} has already trained {} of {} epochs: pass a larger --epochs to continue",
                out.display(),
                checkpoint.epochs_done,
                config.epochs
            )));
        }
    }
    let (train_set, test_set) = data::load(config.dataset, args.data_dir.as_deref(), args.quiet)?;
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", out.display())))?;
    // A run killed while writing leaves its temporary file; it is never a good file, so it goes.
    let _ = remove_stale_temporaries(&out);
    let done = resume.as_ref().map_or(0, |(c, _)| c.epochs_done);
    outln!(
        "training {} on {} ({} images, {} test) with the {} engine: {} epochs{}, batch {}, {} lr {} ({}), seed {}, {} thread(s)",
        config.arch.describe(),
        config.dataset,
        train_set.len(),
        test_set.len(),
        config.engine,
        config.epochs,
        if done > 0 { format!(" (resuming after epoch {done})") } else { String::new() },
        config.batch_size,
        config.optimizer,
        config.lr,
        config.schedule,
        config.seed,
        config.threads
    );
    outln!("{}", Progress::heading());
    let mut progress = Progress::new(args.quiet);
    let result = train(&config, &train_set, &test_set, &out, resume, &mut progress);
    progress.finish();
    let outcome = match result {
        Ok(outcome) => outcome,
        Err(e @ TrainError::NonFinite { .. }) => return Err(CliError::new(e.to_string())),
        Err(TrainError::Stopped { epochs_done }) => {
            let how = if epochs_done > 0 {
                format!("resume with: scratchgrad train --resume {}", out.display())
            } else {
                "no epoch was complete, so there is nothing to resume".into()
            };
            let message = format!("interrupted after {epochs_done} complete epoch(s), whose checkpoint is kept in {}: {how}", out.display());
            return Err(CliError::new(message).with_exit_code(130));
        }
        Err(e) => {
            return Err(CliError::new(format!(
                "{e}; resume with: scratchgrad train --resume {}",
                out.display()
            )))
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let summary = serde_json::json!({
        "final": outcome.history.last().map(EpochMetrics::to_json),
        "test_per_class_accuracy": outcome.test.per_class_accuracy(),
        "config": config.to_json(),
        "seed": config.seed,
        "versions": { "scratchgrad": env!("CARGO_PKG_VERSION") },
        "wall_seconds": wall,
    });
    let summary_path = out.join("summary.json");
    write_atomic(&summary_path, format!("{summary:#}\n").as_bytes())
        .map_err(|e| CliError::new(format!("cannot write {}: {e}", summary_path.display())))?;
    report_files(
        &out,
        &outcome.history,
        &outcome.test,
        &test_set,
        &outcome.model.class_names,
    )?;
    let last = outcome.history.last();
    outln!(
        "done in {wall:.1} s: test accuracy {:.2}%. Wrote model.safetensors, checkpoint.safetensors, metrics.jsonl, summary.json, loss.svg, accuracy.svg, confusion.png, predictions.png and mistakes.png to {}",
        last.map_or(0.0, |m| m.test_accuracy * 100.0),
        out.display()
    );
    Ok(())
}
