//! `scratchgrad train`: the texts' MNIST network by default, with everything a run leaves
//! behind. The flags become the library's `train::Settings`; the run itself (its folder,
//! epochs, pictures and summary) is `train::Session`'s. This file renders it on a terminal.

use std::path::{Path, PathBuf};

use clap::Args;
use scratchgrad::arch::{Activation, Architecture, LAYER_GRAMMAR};
use scratchgrad::data::{DatasetName, Split};
use scratchgrad::train::run_dir::CHECKPOINT;
use scratchgrad::train::{
    short_number, ConfigError, Engine, Folder, OptimizerKind, Preset, RunDirError, Schedule,
    Session, SessionError, Settings, TrainConfig, TrainError,
};

use super::data::{self, AnyDataset};
use super::progress::Progress;
use super::train_text::{self, DEFAULTS_HELP};
use crate::output::{errln, outln};
use crate::Failure;
use scratchgrad::lm::LM_LAYER_GRAMMAR;

/// Train a classifier (default: the texts' 784-256-10 sigmoid MLP on MNIST, 20 epochs), or a
/// language model on names or Shakespeare
///
/// A run writes into its folder (--out, default runs/<dataset>-<time>): model.safetensors,
/// checkpoint.safetensors and metrics.jsonl after every epoch, then pictures and
/// summary.json. --resume DIR continues a stopped run with its own settings. A language model
/// (--dataset names, shakespeare or their -mini slices; --arch bigram, mlp, wavenet or gpt)
/// trains for --steps, evaluating every --eval-every and writing metrics.jsonl and
/// checkpoint.safetensors each time, then model.safetensors, loss.svg and summary.json (with
/// samples); --resume DIR continues it to the same bytes.
#[derive(Args)]
#[command(after_help = format!("Defaults by --arch: mlp: sgd, lr 1, cosine, 20 epochs; cnn and lenet5 (and --layers): adam, lr 0.002, cosine, 10 epochs; another --optimizer starts at lr 0.05 (momentum), 0.001 (adam), 1 (sgd on mlp) or 0.1 (sgd on the others). \
Language models: {DEFAULTS_HELP}.\n\n\
--layers takes a comma-separated list of layers, input side first: {LAYER_GRAMMAR}. \
Images are [1, 28, 28] when the list has a convolution or pooling (put flatten before the first linear layer), else flat [784]. \
Examples: --layers linear512,relu,linear256,relu,linear10; --layers conv32k3,relu,conv64k3,relu,maxpool2,flatten,linear128,relu,linear10 \
(the last layer has one output per class). On a text data set --layers writes a language model instead: {LM_LAYER_GRAMMAR}, after the embedding of --context characters; the scores' linear layer is added. The lectures' MLP is --context 3 --embedding 10 --layers flatten,linear200,bn,tanh; their WaveNet is --layers flatten2,linear128,bn,tanh,flatten2,linear128,bn,tanh,flatten2,linear128,bn,tanh."))]
pub struct TrainArgs {
    /// mnist, fashion-mnist or mnist-mini (built in, no download); names, shakespeare,
    /// names-mini or shakespeare-mini for a language model [default: mnist]
    #[arg(long)]
    pub(super) dataset: Option<AnyDataset>,
    /// The network: mlp (the texts'), cnn or lenet5; each has its own default optimizer,
    /// learning rate, schedule and epochs (see below); for text, bigram, mlp (Bengio et al.),
    /// wavenet (makemore's tree) or gpt [default: mlp]
    #[arg(long, conflicts_with = "layers")]
    pub(super) arch: Option<String>,
    /// Hidden layer widths of the MLP, comma-separated (e.g. 512,256) [default: 256; a language
    /// model's MLP: one width, 300; a wavenet: 128 at each level]
    #[arg(
        long,
        allow_negative_numbers = true,
        value_delimiter = ',',
        conflicts_with = "layers"
    )]
    pub(super) hidden: Option<Vec<usize>>,
    /// The MLP's hidden activation: sigmoid, relu or tanh [default: sigmoid]
    #[arg(long, conflicts_with = "layers")]
    pub(super) activation: Option<Activation>,
    /// The network as a list of layers instead of --arch (grammar below)
    #[arg(long, value_name = "SPEC")]
    pub(super) layers: Option<String>,
    /// Gradient engine: autograd or manual (hand-derived) [default: autograd]
    #[arg(long)]
    pub(super) engine: Option<Engine>,
    /// Epochs to train (with --resume: the new total) [default: by --arch]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) epochs: Option<usize>,
    /// Language models: optimizer steps [default: by --arch]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) steps: Option<usize>,
    /// Language models: characters of context the model reads [default: by --arch and
    /// --dataset, listed below]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) context: Option<usize>,
    /// Language models: numbers per character in the embedding [default: by --arch and
    /// --dataset, listed below]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) embedding: Option<usize>,
    /// Language models: the GPT's attention heads [default: 4]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) heads: Option<usize>,
    /// Language models: the GPT's transformer blocks [default: 4]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) blocks: Option<usize>,
    /// Language models: the GPT's dropout while training, 0 to 0.9 (nanoGPT's places: the
    /// embeddings, the attention weights, each block's outputs) [default: 0.1 on names, 0 on
    /// shakespeare]
    #[arg(long, allow_hyphen_values = true)]
    pub(super) dropout: Option<f64>,
    /// Language models: evaluate on the held-out text every this many steps [default: by --arch]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) eval_every: Option<usize>,
    /// Examples per step [default: 64; a language model's by --arch, listed below]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) batch_size: Option<usize>,
    /// Learning rate at the first epoch [default: by --arch; for an image network with another
    /// --optimizer, 1.0 for sgd on mlp and 0.1 on the others, 0.05 for momentum, 0.001 for
    /// adam; a language model keeps its --arch's rate]
    #[arg(long, allow_hyphen_values = true)]
    pub(super) lr: Option<f64>,
    /// sgd, momentum (0.9) or adam [default: by --arch]; for a language model, sgd or adam
    /// (AdamW, weight decay on matrices only)
    #[arg(long)]
    pub(super) optimizer: Option<OptimizerKind>,
    /// Learning-rate schedule over the epochs: cosine (down towards 0) or constant [default: by --arch]
    #[arg(long)]
    pub(super) schedule: Option<Schedule>,
    /// Seed for weights, shuffling and the validation split [default: 0]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) seed: Option<u64>,
    /// Hold out this fraction of the training set to score after each epoch; the test set is
    /// then scored once, at the end [default: 0, the texts' way: the test set every epoch]
    #[arg(long, value_name = "FRACTION", allow_hyphen_values = true)]
    pub(super) val_split: Option<f64>,
    /// Threads for a step's matrix products, or for the parts of a convolutional network's
    /// batch (results do not depend on it) [default: all cores]
    #[arg(long, allow_negative_numbers = true)]
    pub(super) threads: Option<usize>,
    /// Folder for the model, metrics and pictures: new, empty, or a run stopped before its
    /// first epoch completed [default: runs/<dataset>-<time>]
    #[arg(long, value_name = "DIR")]
    pub(super) out: Option<PathBuf>,
    /// Continue the run in DIR from its last complete epoch (a language model: its last
    /// evaluation) with its own settings; --threads, --quiet and --data-dir may change, and
    /// an image network's --epochs may raise the total
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub(super) resume: Option<PathBuf>,
    /// Where data sets are kept [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR")]
    pub(super) data_dir: Option<PathBuf>,
    /// Print one line per epoch and no progress bars
    #[arg(long)]
    pub(super) quiet: bool,
}

