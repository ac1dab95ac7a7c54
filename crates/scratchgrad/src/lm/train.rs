//! Training a language model: random batches of examples (seeded), the loss, backward, the
//! gradient clipped to a largest norm, an optimizer step with weight decay on matrices only,
//! the learning rate warmed up then annealed, and the held-out loss every so many steps.

use super::examples::{Examples, IGNORED};
use super::model::LanguageModel;
use std::sync::{Mutex, PoisonError};

use crate::array::{run_tasks, without_keeping, Array, KeepingBuffers, Rng};
use crate::autograd::{no_grad, Tensor};
use crate::nn::cross_entropy_ignoring;
use crate::optim::{cosine_lr, Adam, Optimizer, OptimizerState, Sgd};

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LmOptimizer {
    /// Plain gradient descent, as the lectures train the MLP.
    Sgd,
    /// AdamW (betas 0.9, 0.99 as makemore.py and nanoGPT use for these models).
    AdamW,
}

crate::text::named_choices!(LmOptimizer, "optimizer", [Sgd => "sgd", AdamW => "adamw"]);

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct LmTraining {
    /// Optimizer steps.
    pub steps: usize,
    /// Examples per step, drawn at random (with replacement) from the training examples.
    pub batch_size: usize,
    pub optimizer: LmOptimizer,
    /// The learning rate after warm-up; the cosine brings it down to `min_lr` at the end.
    pub lr: f64,
    pub min_lr: f64,
    /// Steps over which the rate rises linearly from 0 to `lr`.
    pub warmup: usize,
    /// Decoupled weight decay (AdamW) or L2 (SGD) on matrices and embeddings only.
    pub weight_decay: f64,
    /// The largest norm of the whole gradient; a larger one is scaled down to it.
    pub clip: Option<f64>,
    /// A GPT's dropout probability while training (0: none).
    pub dropout: f64,
    /// Evaluate every this many steps (and after the last).
    pub eval_every: usize,
    /// The most examples an evaluation reads from each split (evenly spaced).
    pub eval_examples: usize,
    pub seed: u64,
}

impl LmTraining {
    /// The settings as JSON (a checkpoint keeps them).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "steps": self.steps, "batch_size": self.batch_size,
            "optimizer": self.optimizer.to_string(), "lr": self.lr, "min_lr": self.min_lr,
            "warmup": self.warmup, "weight_decay": self.weight_decay, "clip": self.clip,
            "dropout": self.dropout,
            "eval_every": self.eval_every, "eval_examples": self.eval_examples, "seed": self.seed,
        })
    }

    /// Reads [`LmTraining::to_json`]'s JSON, every number within the bounds a run accepts.
    pub fn from_json(value: &serde_json::Value) -> Result<LmTraining, String> {
        let whole = |key: &str, most: u64| {
            value[key]
                .as_u64()
                .filter(|&n| n <= most)
                .map(|n| n as usize)
                .ok_or_else(|| format!("`{key}` is not a whole number up to {most}"))
        };
        let number = |key: &str, most: f64| {
            value[key]
                .as_f64()
                .filter(|v| (0.0..=most).contains(v))
                .ok_or_else(|| format!("`{key}` is not a number from 0 to {most}"))
        };
        let optimizer = value["optimizer"]
            .as_str()
            .and_then(|o| o.parse().ok())
            .ok_or("`optimizer` is not sgd or adamw")?;
        let clip = match &value["clip"] {
            serde_json::Value::Null => None,
            _ => Some(number("clip", 1e6)?),
        };
        let training = LmTraining {
            steps: whole("steps", MAX_STEPS as u64)?,
            batch_size: whole("batch_size", 65_536)?,
            optimizer,
            lr: number("lr", 1e6)?,
            min_lr: number("min_lr", 1e6)?,
            warmup: whole("warmup", MAX_STEPS as u64)?,
            weight_decay: number("weight_decay", 1e6)?,
            clip,
            dropout: number("dropout", 0.9)?,
            eval_every: whole("eval_every", MAX_STEPS as u64)?,
            eval_examples: whole("eval_examples", MAX_EVAL_EXAMPLES as u64)?,
            seed: value["seed"]
                .as_u64()
                .ok_or("`seed` is not a whole number")?,
        };
        let counts = [
            training.steps,
            training.batch_size,
            training.eval_every,
            training.eval_examples,
        ];
        if counts.contains(&0) {
            return Err(
                "`steps`, `batch_size`, `eval_every` and `eval_examples` must be at least 1".into(),
            );
        }
        if training.min_lr > training.lr || training.lr == 0.0 {
            return Err(format!(
                "`lr` {} is 0 or below `min_lr` {}",
                training.lr, training.min_lr
            ));
        }
        Ok(training)
    }
}

