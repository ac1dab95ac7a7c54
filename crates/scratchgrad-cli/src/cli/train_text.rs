//! `scratchgrad train --dataset names|shakespeare`: a language model's run, rendered on a
//! terminal. The run itself (split, training, files) is the library's `lm::LmRun`.

use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use scratchgrad::data::Corpus;
use scratchgrad::lm::arch::{MAX_CONTEXT, MAX_WIDTH};
use scratchgrad::lm::train::MAX_STEPS;
use scratchgrad::lm::{
    LmArch, LmConfig, LmObserver, LmOptimizer, LmResumeError, LmRun, LmTraining,
};
use scratchgrad::train::run_dir::CHECKPOINT;
use scratchgrad::train::{Folder, OptimizerKind};

use super::data;
use super::interrupt;
use super::train::{resume_command, TrainArgs};
use crate::output::outln;
use crate::Failure;

/// The defaults, for `train --help`.
pub const DEFAULTS_HELP: &str = "bigram: adam (AdamW), lr 0.1 down to 0.01, 3000 steps of 256; \
mlp: context 4, embedding 24, hidden 300 with batch norm, sgd, lr 0.1 down to 0.01, 200000 steps of 32 (makemore's lectures train 3, 10 and 200 this way); \
wavenet: context 8, embedding 24, hidden 128 at each of 3 levels, as makemore part 5, sgd, lr 0.1 down to 0.01, 200000 steps of 32; \
gpt on names: context 16, embedding 64, 4 heads, 4 blocks (makemore's transformer), adam (AdamW, weight decay 0.01), lr 0.002 down to 0.0002, dropout 0.1, 40000 steps of 32; \
gpt on shakespeare: context 64, embedding 128, 4 heads, 4 blocks, adam (AdamW, weight decay 0.1), lr 0.001 down to 0.0001 after 100 warm-up steps, 2000 steps of 12 (nanoGPT's CPU configuration); --layers (a text data set): context 8, embedding 24, then the layers and a linear layer to the scores, trained as the mlp";

/// A GPT's steps on names by default (makemore's batch of 32). With [`GPT_NAMES_DROPOUT`] and
/// [`GPT_NAMES_LR`], 40,000 steps held out 1.9017 where 20,000 at makemore's settings held out
/// 1.9656, makemore.py's own best in 20,000 steps (docs/BENCHMARKS.md).
const GPT_NAMES_STEPS: usize = 40_000;

/// A GPT's peak learning rate on names by default, four times makemore's 5e-4: with dropout
/// and the cosine decay it held out 1.9017 after 40,000 steps (1.9000 with an earlier build's
/// dropout mask), where 5e-4 held out 1.9266 and 1e-3 held out 1.9223.
const GPT_NAMES_LR: f64 = 2e-3;

/// A GPT's dropout on names by default: without it the model learns the training names
/// (train 1.88, held out 1.97 after 20,000 steps).
const GPT_NAMES_DROPOUT: f64 = 0.1;

/// Flags that mean nothing for a language model.
fn refuse_image_flags(args: &TrainArgs) -> Result<(), Failure> {
    let given = [
        ("--activation", args.activation.is_some()),
        ("--engine", args.engine.is_some()),
        ("--epochs", args.epochs.is_some()),
        ("--schedule", args.schedule.is_some()),
        ("--val-split", args.val_split.is_some()),
    ];
    match first_given(&given) {
        Some("--epochs") => Err(Failure::new(
            "--epochs is for image networks: a language model trains for --steps",
        )),
        Some(flag) => Err(Failure::new(format!(
            "{flag} is for image networks, not language models (--arch bigram, mlp, wavenet or gpt, or --layers)"
        ))),
        None => Ok(()),
    }
}

/// The first of `flags` that was given.
pub fn first_given<'a>(flags: &[(&'a str, bool)]) -> Option<&'a str> {
    flags
        .iter()
        .find(|(_, given)| *given)
        .map(|(flag, _)| *flag)
}

/// Checks a whole number flag against its range.
fn within(flag: &str, value: usize, low: usize, high: usize) -> Result<usize, Failure> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(Failure::new(format!(
            "{flag}: must be {low} to {high}, not {value}"
        )))
    }
}