/// The most threads `--threads` accepts.
const MAX_THREADS: usize = 256;

impl TrainArgs {
    /// The flag that sets a setting (its name in `train::Settings` or `TrainConfig`), for
    /// messages.
    fn flag(&self, setting: &str) -> &'static str {
        match setting {
            "dataset" => "--dataset",
            "architecture" if self.layers.is_some() => "--layers",
            "architecture" if self.arch.as_deref().is_some_and(|a| a != "mlp") => "--arch",
            "architecture" | "hidden" => "--hidden",
            "activation" => "--activation",
            "layers" => "--layers",
            "engine" => "--engine",
            "epochs" => "--epochs",
            "batch_size" => "--batch-size",
            "lr" => "--lr",
            "optimizer" => "--optimizer",
            "schedule" => "--schedule",
            "seed" => "--seed",
            "val_split" => "--val-split",
            _ => "a setting",
        }
    }

    fn config_error(&self, e: ConfigError) -> Failure {
        Failure::new(format!("{}: {}", self.flag(e.setting), e.message))
    }

    /// The image data set asked for (`run` sends text elsewhere first).
    fn image_dataset(&self) -> Option<DatasetName> {
        match self.dataset {
            Some(AnyDataset::Images(d)) => Some(d),
            _ => None,
        }
    }

    /// The image network's preset asked for.
    fn preset(&self) -> Result<Option<Preset>, Failure> {
        self.arch
            .as_deref()
            .map(|a| a.parse::<Preset>())
            .transpose()
            .map_err(|e| Failure::new(format!("--arch: {e}")))
    }

    /// Flags only a language model takes, refused for an image network.
    fn refuse_text_flags(&self) -> Result<(), Failure> {
        let given = [
            ("--steps", self.steps.is_some()),
            ("--context", self.context.is_some()),
            ("--embedding", self.embedding.is_some()),
            ("--eval-every", self.eval_every.is_some()),
            ("--heads", self.heads.is_some()),
            ("--blocks", self.blocks.is_some()),
            ("--dropout", self.dropout.is_some()),
        ];
        let instead = |flag: &str| match flag {
            "--steps" | "--eval-every" => "an image network trains for --epochs",
            "--dropout" => "an image network takes dropout as a layer: --layers ...,dropout0.5,...",
            _ => "an image network's shape is --arch or --layers",
        };
        match train_text::first_given(&given) {
            Some(flag) => Err(Failure::new(format!(
                "{flag} is for language models (--dataset names or shakespeare); {}",
                instead(flag)
            ))),
            None => Ok(()),
        }
    }

    /// The settings the flags give (the library fills in the preset's defaults).
    fn settings(&self) -> Result<Settings, Failure> {
        Ok(Settings {
            dataset: self.image_dataset(),
            preset: self.preset()?,
            hidden: self.hidden.clone(),
            activation: self.activation,
            layers: self.layers.clone(),
            engine: self.engine,
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            optimizer: self.optimizer,
            schedule: self.schedule,
            seed: self.seed,
            val_split: self.val_split,
        })
    }

    /// A resumed run keeps its settings: any flag given must agree with them.
    fn check_agrees(&self, run: &TrainConfig, dir: &Path) -> Result<(), Failure> {
        let mlp = run.arch.as_mlp();
        let given: [(&str, Option<String>, String); 12] = [
            ("--arch", self.arch.clone(), run.arch.layers_text()),
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
                return Err(Failure::new(format!(
                    "{flag} {value} does not match the run in {} ({theirs}): a resumed run keeps its settings; only --epochs, --threads, --quiet and --data-dir may be given",
                    dir.display()
                )));
            }
        }
        Ok(())
    }
}

