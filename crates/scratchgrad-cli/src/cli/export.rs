//! `scratchgrad export`: a trained model in another format (ONNX).

use std::path::PathBuf;

use clap::Args;
use scratchgrad::export::{to_onnx, INPUT, OPSET, OUTPUT};
use scratchgrad::model_files::load_model;

use super::files::{is_stdout, save};
use crate::output::outln;
use crate::Failure;

/// Export a model.safetensors to ONNX (for ONNX Runtime, browsers, Netron)
///
/// The graph takes the preprocessed images (input `input`: [N, 784] for an MLP, [N, 1, 28, 28]
/// for a CNN, float32 in [0, 1], any N) and gives class probabilities (output `probabilities`,
/// a softmax over axis 1). Opset 17; the class names and preprocessing are in its metadata.
#[derive(Args)]
pub struct ExportArgs {
    /// A model.safetensors written by `scratchgrad train`
    #[arg(value_name = "MODEL")]
    model: PathBuf,
    /// Where to write the ONNX file (- for standard output)
    #[arg(long, value_name = "FILE")]
    onnx: PathBuf,
}

/// Runs `scratchgrad export`.
pub fn run(args: ExportArgs) -> Result<(), Failure> {
    let model = load_model(&args.model).map_err(|e| Failure::new(e.to_string()))?;
    let bytes = to_onnx(&model)
        .map_err(|e| Failure::new(format!("{} cannot be exported: {e}", args.model.display())))?;
    save(&args.onnx, &bytes, "ONNX model")?;
    if !is_stdout(&args.onnx) {
        outln!(
            "wrote {} ({} bytes): {} as ONNX opset {OPSET}, input `{INPUT}` {:?} per image, output `{OUTPUT}` ({} classes)",
            args.onnx.display(),
            bytes.len(),
            model.arch.describe(),
            model.arch.input,
            model.arch.classes()
        );
    }
    Ok(())
}