/// The run the flags ask for, with each architecture's defaults.
fn config(corpus: Corpus, args: &TrainArgs) -> Result<LmConfig, Failure> {
    refuse_image_flags(args)?;
    let kind = match (&args.arch, &args.layers) {
        (_, Some(_)) => "layers",
        (Some(arch), None) => arch.as_str(),
        (None, None) => "mlp",
    };
    let gpt = kind == "gpt";
    let lines = corpus.kind() == scratchgrad::data::TextKind::Lines;
    // The lectures train their MLP and WaveNet with plain SGD on batches of 32; a layer list
    // is of their family.
    let mlp = matches!(kind, "mlp" | "wavenet" | "layers");
    let gpt_flags = [
        ("--heads", args.heads.is_some()),
        ("--blocks", args.blocks.is_some()),
        ("--dropout", args.dropout.is_some()),
    ];
    if let (false, Some(flag)) = (gpt, first_given(&gpt_flags)) {
        return Err(Failure::new(format!("{flag} is for --arch gpt")));
    }
    let arch = match kind {
        "gpt" => {
            if args.hidden.is_some() {
                return Err(Failure::new(
                    "--hidden does not apply to a gpt (its MLPs are 4 times the embedding)",
                ));
            }
            // makemore's defaults on names (the longest name and its boundary), nanoGPT's CPU
            // configuration on a stream.
            let (context, embedding) = if lines { (16, 64) } else { (64, 128) };
            LmArch::Gpt {
                context: args.context.unwrap_or(context),
                embedding: args.embedding.unwrap_or(embedding),
                heads: args.heads.unwrap_or(4),
                blocks: args.blocks.unwrap_or(4),
            }
        }
        "bigram" => {
            if let Some(flag) = first_given(&[
                ("--context", args.context.is_some()),
                ("--embedding", args.embedding.is_some()),
                ("--hidden", args.hidden.is_some()),
            ]) {
                return Err(Failure::new(format!(
                    "{flag} does not apply to a bigram model (one character of context, one table)"
                )));
            }
            LmArch::Bigram
        }
        "mlp" => {
            let hidden = match args.hidden.as_deref() {
                None => 300,
                Some([one]) => *one,
                Some(_) => {
                    return Err(Failure::new(
                        "--hidden: a language model's MLP has one hidden layer: give one width",
                    ))
                }
            };
            LmArch::Mlp {
                context: args.context.unwrap_or(4),
                embedding: args.embedding.unwrap_or(24),
                hidden,
                batch_norm: true,
            }
        }
        "wavenet" => {
            let hidden = match args.hidden.as_deref() {
                None => 128,
                Some([one]) => *one,
                Some(_) => {
                    return Err(Failure::new(
                        "--hidden: a wavenet's levels are all one width: give one number",
                    ))
                }
            };
            LmArch::WaveNet {
                context: args.context.unwrap_or(8),
                embedding: args.embedding.unwrap_or(24),
                hidden,
            }
        }
        "layers" => LmArch::Layers {
            context: within("--context", args.context.unwrap_or(8), 1, MAX_CONTEXT)?,
            embedding: within("--embedding", args.embedding.unwrap_or(24), 1, MAX_WIDTH)?,
            layers: args
                .layers
                .as_deref()
                .unwrap_or_default()
                .parse()
                .map_err(|e| Failure::new(format!("--layers: {e}")))?,
        },
        other => {
            return Err(Failure::new(format!(
                "--arch: unknown language model `{}` (known: bigram, mlp, wavenet, gpt)",
                scratchgrad::text::for_terminal(&scratchgrad::text::elide(other, 40))
            )))
        }
    };
    let optimizer = match args.optimizer {
        None if mlp => LmOptimizer::Sgd,
        None | Some(OptimizerKind::Adam) => LmOptimizer::AdamW,
        Some(OptimizerKind::Sgd) => LmOptimizer::Sgd,
        Some(other) => {
            return Err(Failure::new(format!(
                "--optimizer: a language model trains with sgd or adam (AdamW), not {other}"
            )))
        }
    };
    let (default_steps, default_batch, default_lr) = match (gpt, mlp) {
        (true, true) => unreachable!("one architecture"),
        (true, false) if lines => (GPT_NAMES_STEPS, 32, GPT_NAMES_LR),
        (true, _) => (2000, 12, 1e-3),
        (_, true) => (200_000, 32, 0.1),
        _ => (3000, 256, 0.1),
    };
    let steps = within("--steps", args.steps.unwrap_or(default_steps), 1, MAX_STEPS)?;
    let batch_size = within(
        "--batch-size",
        args.batch_size.unwrap_or(default_batch),
        1,
        65_536,
    )?;
    let lr = args.lr.unwrap_or(default_lr);
    if !(lr.is_finite() && (1e-10..=1e6).contains(&lr)) {
        return Err(Failure::new(format!(
            "--lr: must be between 1e-10 and 1e6, not {lr}"
        )));
    }
    let eval_every = within(
        "--eval-every",
        args.eval_every.unwrap_or((steps / 20).max(1)),
        1,
        MAX_STEPS,
    )?;
    let training = LmTraining {
        steps,
        batch_size,
        optimizer,
        lr,
        min_lr: lr / 10.0,
        warmup: if gpt && !lines {
            100.min(steps / 10)
        } else {
            0
        },
        weight_decay: match optimizer {
            LmOptimizer::AdamW if gpt && !lines => 0.1,
            LmOptimizer::AdamW => 0.01,
            LmOptimizer::Sgd => 0.0,
        },
        clip: Some(1.0),
        dropout: match args.dropout {
            Some(p) if !(0.0..=0.9).contains(&p) => {
                return Err(Failure::new(format!(
                    "--dropout: must be from 0 to 0.9, not {p}"
                )))
            }
            Some(p) => p,
            None if gpt && lines => GPT_NAMES_DROPOUT,
            None => 0.0,
        },
        eval_every,
        // A GPT's evaluation reads windows of its whole context: 200 of them are 12,800
        // characters at nanoGPT's sizes.
        // On names, a GPT's window is one name: 2,000 of them, and all of the 1,000 held out.
        eval_examples: match (gpt, lines) {
            (true, false) => 200,
            (true, true) => 2000,
            _ => 25_000,
        },
        seed: args.seed.unwrap_or(0),
    };
    let flag = if kind == "layers" {
        "--layers".to_string()
    } else {
        format!("--arch {kind}")
    };
    arch.validate(64)
        .map_err(|e| Failure::new(format!("{flag}: {e}")))?;
    Ok(LmConfig {
        corpus,
        arch,
        training,
    })
}

