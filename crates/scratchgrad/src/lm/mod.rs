//! Language models over characters, the ladder of makemore's lectures: a bigram model as a
//! table of counts and as a trained table, then Bengio et al.'s MLP, makemore's WaveNet-style tree, a GPT, and models written as a
//! list of layers; their examples (a context
//! and the next character), training (AdamW or SGD, clipping, warm-up then cosine), their
//! files and run folders, and writing new text with them.

pub mod arch;
pub mod bigram;
pub mod checkpoint;
pub mod examples;
pub mod file;
pub mod generate;
pub mod layers;
pub mod model;
pub mod run;
pub mod sample;
pub mod train;

pub use arch::LmArch;
pub use bigram::BigramTable;
pub use checkpoint::LmCheckpoint;
pub use examples::Examples;
pub use file::LmFile;
pub use generate::{generate, generate_each, start_tokens, Generation};
pub use layers::{LayerList, LmLayer, Step, LM_LAYER_GRAMMAR};
pub use model::{flatten_consecutive, LanguageModel, NamedArrays, NamedCounts};
pub use run::{LmConfig, LmFinished, LmResumeError, LmRun};
pub use sample::{next_token, SamplingError};
pub use train::{
    mean_loss, train_lm, warmup_cosine, LmObserver, LmOptimizer, LmProgress, LmTraining,
};