/// A folder error in the words of the command line: which flag to change.
pub(super) fn folder_error(
    path: &Path,
    e: &RunDirError,
    resuming: bool,
    args: &TrainArgs,
) -> Failure {
    let shown = path.display();
    let how = match e {
        RunDirError::HoldsRun => format!(
            ": choose another --out, or continue it with {}",
            resume_command(path, args)
        ),
        RunDirError::NotEmpty { .. } => ": choose a new or empty folder for --out".into(),
        RunDirError::InUse { .. } => ": wait for it to finish, or choose another folder".into(),
        RunDirError::NotAFolder { .. } => ": give a folder".into(),
        RunDirError::Special { .. } => String::new(),
        RunDirError::NoRun => ": give the folder of a run that completed at least one epoch".into(),
        RunDirError::NoCompleteEpoch => {
            format!(": start it again with scratchgrad train --out {shown} and its flags")
        }
        RunDirError::Io(_) => String::new(),
    };
    let what = if resuming { "cannot resume: " } else { "" };
    Failure::new(format!("{what}{shown} {e}{how}"))
}

/// The command that resumes the run in `folder`, with the data folder this run was given
/// (a run does not keep it), ready to paste into a shell.
pub(super) fn resume_command(folder: &Path, args: &TrainArgs) -> String {
    let folder = shell_word(folder);
    match &args.data_dir {
        Some(dir) => format!(
            "scratchgrad train --resume {folder} --data-dir {}",
            shell_word(dir)
        ),
        None => format!("scratchgrad train --resume {folder}"),
    }
}

