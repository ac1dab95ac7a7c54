//! Language models over characters, from the first one the lectures build: a bigram model as
//! a table of counts, and drawing text from any model's next-character scores.

pub mod bigram;
pub mod sample;

pub use bigram::BigramTable;
pub use sample::{next_token, SamplingError};