/// The most steps a run may take.
pub const MAX_STEPS: usize = 10_000_000;

/// The most examples an evaluation may read from each split.
pub const MAX_EVAL_EXAMPLES: usize = 10_000_000;

/// Part `k` of step `s`'s batch (of `n` parts) draws its dropout masks from stream
/// `DROPOUT_STREAMS + s * n + k` of the run's seed (streams 1 and 2 draw the batches and the
/// samples).
const DROPOUT_STREAMS: u64 = 1 << 32;

/// A GPT's batch is cut into this many parts, each taken forward and backward on its own (side
/// by side when there are two threads) and their gradients added in order: a fixed number, so
/// a run gives the same bits on any number of threads. The other models keep their batch
/// whole: batch norm's statistics are the whole batch's, and their products are too small to
/// be worth sharing.
const GPT_PARTS: usize = 2;

/// Where a run stands after a step: with the model's state, enough to go on from it bit for
/// bit (a checkpoint).
#[derive(Debug, Clone, Default)]
pub struct LmProgress {
    /// Steps taken.
    pub step: usize,
    /// How far the batch drawer has read its random stream ([`Rng::position`]).
    pub rng_position: u128,
    /// The update rule of the matrices and embeddings (with weight decay), then of the rest.
    pub optimizers: [OptimizerState<f32>; 2],
}

/// What a run reports as it goes.
pub trait LmObserver {
    /// After each step: its batch's loss and the learning rate it used.
    fn on_step(&mut self, _step: usize, _loss: f64, _lr: f64) {}
    /// After an evaluation: the loss on (a fixed part of) the training and test examples.
    fn on_eval(&mut self, _step: usize, _train_loss: f64, _test_loss: f64) {}
    /// After each evaluation: the model and where the run stands, to keep as a checkpoint.
    fn on_checkpoint(&mut self, _model: &LanguageModel, _progress: &LmProgress) {}
    /// Whether to stop after the current step.
    fn should_stop(&self) -> bool {
        false
    }
}

/// An observer that wants nothing.
impl LmObserver for () {}

/// The learning rate at `step` (from 0): linear warm-up over `warmup` steps, then a cosine
/// from `lr` down to `min_lr` at `steps` (nanoGPT's `get_lr`).
///
/// ```
/// use scratchgrad::lm::warmup_cosine;
/// assert_eq!(warmup_cosine(0, 1.0, 0.1, 10, 110), 0.1);
/// assert_eq!(warmup_cosine(9, 1.0, 0.1, 10, 110), 1.0);
/// assert!((warmup_cosine(60, 1.0, 0.1, 10, 110) - 0.55).abs() < 1e-12);
/// assert!((warmup_cosine(110, 1.0, 0.1, 10, 110) - 0.1).abs() < 1e-12);
/// ```
pub fn warmup_cosine(step: usize, lr: f64, min_lr: f64, warmup: usize, steps: usize) -> f64 {
    if step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    cosine_lr(lr, min_lr, step - warmup, steps.saturating_sub(warmup))
}

/// The most numbers an evaluation chunk of a context model may keep along the way (2^26,
/// 256 MiB of f32): wide models are evaluated a few contexts at a time.
const EVAL_VALUES: usize = 1 << 26;

