//! A language model's training steps reuse their large arrays' memory: after the first step,
//! a step asks the allocator for a small part of the bytes the first one did. Counted by a
//! global allocator in this test binary, which holds this one test only (so nothing else
//! allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use scratchgrad::array::{set_num_threads, Rng};
use scratchgrad::data::{Corpus, Vocabulary};
use scratchgrad::lm::train::{train_lm, LmObserver, LmOptimizer, LmTraining};
use scratchgrad::lm::{Examples, LanguageModel, LmArch};

/// The system allocator, counting the bytes asked for.
struct Counting;

static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed on to `System` unchanged; the counter only adds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: the caller's promises about `layout` hold for `System` too.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: as for `dealloc`, and the caller's promises about `new_size` hold.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counter at the end of each step.
struct AtEachStep(Vec<u64>);

impl LmObserver for AtEachStep {
    fn on_step(&mut self, _step: usize, _loss: f64, _lr: f64) {
        self.0.push(BYTES.load(Relaxed));
    }
}

#[test]
fn a_gpt_step_after_the_first_asks_for_a_small_part_of_its_bytes() {
    let corpus = Corpus::ShakespeareMini;
    let text = corpus.load(None, &mut |_| {}, &|| false).expect("built in");
    let (train, test) = corpus.split(&text, 42).expect("built in");
    let all: Vec<String> = train.iter().chain(&test).cloned().collect();
    let vocabulary = Vocabulary::of(&all, corpus.kind()).expect("built in");
    let arch = LmArch::Gpt {
        context: 16,
        embedding: 32,
        heads: 2,
        blocks: 2,
    };
    let examples = |texts: &[String]| {
        Examples::for_arch(texts, corpus.kind(), &vocabulary, arch).expect("built in")
    };
    let (train, test) = (examples(&train), examples(&test));
    let training = LmTraining {
        steps: 6,
        batch_size: 8,
        optimizer: LmOptimizer::AdamW,
        lr: 1e-3,
        min_lr: 1e-4,
        warmup: 2,
        weight_decay: 0.1,
        clip: Some(1.0),
        dropout: 0.0,
        eval_every: 6, // after the last step, not counted
        eval_examples: 10,
        seed: 0,
    };
    set_num_threads(1);
    let mut model = LanguageModel::new(arch, vocabulary.len(), &mut Rng::seed(0)).unwrap();
    let before = BYTES.load(Relaxed);
    let mut seen = AtEachStep(Vec::with_capacity(training.steps));
    train_lm(&mut model, &train, &test, &training, &mut seen, None).unwrap();
    let first = seen.0[0] - before;
    for (step, w) in seen.0.windows(2).enumerate().skip(1) {
        let bytes = w[1] - w[0];
        // Measured: 0.17 of the first step's bytes with reuse (its small arrays and the
        // graph's bookkeeping); 0.63 with `train_lm`'s `KeepingBuffers` taken out (the first
        // step also makes the optimizer's state).
        assert!(
            bytes * 4 < first,
            "step {}: {bytes} bytes asked for, against {first} in the first step",
            step + 2
        );
    }
}