/// Progress on a terminal: a bar with the latest loss, a line per evaluation.
struct TextProgress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl LmObserver for TextProgress {
    fn on_step(&mut self, step: usize, loss: f64, _lr: f64) {
        if let Some(bar) = &self.bar {
            bar.set_position(step as u64);
            if step.is_multiple_of(50) {
                bar.set_message(format!("loss {loss:.4}"));
            }
        }
    }

    fn on_eval(&mut self, step: usize, train_loss: f64, test_loss: f64) {
        let line = format!(
            "step {step:>7}  train {train_loss:.4}  test {test_loss:.4}  ({:.1} s)",
            self.started.elapsed().as_secs_f64()
        );
        // Quiet or not, one line per evaluation (as --quiet keeps one line per epoch).
        match &self.bar {
            Some(bar) => bar.println(line),
            None => outln!("{line}"),
        }
    }

    fn should_stop(&self) -> bool {
        interrupt::requested()
    }
}

/// Runs `scratchgrad train` for a language model.
pub fn run(corpus: Corpus, args: &TrainArgs, threads: usize) -> Result<(), Failure> {
    let config = config(corpus, args)?;
    let text = data::load_text(corpus, args.data_dir.as_deref(), args.quiet)?;
    let folder = match &args.out {
        Some(out) => Folder::At(out),
        None => Folder::In(Path::new("runs")),
    };
    let run = LmRun::start(config.clone(), folder)
        .map_err(|(path, e)| super::train::folder_error(&path, &e, false, args))?;
    outln!(
        "training {} on {corpus} for {} steps of {} ({}, lr {} down to {}{}; {threads} thread(s)) into {}",
        config.arch.describe(),
        config.training.steps,
        config.training.batch_size,
        config.training.optimizer,
        config.training.lr,
        config.training.min_lr,
        match config.training.dropout {
            p if p > 0.0 => format!(", dropout {p}"),
            _ => String::new(),
        },
        run.folder().display(),
    );
    drive(run, &text, args, threads)
}