/// The mean cross-entropy (nats per character) over at most `most` of `examples`, evenly
/// spaced, in evaluation mode.
pub fn mean_loss(model: &mut LanguageModel, examples: &Examples, most: usize) -> f64 {
    let every = model.arch().predicts_every_position();
    // A GPT's window predicts every one of its positions: windows that do not overlap read
    // each held-out character once (a line's window is the line).
    let per_window = if every && !examples.whole_lines() {
        model.arch().context()
    } else {
        1
    };
    let count = (examples.len() / per_window)
        .max(1)
        .min(examples.len())
        .min(most.max(1));
    let chosen: Vec<usize> = (0..count).map(|i| i * examples.len() / count).collect();
    model.set_training(false);
    // The mean over every character predicted, however the chunks fall.
    let (mut sum, mut characters) = (0.0, 0);
    // No graph is kept (each output is dropped as soon as the next is made), a GPT reads at
    // most 1,024 positions at a time, and the other models at most 4,096 contexts and at most
    // EVAL_VALUES numbers along the way: evaluating never needs more memory than a step.
    let windows = if every {
        (1024 / model.arch().context()).max(1)
    } else {
        let per_example = model.arch().values_per_example(model.vocabulary()).max(1);
        (EVAL_VALUES / per_example).clamp(1, 4096)
    };
    for chunk in chosen.chunks(windows) {
        let (contexts, targets) = examples.for_model(chunk, every);
        let counted = targets.iter().filter(|&&t| t != IGNORED).count();
        let loss = no_grad(|| {
            cross_entropy_ignoring(&model.forward(&contexts, chunk.len()), &targets, IGNORED)
        });
        sum += loss.item() as f64 * counted as f64;
        characters += counted;
    }
    model.set_training(true);
    sum / characters.max(1) as f64
}

/// The update rules of a run: one for the matrices and embeddings (with weight decay), one for
/// the rest (biases, batch norm's scale and shift).
struct Updates {
    decayed: Box<dyn Optimizer<f32>>,
    plain: Box<dyn Optimizer<f32>>,
}

impl Updates {
    fn new(training: &LmTraining) -> Self {
        let make = |decay: f64| -> Box<dyn Optimizer<f32>> {
            match training.optimizer {
                LmOptimizer::Sgd => Box::new(Sgd::new(training.lr).weight_decay(decay)),
                LmOptimizer::AdamW => Box::new(
                    Adam::new(training.lr)
                        .betas(0.9, 0.99)
                        .decoupled_weight_decay(decay),
                ),
            }
        };
        Updates {
            decayed: make(training.weight_decay),
            plain: make(0.0),
        }
    }

    /// What both update rules remember.
    fn state(&self) -> [OptimizerState<f32>; 2] {
        [self.decayed.state(), self.plain.state()]
    }

    /// Restores [`Updates::state`] for `parameters`.
    fn load_state(
        &mut self,
        [decayed, plain]: [OptimizerState<f32>; 2],
        parameters: &[Tensor<f32>],
    ) -> Result<(), String> {
        let (matrices, rest): (Vec<Vec<usize>>, Vec<Vec<usize>>) = (
            parameters
                .iter()
                .map(|p| p.shape())
                .filter(|s| s.len() >= 2)
                .collect(),
            parameters
                .iter()
                .map(|p| p.shape())
                .filter(|s| s.len() < 2)
                .collect(),
        );
        self.decayed.load_state(decayed, &matrices)?;
        self.plain.load_state(plain, &rest)
    }

    /// One step: every parameter moves by its gradient (`grads`, in the same order) scaled
    /// by `scale` (clipping).
    fn step(
        &mut self,
        parameters: &[Tensor<f32>],
        grads: Vec<Option<Array<f32>>>,
        lr: f64,
        scale: f32,
    ) {
        self.decayed.set_lr(lr);
        self.plain.set_lr(lr);
        self.decayed.begin_step();
        self.plain.begin_step();
        let (mut decayed_slot, mut plain_slot) = (0, 0);
        for (p, grad) in parameters.iter().zip(grads) {
            let Some(grad) = grad else { continue };
            let (rule, slot) = if p.data().ndim() >= 2 {
                (&mut self.decayed, &mut decayed_slot)
            } else {
                (&mut self.plain, &mut plain_slot)
            };
            p.update_data(|value| rule.update_scaled(*slot, value, &grad, scale));
            *slot += 1;
        }
    }
}

/// The factor that brings the gradient's whole norm down to `clip` (1 when it is within it),
/// as `torch.nn.utils.clip_grad_norm_`: clip / (norm + 1e-6).
fn clip_scale(grads: &[Option<Array<f32>>], clip: Option<f64>) -> f32 {
    let Some(clip) = clip else { return 1.0 };
    let squares: f64 = grads.iter().flatten().map(Array::sum_of_squares).sum();
    let norm = squares.sqrt();
    if norm > clip {
        (clip / (norm + 1e-6)) as f32
    } else {
        1.0
    }
}