/// A path as one shell word: as it is when every character is plain, else in single quotes
/// (a quote inside written `'\''`).
fn shell_word(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./~:@%+=,-".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// A session error in the words of the command line.
fn session_error(args: &TrainArgs, session: Option<&Path>, e: SessionError) -> Failure {
    let dir = session.unwrap_or(Path::new(""));
    let folder = || dir.display().to_string();
    match e {
        SessionError::Folder {
            path,
            error,
            resuming,
        } => folder_error(&path, &error, resuming, args),
        SessionError::Resume(e) => Failure::new(format!("cannot resume: {e}")),
        SessionError::Config(e) => args.config_error(e),
        SessionError::FewerEpochs { asked, done } => Failure::new(format!(
            "--epochs {asked} is fewer than the {done} epochs {} has already trained",
            folder()
        )),
        SessionError::Finished { epochs } => Failure::new(format!(
            "{} has already trained all {epochs} of its epochs: pass a larger --epochs to continue",
            folder()
        )),
        SessionError::Train(
            e @ (TrainError::NonFinite { .. } | TrainError::NonFiniteState { .. }),
        ) => Failure::new(format!("{e} (--lr)")),
        SessionError::Train(TrainError::Resume(problem)) => Failure::new(format!(
            "cannot resume: {}/{CHECKPOINT} {problem}",
            folder()
        )),
        SessionError::Train(TrainError::Stopped { epochs_done }) => {
            let message = if epochs_done > 0 {
                let plural = if epochs_done == 1 { "" } else { "s" };
                format!("interrupted after {epochs_done} complete epoch{plural}, whose checkpoint is kept in {}: resume with: {}", folder(), resume_command(dir, args))
            } else {
                "interrupted before the first epoch completed, so nothing was kept".into()
            };
            Failure::new(message).with_exit_code(130)
        }
        SessionError::Train(e) => {
            let kept = session.is_some_and(|dir| dir.join(CHECKPOINT).exists());
            let how = if kept {
                format!("; resume with: {}", resume_command(dir, args))
            } else {
                String::new()
            };
            Failure::new(format!("{e}{how}"))
        }
        SessionError::Summary(e) => {
            Failure::new(format!("cannot write the summary in {}: {e}", folder()))
        }
    }
}

/// The session the flags ask for: a new run, or the one to resume (checked against them).
fn session(args: &TrainArgs) -> Result<Session, Failure> {
    let Some(path) = &args.resume else {
        let config: TrainConfig = args
            .settings()?
            .config()
            .map_err(|e| args.config_error(e))?;
        let folder = match &args.out {
            Some(out) => Folder::At(out),
            None => Folder::In(Path::new("runs")),
        };
        return Session::start(config, folder).map_err(|e| session_error(args, None, e));
    };
    let mut session = Session::resume(path).map_err(|e| session_error(args, Some(path), e))?;
    args.check_agrees(session.config(), path)?;
    if let Some(epochs) = args.epochs {
        session
            .set_epochs(epochs)
            .map_err(|e| session_error(args, Some(path), e))?;
    }
    if session.is_finished() {
        let epochs = session.config().epochs;
        return Err(session_error(
            args,
            Some(path),
            SessionError::Finished { epochs },
        ));
    }
    Ok(session)
}

/// Runs `scratchgrad train`.
pub fn run(args: TrainArgs) -> Result<(), Failure> {
    let threads = args.threads.unwrap_or_else(scratchgrad::array::num_threads);
    if !(1..=MAX_THREADS).contains(&threads) {
        return Err(Failure::new(format!(
            "--threads: must be 1 to {MAX_THREADS}, not {threads}"
        )));
    }
    if let Some(path) = args
        .resume
        .as_deref()
        .filter(|p| scratchgrad::lm::run::is_lm_run(p))
    {
        return train_text::resume(path, &args, threads);
    }
    if let Some(AnyDataset::Text(corpus)) = args.dataset {
        if args.resume.is_some() {
            return Err(Failure::new(
                "--resume takes the run's folder alone: a resumed run keeps its --dataset",
            ));
        }
        return train_text::run(corpus, &args, threads);
    }
    args.refuse_text_flags()?;
    let session = session(&args)?;
    let folder = session.folder().to_path_buf();
    let config = session.config().clone();
    let splits = data::load(
        config.dataset,
        &[Split::Train, Split::Test],
        args.data_dir.as_deref(),
        args.quiet,
    )?;
    let (train_set, test_set) = (&splits[0], &splits[1]);
    session
        .check_data(train_set)
        .map_err(|e| session_error(&args, Some(&folder), e))?;
    outln!("{}", session.heading(train_set, test_set, threads));
    let first_loss = session.history().first().map(|m| m.train_loss);
    let mut progress = Progress::new(args.quiet, config.val_split > 0.0, first_loss);
    outln!("{}", progress.heading());
    let result = session.train(train_set, test_set, threads, &mut progress);
    progress.finish();
    let finished = result.map_err(|e| session_error(&args, Some(&folder), e))?;
    for warning in &finished.pictures.warnings {
        errln!("warning: {warning}");
    }
    let mut files = vec![
        "model.safetensors",
        "checkpoint.safetensors",
        "metrics.jsonl",
    ];
    files.extend(&finished.pictures.written);
    files.push("summary.json");
    outln!(
        "done in {:.1} s: test accuracy {:.2}%. Wrote {} to {}",
        finished.wall_seconds,
        finished.test_accuracy * 100.0,
        files.join(", "),
        folder.display()
    );
    progress.warn_if_diverged();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_in_a_hint_pastes_into_a_shell_as_one_word() {
        // POSIX sh: nothing is special inside single quotes, and a quote is closed, escaped
        // and reopened ('\'').
        let word = |p: &str| shell_word(Path::new(p));
        assert_eq!(
            word("runs/names-20261202-212035"),
            "runs/names-20261202-212035"
        );
        assert_eq!(word("../shared/data"), "../shared/data");
        assert_eq!(word("My Data/runs"), "'My Data/runs'");
        assert_eq!(word("it's"), r"'it'\''s'");
        assert_eq!(word("$HOME;rm"), "'$HOME;rm'");
        assert_eq!(word(""), "''");
    }
}
