//! `scratchgrad eval`: how a saved model does on a data set's test images.

use std::path::PathBuf;

use clap::Args;
use scratchgrad::data::{Dataset, Split};
use scratchgrad::lm::LmFile;
use scratchgrad::model_files::{
    decode_model, format_of, read_file, LANGUAGE_MODEL_FORMAT, MAX_MODEL_BYTES,
};
use scratchgrad::train::{evaluate, Engine, Model};

use super::data::AnyDataset;
use super::{data, text_model};
use crate::output::{out, outln};
use crate::Failure;

/// Evaluate a saved model on a test set: accuracy, loss, per-class accuracy, confusion matrix
/// (for a language model: its loss on the held-out text)
#[derive(Args)]
pub struct EvalArgs {
    /// A model.safetensors written by `scratchgrad train`, or the run folder holding it
    #[arg(long, value_name = "RUN_OR_MODEL")]
    model: PathBuf,
    /// Data set to test on [default: the one the model was trained on; a language model is
    /// always evaluated on its own text's held-out part]
    #[arg(long)]
    dataset: Option<AnyDataset>,
    /// Print one JSON object instead of a table
    #[arg(long)]
    json: bool,
    /// With --json: also every image's predicted class and class probabilities
    #[arg(long, requires = "json")]
    per_image: bool,
    /// Where data sets are kept [default: $SCRATCHGRAD_DATA, else ~/.cache/scratchgrad]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Every test image's class probabilities (softmax of the logits), in batches of 1,000.
fn probabilities(model: &mut Model, test: &Dataset) -> Vec<Vec<f32>> {
    let indices: Vec<usize> = (0..test.len()).collect();
    let mut all = Vec::with_capacity(test.len());
    for chunk in indices.chunks(1000) {
        let (x, _) = test.batch(chunk);
        let p = model.logits(x).softmax(1);
        let classes = p.shape()[1];
        all.extend(p.data().chunks(classes).map(<[f32]>::to_vec));
    }
    all
}

/// Runs `scratchgrad eval`.
pub fn run(mut args: EvalArgs) -> Result<(), Failure> {
    args.model = text_model::model_path(&args.model);
    let bytes = read_file(&args.model, MAX_MODEL_BYTES).map_err(|e| Failure::new(e.to_string()))?;
    let shown = args.model.display().to_string();
    let is_text = format_of(&bytes).as_deref() == Some(LANGUAGE_MODEL_FORMAT);
    if is_text {
        if args.dataset.is_some() || args.per_image {
            return Err(Failure::new(format!(
                "{shown} is a language model: it is evaluated on the held-out part of the text it learnt (no --dataset or --per-image)"
            )));
        }
        let file = LmFile::decode(&bytes, &shown).map_err(|e| Failure::new(e.to_string()))?;
        return text_model::eval(&args.model, &file, args.data_dir.as_deref(), args.json);
    }
    let file = decode_model(&bytes, &shown).map_err(|e| Failure::new(e.to_string()))?;
    let dataset = match args.dataset {
        Some(AnyDataset::Images(d)) => d,
        Some(AnyDataset::Text(corpus)) => {
            return Err(Failure::new(format!(
                "{shown} is an image classifier: it cannot be evaluated on {corpus}, a text (pass an image data set, or none for its own)"
            )))
        }
        None => file.dataset.parse().map_err(|_| {
            let known = if file.dataset.is_empty() {
                "does not say which data set it was trained on".to_string()
            } else {
                format!(
                    "says it was trained on `{}`, which is not a data set scratchgrad knows",
                    file.dataset
                )
            };
            Failure::new(format!("{} {known}: pass --dataset", args.model.display()))
        })?,
    };
    let (rows, cols) = dataset.image_size();
    let classes = dataset.class_names().len();
    if !file.arch.takes_images(rows, cols) || file.arch.classes() != classes {
        return Err(Failure::new(format!(
            "{} is a {} network taking {} inputs; {dataset} needs {rows}x{cols} images ({} or 1x{rows}x{cols} inputs) and {classes} classes",
            args.model.display(),
            file.arch.describe(),
            file.arch.input_text(),
            rows * cols
        )));
    }
    let test = data::load(dataset, &[Split::Test], args.data_dir.as_deref(), args.json)?.remove(0);
    let mut model = Model::from_file(&file, Engine::Manual);
    let result = evaluate(&mut model, &file.arch, &test, classes).map_err(|e| {
        Failure::new(format!(
            "{} {e} (test image {}); it cannot be evaluated",
            args.model.display(),
            e.example
        ))
    })?;
    let per_class = result.per_class_accuracy();
    if args.json {
        let mut json = serde_json::json!({
            "model": args.model.display().to_string(),
            "dataset": dataset.to_string(),
            "images": test.len(),
            "accuracy": result.accuracy,
            "loss": result.loss,
            "per_class_accuracy": per_class,
            "confusion": result.confusion,
        });
        if args.per_image {
            json["predictions"] = result.predictions.clone().into();
            json["probabilities"] = probabilities(&mut model, &test).into();
        }
        outln!("{json}");
        return crate::output::results_delivered();
    }
    outln!(
        "{} on the {dataset} test set ({} images)",
        file.arch.describe(),
        test.len()
    );
    outln!(
        "accuracy {:.2}%   loss {:.4}",
        result.accuracy * 100.0,
        result.loss
    );
    outln!("\nper class:");
    for (c, acc) in per_class.iter().enumerate() {
        outln!("  {:>8}  {:6.2}%", file.class_names[c], acc * 100.0);
    }
    outln!("\nconfusion matrix (rows: target, columns: predicted):");
    out!("{:>9}", "");
    for c in 0..classes {
        out!("{c:>6}");
    }
    outln!();
    for (t, row) in result.confusion.iter().enumerate() {
        out!(
            "{:>9}",
            file.class_names[t].chars().take(8).collect::<String>()
        );
        for count in row {
            out!("{count:>6}");
        }
        outln!();
    }
    crate::output::results_delivered()
}