/// The loss of one step's batch (the examples `chosen` of `train`) and the gradient of each
/// of `parameters` (the model's, in order). A GPT's batch is cut into [`GPT_PARTS`] parts,
/// each on a replica of the model, and the whole batch's mean is each part's mean weighted by
/// its share of the characters that count.
fn loss_and_gradients(
    model: &LanguageModel,
    parameters: &[Tensor<f32>],
    train: &Examples,
    chosen: &[usize],
    step: usize,
    seed: u64,
) -> (f64, Vec<Option<Array<f32>>>) {
    let every = model.arch().predicts_every_position();
    let replicas: Vec<Mutex<LanguageModel>> = if every {
        (0..GPT_PARTS.min(chosen.len()))
            .filter_map(|_| model.replica().map(Mutex::new))
            .collect()
    } else {
        Vec::new()
    };
    let parts = replicas.len().max(1);
    // Each part's dropout masks from a stream of their own: the same on any thread count, and
    // after a resume.
    let dropout = |k: usize| Rng::stream(seed, DROPOUT_STREAMS + (step * parts + k) as u64);
    // The mean loss of `examples` on `model`, its gradients left in `own` (model's parameters).
    let part_loss = |model: &LanguageModel, own: &[Tensor<f32>], examples: &[usize], k: usize| {
        model.reseed_dropout(dropout(k));
        let (contexts, targets) = train.for_model(examples, every);
        let counted = targets.iter().filter(|&&t| t != IGNORED).count();
        let loss =
            cross_entropy_ignoring(&model.forward(&contexts, examples.len()), &targets, IGNORED);
        for p in own {
            p.zero_grad();
        }
        loss.backward();
        let grads: Vec<Option<Array<f32>>> = own.iter().map(Tensor::take_grad).collect();
        (loss.item() as f64, counted, grads)
    };
    if parts == 1 {
        let (loss, _, grads) = part_loss(model, parameters, chosen, 0);
        return (loss, grads);
    }
    let results = run_tasks(parts, |k| {
        let replica = replicas[k].lock().unwrap_or_else(PoisonError::into_inner);
        let own = replica.parameter_tensors();
        let examples = &chosen[k * chosen.len() / parts..(k + 1) * chosen.len() / parts];
        part_loss(&replica, &own, examples, k)
    });
    let total: usize = results.iter().map(|(_, counted, _)| counted).sum();
    let mut loss = 0.0;
    // Each parameter's weighted sum so far, and the share its array is still to be scaled by
    // (1 once applied: the first part's is applied in the same pass that adds the second's).
    let mut sum: Vec<Option<(Array<f32>, f32)>> = vec![None; parameters.len()];
    for (part_loss, counted, grads) in results {
        if counted == 0 {
            continue;
        }
        // d(whole mean) = sum over parts of (part's share of the characters) * d(part's mean)
        let share = counted as f64 / total as f64;
        loss += part_loss * share;
        for (sum, grad) in sum.iter_mut().zip(grads) {
            let Some(grad) = grad else { continue };
            match sum {
                Some((sum, pending_share)) => {
                    sum.scaled_add_assign(*pending_share, &grad, share as f32);
                    *pending_share = 1.0;
                }
                None => *sum = Some((grad, share as f32)),
            }
        }
    }
    let sum = sum.into_iter().map(|sum| {
        sum.map(|(mut sum, pending_share)| {
            if pending_share != 1.0 {
                sum.scale_assign(pending_share);
            }
            sum
        })
    });
    (loss, sum.collect())
}

