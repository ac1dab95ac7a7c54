//! Language models over characters, the ladder of makemore's lectures: a bigram model as a
//! table of counts and as a trained table, then Bengio et al.'s MLP; their examples (a context
//! and the next character), training (AdamW or SGD, clipping, warm-up then cosine) and drawing
//! text from a model's next-character scores.

pub mod arch;
pub mod bigram;
pub mod examples;
pub mod model;
pub mod sample;
pub mod train;

pub use arch::LmArch;
pub use bigram::BigramTable;
pub use examples::Examples;
pub use model::LanguageModel;
pub use sample::{next_token, SamplingError};
pub use train::{mean_loss, train_lm, warmup_cosine, LmObserver, LmOptimizer, LmTraining};
