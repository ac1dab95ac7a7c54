//! How much memory each training step asks the allocator for, after the first steps: a global
//! allocator that counts every allocation, read at each step's end. Issues 24 and 25 ask for
//! none; this measures where that stands for the Shakespeare GPT (nanoGPT's CPU
//! configuration: 4 blocks, 4 heads, 128 numbers, context 64, batch 12, AdamW) and for the
//! MNIST networks `train` runs by default (`mlp`: 784-256-10 sigmoid, SGD; `cnn`: Adam; batch
//! 64, the batch's array included). The data are the built-in `shakespeare-mini` and
//! `mnist-mini`: the counts depend on the model and the batch, and the bytes a little on the
//! text too (its 59 characters against tiny Shakespeare's 65 size the GPT's last layer).
//!
//! Run: `cargo bench -p scratchgrad --bench allocations`

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use scratchgrad::array::{set_num_threads, Rng};
use scratchgrad::data::{Corpus, Dataset, DatasetName, Split};
use scratchgrad::lm::train::{train_lm, LmObserver, LmOptimizer, LmTraining};
use scratchgrad::lm::{Examples, LanguageModel, LmArch};
use scratchgrad::train::{Engine, Model, Preset};

/// The system allocator, counting calls and bytes.
struct Counting;

static CALLS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to `System` unchanged; the counters only add.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller's promises about `layout` hold for `System` too.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: as for `dealloc`, and the caller's promises about `new_size` hold.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counters at the end of each step (before any evaluation that follows it).
struct AtEachStep(Vec<(u64, u64)>);

impl LmObserver for AtEachStep {
    fn on_step(&mut self, _step: usize, _loss: f64, _lr: f64) {
        self.0.push((CALLS.load(Relaxed), BYTES.load(Relaxed)));
    }
}

const STEPS: usize = 30;

/// The counters at the end of each of the Shakespeare GPT's steps, on the current threads.
fn gpt_readings() -> Vec<(u64, u64)> {
    let corpus = Corpus::ShakespeareMini;
    let text = corpus.load(None, &mut |_| {}, &|| false).expect("built in");
    let arch = LmArch::Gpt {
        context: 64,
        embedding: 128,
        heads: 4,
        blocks: 4,
    };
    let (vocabulary, train, test) = Examples::of_corpus(corpus, &text, 42, arch).expect("built in");
    let training = LmTraining {
        steps: STEPS,
        batch_size: 12,
        optimizer: LmOptimizer::AdamW,
        lr: 1e-3,
        min_lr: 1e-4,
        warmup: 3,
        weight_decay: 0.1,
        clip: Some(1.0),
        dropout: 0.0,
        // one evaluation, after the last step (not counted: it comes after the last reading)
        eval_every: STEPS,
        eval_examples: 10,
        seed: 0,
    };
    let mut model = LanguageModel::new(arch, vocabulary.len(), &mut Rng::seed(0)).unwrap();
    // Room for every reading, so that keeping them allocates nothing while counting.
    let mut seen = AtEachStep(Vec::with_capacity(STEPS));
    train_lm(&mut model, &train, &test, &training, &mut seen, None).unwrap();
    seen.0
}

/// The counters at the end of each of an MNIST network's steps (`train`'s defaults for
/// `preset`: its optimizer and learning rate, batch 64), on the current threads.
fn mnist_readings(preset: Preset, images: &Dataset) -> Vec<(u64, u64)> {
    let arch = preset.arch(DatasetName::MnistMini, None, None);
    let defaults = preset.defaults();
    let mut model = Model::fresh(&arch, Engine::Autograd, 0);
    let mut optimizer = defaults.optimizer.build(defaults.lr);
    let batch = 64;
    let mut seen = Vec::with_capacity(STEPS);
    for step in 0..STEPS {
        let chosen: Vec<usize> = (step * batch..(step + 1) * batch)
            .map(|i| i % images.len())
            .collect();
        let (x, labels) = images.batch(&chosen);
        model.train_step(x, &labels, optimizer.as_mut(), step as u64);
        seen.push((CALLS.load(Relaxed), BYTES.load(Relaxed)));
    }
    seen
}

/// Prints the allocations and bytes of each step after the first two, from the counters'
/// `readings` at each step's end.
fn report(what: &str, threads: usize, readings: &[(u64, u64)]) {
    let per_step: Vec<(u64, u64)> = readings[1..]
        .windows(2)
        .map(|w| (w[1].0 - w[0].0, w[1].1 - w[0].1))
        .collect();
    let mut calls: Vec<u64> = per_step.iter().map(|p| p.0).collect();
    let mut bytes: Vec<u64> = per_step.iter().map(|p| p.1).collect();
    calls.sort_unstable();
    bytes.sort_unstable();
    println!(
        "{what}, {threads} thread(s): per step after the first two, allocations {} to {} \
         (median {}), bytes {:.1} to {:.1} MB (median {:.1} MB), over {} steps",
        calls[0],
        calls[calls.len() - 1],
        calls[calls.len() / 2],
        bytes[0] as f64 / 1e6,
        bytes[bytes.len() - 1] as f64 / 1e6,
        bytes[bytes.len() / 2] as f64 / 1e6,
        per_step.len()
    );
}

fn main() {
    let images =
        Dataset::load(DatasetName::MnistMini, Split::Train, Path::new(".")).expect("built in");
    for threads in [1, 2] {
        set_num_threads(threads);
        report("Shakespeare GPT", threads, &gpt_readings());
        report("mlp", threads, &mnist_readings(Preset::Mlp, &images));
        report("cnn", threads, &mnist_readings(Preset::Cnn, &images));
    }
}