/// Trains `model` on `train` for `training.steps` steps (fewer if the observer stops it),
/// evaluating on `train` and `test` every `eval_every` steps and after the last. Returns the
/// steps done and the last evaluation's (train, test) losses. A loss that is not finite
/// stops the run with an error naming the step. With `start` (a checkpoint of this model), it
/// goes on from there, and ends with the same bytes as a run that never stopped.
pub fn train_lm(
    model: &mut LanguageModel,
    train: &Examples,
    test: &Examples,
    training: &LmTraining,
    observer: &mut dyn LmObserver,
    start: Option<LmProgress>,
) -> Result<(usize, f64, f64), String> {
    // Each step's arrays reuse the buffers of the step before.
    let _keeping = KeepingBuffers::new();
    let parameters = model.parameter_tensors();
    let mut updates = Updates::new(training);
    let (first, mut rng) = match start {
        Some(progress) => {
            updates
                .load_state(progress.optimizers, &parameters)
                .map_err(|e| format!("cannot resume: the checkpoint {e}"))?;
            (
                progress.step,
                Rng::stream_at(training.seed, 1, progress.rng_position),
            )
        }
        None => (0, Rng::stream(training.seed, 1)),
    };
    model.set_dropout(training.dropout);
    model.set_training(true);
    let evaluate = |model: &mut LanguageModel, observer: &mut dyn LmObserver, step: usize| {
        // Evaluation's sizes are not a step's: it takes nothing from the step's kept buffers
        // and adds nothing to them.
        let (train_loss, test_loss) = without_keeping(|| {
            let train_loss = mean_loss(model, train, training.eval_examples);
            (train_loss, mean_loss(model, test, training.eval_examples))
        });
        observer.on_eval(step, train_loss, test_loss);
        (train_loss, test_loss)
    };
    let checkpoint = |step: usize, rng: &Rng, updates: &Updates| LmProgress {
        step,
        rng_position: rng.position(),
        optimizers: updates.state(),
    };
    let mut last = (f64::NAN, f64::NAN);
    let mut evaluated = None;
    let mut done = first;
    for step in first..training.steps {
        let chosen: Vec<usize> = (0..training.batch_size)
            .map(|_| rng.below(train.len()))
            .collect();
        let (value, grads) =
            loss_and_gradients(model, &parameters, train, &chosen, step, training.seed);
        if !value.is_finite() {
            return Err(format!(
                "the loss became {value} at step {}: lower the learning rate (it was {})",
                step + 1,
                training.lr
            ));
        }
        let lr = warmup_cosine(
            step,
            training.lr,
            training.min_lr,
            training.warmup,
            training.steps,
        );
        let scale = clip_scale(&grads, training.clip);
        updates.step(&parameters, grads, lr, scale);
        done = step + 1;
        observer.on_step(done, value, lr);
        if done % training.eval_every.max(1) == 0 || done == training.steps {
            last = evaluate(model, observer, done);
            observer.on_checkpoint(model, &checkpoint(done, &rng, &updates));
            evaluated = Some(done);
        }
        if observer.should_stop() {
            break;
        }
    }
    // Stopped between evaluations (or resumed with nothing left to do): evaluate where it
    // stands.
    if evaluated != Some(done) {
        last = evaluate(model, observer, done);
        observer.on_checkpoint(model, &checkpoint(done, &rng, &updates));
    }
    Ok((done, last.0, last.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Corpus, Vocabulary};
    use crate::lm::{BigramTable, LmArch};

    /// The names-mini examples of a model reading `context` characters, split as makemore.
    fn names_mini(context: usize) -> (Examples, Examples, Vocabulary, Vec<String>) {
        let text = Corpus::NamesMini
            .load(None, &mut |_| {}, &|| false)
            .unwrap();
        let (train, test) = Corpus::NamesMini.split(&text, 42).unwrap();
        let all: Vec<String> = train.iter().chain(&test).cloned().collect();
        let vocabulary = Vocabulary::of(&all, Corpus::NamesMini.kind()).unwrap();
        let kind = Corpus::NamesMini.kind();
        (
            Examples::of(&train, kind, &vocabulary, context).unwrap(),
            Examples::of(&test, kind, &vocabulary, context).unwrap(),
            vocabulary,
            train,
        )
    }

    #[test]
    fn a_trained_bigram_comes_close_to_the_count_table() {
        let (train, test, vocabulary, train_names) = names_mini(1);
        let mut model =
            LanguageModel::new(LmArch::Bigram, vocabulary.len(), &mut Rng::seed(1)).unwrap();
        let training = LmTraining {
            steps: 400,
            batch_size: 256,
            optimizer: LmOptimizer::AdamW,
            lr: 0.1,
            min_lr: 0.01,
            warmup: 10,
            weight_decay: 0.01,
            clip: Some(1.0),
            dropout: 0.0,
            eval_every: 100,
            eval_examples: 100_000,
            seed: 3,
        };
        let (steps, train_loss, _) =
            train_lm(&mut model, &train, &test, &training, &mut (), None).unwrap();
        assert_eq!(steps, 400);
        // The count table's loss on the same training names is the best a bigram can do on
        // them (the maximum-likelihood table, without smoothing).
        let framed: Vec<Vec<usize>> = train_names
            .iter()
            .map(|n| vocabulary.framed(n).unwrap())
            .collect();
        let table = BigramTable::count(vocabulary.len(), &framed);
        let best = crate::lm::bigram::mean_nll(&table.probabilities(0.0), table.size(), &framed);
        assert!(
            train_loss >= best - 1e-6,
            "{train_loss} below the optimum {best}"
        );
        assert!(
            train_loss < best + 0.03,
            "{train_loss} is far from the optimum {best}"
        );
    }

    #[test]
    fn clipping_scales_the_whole_gradient_down_to_its_largest_norm() {
        let a = Tensor::parameter_from(vec![1.0f32, 2.0], &[2]);
        let b = Tensor::parameter_from(vec![2.0f32], &[1]);
        // d/da (3a1 + 4a2) = (3, 4); d/db 12b = 12: the whole gradient's norm is 13.
        let loss = &(&a * &Tensor::from_vec(vec![3.0, 4.0], &[2])).sum_all()
            + &b.mul_scalar(12.0).sum_all();
        loss.backward();
        let both = [a.grad(), b.grad()];
        assert!((clip_scale(&both, Some(6.5)) - 0.5).abs() < 1e-6);
        assert_eq!(clip_scale(&both, Some(13.5)), 1.0);
        assert_eq!(clip_scale(&both, None), 1.0);
    }

    /// Keeps the checkpoint of one step, as a run folder would.
    struct KeepAt {
        step: usize,
        kept: Option<(crate::lm::NamedArrays, crate::lm::NamedCounts, LmProgress)>,
    }

    impl LmObserver for KeepAt {
        fn on_checkpoint(&mut self, model: &LanguageModel, progress: &LmProgress) {
            if progress.step == self.step {
                let (state, counts) = model.state();
                self.kept = Some((state, counts, progress.clone()));
            }
        }
    }

    #[test]
    fn a_run_resumed_from_a_checkpoint_ends_with_the_same_bytes() {
        let (train, test, vocabulary, _) = names_mini(3);
        let training = LmTraining {
            steps: 40,
            batch_size: 16,
            optimizer: LmOptimizer::AdamW,
            lr: 0.01,
            min_lr: 0.001,
            warmup: 5,
            weight_decay: 0.1,
            clip: Some(1.0),
            dropout: 0.0,
            eval_every: 15,
            eval_examples: 200,
            seed: 4,
        };
        let arch = LmArch::LECTURE_MLP;
        let mut straight = LanguageModel::new(arch, vocabulary.len(), &mut Rng::seed(5)).unwrap();
        let mut keep = KeepAt {
            step: 30,
            kept: None,
        };
        train_lm(&mut straight, &train, &test, &training, &mut keep, None).unwrap();
        let (state, counts, progress) = keep.kept.unwrap();
        assert_eq!(progress.optimizers[0].steps, 30);
        let resume = |progress: LmProgress| {
            let mut model =
                LanguageModel::from_arrays(arch, vocabulary.len(), state.clone(), &counts).unwrap();
            let done = train_lm(
                &mut model,
                &train,
                &test,
                &training,
                &mut (),
                Some(progress),
            );
            assert_eq!(done.unwrap().0, 40);
            model.state()
        };
        assert_eq!(resume(progress.clone()), straight.state());
        // Without the optimizer's moments, or drawing other batches, the same ten steps end
        // elsewhere.
        let forgetful = LmProgress {
            optimizers: Default::default(),
            ..progress.clone()
        };
        assert_ne!(resume(forgetful), straight.state());
        let replaying = LmProgress {
            rng_position: 0,
            ..progress
        };
        assert_ne!(resume(replaying), straight.state());
    }

    #[test]
    fn a_batch_cut_in_parts_gives_the_whole_batchs_loss_and_gradients() {
        // Names of different lengths, each a window with ignored targets after its end: the
        // parts count different numbers of characters, so a plain mean of their means would
        // be wrong.
        let (_, _, vocabulary, names) = names_mini(3);
        let train = Examples::lines(&names, &vocabulary, 16).unwrap();
        let arch = LmArch::Gpt {
            context: 16,
            embedding: 16,
            heads: 2,
            blocks: 2,
        };
        let model = LanguageModel::new(arch, vocabulary.len(), &mut Rng::seed(3)).unwrap();
        let parameters = model.parameter_tensors();
        let chosen = [0, 5, 17, 30, 31, 44, 60];
        let (loss, grads) = loss_and_gradients(&model, &parameters, &train, &chosen, 0, 1);
        // The whole batch at once, on the model itself.
        let (contexts, targets) = train.for_model(&chosen, true);
        let whole =
            cross_entropy_ignoring(&model.forward(&contexts, chosen.len()), &targets, IGNORED);
        whole.backward();
        assert!((loss - whole.item() as f64).abs() < 1e-6, "{loss}");
        for (p, grad) in parameters.iter().zip(&grads) {
            let (expected, got) = (p.grad().unwrap(), grad.as_ref().unwrap());
            for (&e, &g) in expected.data().iter().zip(got.data()) {
                assert!((e - g).abs() <= 1e-6 + 1e-4 * e.abs(), "{e} vs {g}");
            }
        }
    }

    #[test]
    fn dropout_is_seeded_per_step_so_a_resumed_gpt_drops_the_same_values() {
        let (train, test, vocabulary, _) = names_mini(3);
        let training = LmTraining {
            steps: 20,
            batch_size: 8,
            optimizer: LmOptimizer::AdamW,
            lr: 0.01,
            min_lr: 0.001,
            warmup: 0,
            weight_decay: 0.1,
            clip: Some(1.0),
            dropout: 0.3,
            eval_every: 10,
            eval_examples: 50,
            seed: 8,
        };
        let arch = LmArch::Gpt {
            context: 3,
            embedding: 8,
            heads: 2,
            blocks: 1,
        };
        let run = |training: &LmTraining, keep: &mut KeepAt| {
            let mut model = LanguageModel::new(arch, vocabulary.len(), &mut Rng::seed(1)).unwrap();
            train_lm(&mut model, &train, &test, training, keep, None).unwrap();
            model.state()
        };
        let mut keep = KeepAt {
            step: 10,
            kept: None,
        };
        let dropped = run(&training, &mut keep);
        let (state, counts, progress) = keep.kept.unwrap();
        let mut resumed =
            LanguageModel::from_arrays(arch, vocabulary.len(), state, &counts).unwrap();
        train_lm(
            &mut resumed,
            &train,
            &test,
            &training,
            &mut (),
            Some(progress),
        )
        .unwrap();
        assert_eq!(resumed.state(), dropped);
        let none = LmTraining {
            dropout: 0.0,
            ..training
        };
        let mut ignore = KeepAt {
            step: 0,
            kept: None,
        };
        assert_ne!(run(&none, &mut ignore), dropped);
    }

    #[test]
    fn same_seed_same_weights() {
        let (train, test, vocabulary, _) = names_mini(3);
        let training = LmTraining {
            steps: 30,
            batch_size: 32,
            optimizer: LmOptimizer::Sgd,
            lr: 0.1,
            min_lr: 0.1,
            warmup: 0,
            weight_decay: 0.0,
            clip: None,
            dropout: 0.0,
            eval_every: 1000,
            eval_examples: 500,
            seed: 9,
        };
        let run = |training: &LmTraining| {
            let mut model =
                LanguageModel::new(LmArch::LECTURE_MLP, vocabulary.len(), &mut Rng::seed(5))
                    .unwrap();
            train_lm(&mut model, &train, &test, training, &mut (), None).unwrap();
            model.state()
        };
        assert_eq!(run(&training), run(&training));
        assert_ne!(
            run(&training).0,
            run(&LmTraining {
                seed: 10,
                ..training.clone()
            })
            .0
        );
    }
}