/// `scratchgrad train --resume DIR` of a language model's run: it goes on from its last
/// checkpoint with its own settings, and ends with the bytes it would have had.
pub fn resume(path: &Path, args: &TrainArgs, threads: usize) -> Result<(), Failure> {
    let fixed = [
        ("--dataset", args.dataset.is_some()),
        ("--arch", args.arch.is_some()),
        ("--steps", args.steps.is_some()),
        ("--batch-size", args.batch_size.is_some()),
        ("--lr", args.lr.is_some()),
        ("--optimizer", args.optimizer.is_some()),
        ("--seed", args.seed.is_some()),
        ("--context", args.context.is_some()),
        ("--embedding", args.embedding.is_some()),
        ("--hidden", args.hidden.is_some()),
        ("--heads", args.heads.is_some()),
        ("--blocks", args.blocks.is_some()),
        ("--dropout", args.dropout.is_some()),
        ("--eval-every", args.eval_every.is_some()),
        ("--out", args.out.is_some()),
        ("--epochs", args.epochs.is_some()),
        ("--engine", args.engine.is_some()),
        ("--activation", args.activation.is_some()),
        ("--layers", args.layers.is_some()),
        ("--schedule", args.schedule.is_some()),
        ("--val-split", args.val_split.is_some()),
    ];
    if let Some(flag) = first_given(&fixed) {
        return Err(Failure::new(format!(
            "{flag}: a resumed language-model run keeps its settings; only --threads, --quiet and --data-dir may be given"
        )));
    }
    let shown = path.display();
    let run = LmRun::resume(path).map_err(|e| match e {
        LmResumeError::Folder(scratchgrad::train::RunDirError::NoCompleteEpoch) => {
            Failure::new(format!(
                "cannot resume: {shown} holds a run stopped before its first evaluation, which keeps nothing to go on from: start it again with its flags"
            ))
        }
        LmResumeError::Folder(e) => super::train::folder_error(path, &e, true, args),
        LmResumeError::Checkpoint(e) => Failure::new(format!("cannot resume: {e}")),
        LmResumeError::Finished { steps } => Failure::new(format!(
            "{shown} has already trained all {steps} of its steps; start a new run to train longer"
        )),
    })?;
    let config = run.config().clone();
    let text = data::load_text(config.corpus, args.data_dir.as_deref(), args.quiet)?;
    outln!(
        "resuming {} on {} at step {} of {} ({threads} thread(s)) in {shown}",
        config.arch.describe(),
        config.corpus,
        run.steps_done(),
        config.training.steps,
    );
    drive(run, &text, args, threads)
}

/// Trains a started or resumed run with a progress bar, and reports how it ended.
fn drive(run: LmRun, text: &str, args: &TrainArgs, threads: usize) -> Result<(), Failure> {
    let folder = run.folder().to_path_buf();
    let shown = folder.display().to_string();
    let steps = run.config().training.steps as u64;
    interrupt::flag();
    let bar = (!args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let bar = ProgressBar::new(steps);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps {msg} ({eta})")
                .expect("a valid template"),
        );
        bar.set_position(run.steps_done() as u64);
        bar
    });
    let mut progress = TextProgress {
        bar,
        started: Instant::now(),
    };
    let checkpoint = folder.join(CHECKPOINT);
    let result = scratchgrad::array::with_threads(threads, || run.train(text, &mut progress));
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let finished = result.map_err(|e| {
        if e.starts_with("cannot resume") {
            Failure::new(e)
        } else if e.starts_with("the loss became") {
            // Resuming would take the same steps again: the advice is the new run's --lr.
            let kept = if checkpoint.exists() {
                "its last checkpoint is kept"
            } else {
                "nothing was kept"
            };
            Failure::new(format!(
                "{e}; {kept} in {shown}; start a new run with a lower --lr"
            ))
        } else if checkpoint.exists() {
            Failure::new(format!(
                "{e}; the last checkpoint is kept: resume with: {}",
                resume_command(&folder, args)
            ))
        } else {
            Failure::new(format!("{e}; nothing was kept in {shown}"))
        }
    })?;
    if interrupt::requested() {
        return Err(Failure::new(format!(
            "interrupted after {} steps, whose checkpoint is kept in {shown}: resume with: {}",
            finished.steps,
            resume_command(&folder, args)
        ))
        .with_exit_code(130));
    }
    outln!("samples:");
    for sample in &finished.samples {
        outln!(
            "  {}",
            scratchgrad::text::for_terminal(&scratchgrad::text::elide(sample.trim_end(), 200))
        );
    }
    outln!(
        "done in {:.1} s: {} parameters, test loss {:.4} nats per character (train {:.4}). Wrote {} to {shown}",
        finished.seconds,
        finished.parameters,
        finished.test_loss,
        finished.train_loss,
        finished.files.join(", ")
    );
    Ok(())
}
