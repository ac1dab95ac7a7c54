//! `scratchgrad predict`: what a saved model sees in image files.

use std::path::PathBuf;

use clap::Args;
use scratchgrad::array::Array;
use scratchgrad::data::preprocess::{decode_image, mnist_style, SIDE};
use scratchgrad::files::read_regular;
use scratchgrad::model_files::load_model;
use scratchgrad::train::{check_finite, Engine, Model};

use crate::output::outln;
use crate::Failure;

/// Classify images of handwritten digits (PNG or JPEG, any size)
///
/// Each image is converted as MNIST's digits were: grayscale, light ink on dark, cropped to
/// the ink, scaled into 20x20, centred by mass in 28x28. Prints the top 3 classes.
#[derive(Args)]
pub struct PredictArgs {
    /// A model.safetensors written by `scratchgrad train`
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Image files (PNG or JPEG)
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

/// The largest image file read (a photo of a page is a few MB).
const MAX_IMAGE_FILE_BYTES: u64 = 64 << 20;

/// Runs `scratchgrad predict`.
pub fn run(args: PredictArgs) -> Result<(), Failure> {
    let file = load_model(&args.model).map_err(|e| Failure::new(e.to_string()))?;
    let pixels = SIDE * SIDE;
    if !file.arch.takes_images(SIDE, SIDE) {
        return Err(Failure::new(format!(
            "{} is a {} network taking {} inputs; predict needs {SIDE}x{SIDE} images ({pixels} or 1x{SIDE}x{SIDE} inputs)",
            args.model.display(),
            file.arch.describe(),
            file.arch.input_text()
        )));
    }
    // Read everything first: a bad image fails the command before anything is printed.
    let mut inputs = Vec::new();
    for path in &args.images {
        let bytes = read_regular(path, MAX_IMAGE_FILE_BYTES)
            .map_err(|e| Failure::new(format!("{} {e}", path.display())))?;
        let img = decode_image(&bytes).map_err(|e| {
            Failure::new(format!(
                "{} cannot be read as an image ({e}); give a PNG or JPEG file",
                path.display()
            ))
        })?;
        let pixels =
            mnist_style(&img).map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
        inputs.extend(pixels.iter().map(|&p| p as f32 / 255.0));
    }
    let mut model = Model::from_file(&file, Engine::Manual);
    let logits = model.logits(Array::from_vec(inputs, &[args.images.len(), pixels]));
    check_finite(&logits, 0).map_err(|e| {
        Failure::new(format!(
            "{} {e} ({}); it cannot be used",
            args.model.display(),
            args.images[e.example].display()
        ))
    })?;
    let probabilities = logits.softmax(1);
    let classes = file.arch.classes();
    let mut results = Vec::new();
    for (i, path) in args.images.iter().enumerate() {
        let p = &probabilities.data()[i * classes..(i + 1) * classes];
        let mut order: Vec<usize> = (0..classes).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let top: Vec<(usize, f32)> = order.iter().take(3).map(|&c| (c, p[c])).collect();
        results.push((path, top));
    }
    if args.json {
        let json: Vec<_> = results
            .iter()
            .map(|(path, top)| {
                let top: Vec<_> = top.iter().map(|&(c, p)| serde_json::json!({"class": c, "name": file.class_names[c], "probability": p})).collect();
                serde_json::json!({"image": path.display().to_string(), "top": top})
            })
            .collect();
        outln!("{}", serde_json::json!({ "predictions": json }));
    } else {
        for (path, top) in results {
            let shown: Vec<String> = top
                .iter()
                .map(|&(c, p)| format!("{} ({:.1}%)", file.class_names[c], p * 100.0))
                .collect();
            // A file name can hold a newline or an escape sequence: shown, not obeyed.
            let name = scratchgrad::text::for_terminal(&path.display().to_string());
            outln!("{name}: {}", shown.join(", "));
        }
    }
    crate::output::results_delivered()
}
