//! Language models from the command line: `scratchgrad sample`, and `eval` of a language
//! model (its held-out loss).

use std::path::{Path, PathBuf};

use clap::Args;
use scratchgrad::array::Rng;
use scratchgrad::lm::{generate, generate_each, mean_loss, Examples, Generation, LmFile};
use scratchgrad::text::{elide, for_terminal};

use super::data;
use crate::output::{out, outln, stdout_closed};
use crate::Failure;

/// Write new text with a language model: names, or a continuation in Shakespeare's style
#[derive(Args)]
pub struct SampleArgs {
    /// A run folder of `scratchgrad train --dataset names|shakespeare`, or its model.safetensors
    #[arg(value_name = "RUN_OR_MODEL")]
    model: PathBuf,
    /// How many names (or passages) to write
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    n: usize,
    /// Above 0: 1 draws from the model as it is, lower is more cautious, higher wilder
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    temperature: f64,
    /// Draw only among the K likeliest next characters
    #[arg(long, value_name = "K", allow_negative_numbers = true)]
    top_k: Option<usize>,
    /// Text to start from (a name's first letters, or lines to continue); a model reads at
    /// most its context's length of it, the last characters, as it does while writing
    #[arg(long, default_value = "")]
    prompt: String,
    /// Characters to add to each passage (a name ends by itself, at most 100 long)
    #[arg(long, default_value_t = 500, allow_negative_numbers = true)]
    length: usize,
    /// Seed of the draws: the same seed gives the same text
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    seed: u64,
}

/// The most samples or characters one command writes.
const MOST: usize = 100_000;

/// The model file of a run folder, or the file given.
pub(super) fn model_path(given: &Path) -> PathBuf {
    if given.is_dir() {
        given.join("model.safetensors")
    } else {
        given.to_path_buf()
    }
}

/// Runs `scratchgrad sample`.
pub fn sample(args: SampleArgs) -> Result<(), Failure> {
    if !(1..=MOST).contains(&args.n) {
        return Err(Failure::new(format!(
            "--n: must be 1 to {MOST}, not {}",
            args.n
        )));
    }
    if !(1..=MOST).contains(&args.length) {
        return Err(Failure::new(format!(
            "--length: must be 1 to {MOST}, not {}",
            args.length
        )));
    }
    if args.prompt.chars().count() > MOST {
        return Err(Failure::new(format!("--prompt: at most {MOST} characters")));
    }
    if !(args.temperature.is_finite() && args.temperature > 0.0) {
        return Err(Failure::new(format!(
            "--temperature: must be a number above 0 (1 draws from the model as it is, lower is more cautious), not {}",
            args.temperature
        )));
    }
    if args.top_k == Some(0) {
        return Err(Failure::new("--top-k: must keep at least 1 character"));
    }
    let path = model_path(&args.model);
    let file = LmFile::load(&path).map_err(|e| Failure::new(e.to_string()))?;
    let mut model = file.model();
    let lines = file.vocabulary.has_boundary();
    let how = Generation {
        temperature: args.temperature,
        top_k: args.top_k,
        max_chars: if lines {
            args.length.min(100)
        } else {
            args.length
        },
    };
    let mut rng = Rng::seed(args.seed);
    let failed = |e: String| {
        let shown = if e.starts_with("the prompt") {
            format!("--prompt: {e}")
        } else {
            format!("{} {e}", path.display())
        };
        Failure::new(for_terminal(&elide(&shown, 300)))
    };
    // Once the reader has gone (`sample ... | head`), nothing more is drawn.
    for i in 0..args.n {
        if stdout_closed() {
            break;
        }
        if lines {
            let name = generate(&mut model, &file.vocabulary, &args.prompt, &how, &mut rng)
                .map_err(failed)?;
            outln!("{}", for_terminal(&name));
            continue;
        }
        // A passage is shown as it is written, its prompt before its first character (a
        // passage adds at least one: --length is 1 or more); one cut short by an error still
        // ends its line.
        let mut started = false;
        let written = generate_each(
            &mut model,
            &file.vocabulary,
            &args.prompt,
            &how,
            &mut rng,
            &mut |c| {
                if !started {
                    if i > 0 {
                        outln!("\n----");
                    }
                    out!("{}", args.prompt);
                    started = true;
                }
                out!("{c}");
                !stdout_closed()
            },
        );
        if started {
            outln!();
        }
        written.map_err(failed)?;
    }
    crate::output::results_delivered()
}

/// `eval` of a language model: the mean loss (nats per character) over every held-out
/// example of the text it learnt, split as it was.
pub fn eval(
    path: &Path,
    file: &LmFile,
    data_dir: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    let corpus = file.corpus;
    let text = data::load_text(corpus, data_dir, json)?;
    let (_, test_text) = corpus
        .split(&text, file.split_seed)
        .map_err(|e| Failure::new(e.to_string()))?;
    let test = Examples::for_arch(&test_text, corpus.kind(), &file.vocabulary, file.arch).map_err(|c| {
        Failure::new(format!(
            "{} does not know {c:?}, which the held-out part of {corpus} holds: it was not trained on this text",
            path.display()
        ))
    })?;
    let mut model = file.model();
    let loss = mean_loss(&mut model, &test, usize::MAX);
    if !loss.is_finite() {
        return Err(Failure::new(format!(
            "{} gives a loss that is not a finite number ({loss}); it cannot be used",
            path.display()
        )));
    }
    if json {
        outln!(
            "{}",
            serde_json::json!({
                "model": path.display().to_string(), "corpus": corpus.to_string(),
                "architecture": file.arch.to_json(), "examples": test.len(), "test_loss": loss,
            })
        );
    } else {
        outln!(
            "{} on the held-out part of {corpus} ({} characters to predict): loss {loss:.4} nats per character",
            file.arch.describe(),
            test.characters()
        );
        outln!(
            "({})",
            for_terminal(&elide(
                &format!(
                    "a uniform guess over its {} characters would be {:.4}",
                    file.vocabulary.len(),
                    (file.vocabulary.len() as f64).ln()
                ),
                200
            ))
        );
    }
    crate::output::results_delivered()
}
