//! The pictures a training run leaves in its folder (drawn by `report`), and the live ones
//! the web dashboard shows after each epoch. Pictures are a report: one that cannot be drawn
//! or saved is a warning, never a failed run.

use std::path::Path;

use image::RgbImage;

use super::{Engine, EpochMetrics, Evaluation, HeldOut, Model};
use crate::arch::LayerSpec;
use crate::data::Dataset;
use crate::files::write_atomic;
use crate::model_files::ModelFile;
use crate::report::{
    confusion_png, curves_svg, digit_grid, encode_png, feature_maps_png, filters_png, Tile,
};

/// What drawing a run's pictures gave: the files written, and a warning for each picture
/// that could not be drawn or saved (pictures are a report: a run never fails for one).
#[derive(Default)]
pub struct Pictures {
    /// The files written, in order.
    pub written: Vec<&'static str>,
    /// One line per picture that is missing, and why.
    pub warnings: Vec<String>,
}

impl Pictures {
    /// Draws `name` with `draw` and saves it in `out`; a failure, or a panic while drawing,
    /// becomes a warning.
    fn add(
        &mut self,
        out: &Path,
        name: &'static str,
        draw: impl FnOnce() -> Result<Vec<u8>, String>,
    ) {
        let drawn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(draw))
            .unwrap_or_else(|_| Err("the drawing code failed (a bug in scratchgrad)".into()));
        let saved = drawn.and_then(|bytes| {
            write_atomic(&out.join(name), &bytes)
                .map_err(|e| format!("cannot write {}: {e}", out.join(name).display()))
        });
        match saved {
            Ok(()) => self.written.push(name),
            Err(e) => self.warnings.push(format!("{name} was not drawn: {e}")),
        }
    }
}

/// Draws loss.svg, accuracy.svg, confusion.png, predictions.png and mistakes.png into `out`,
/// and for a convolutional network filters.png and feature-maps.png.
pub fn draw_pictures(
    out: &Path,
    history: &[EpochMetrics],
    test: &Evaluation,
    test_set: &Dataset,
    model: &ModelFile,
) -> Pictures {
    let mut pictures = Pictures::default();
    let class_names = &model.class_names;
    let series = |f: fn(&EpochMetrics) -> f64| {
        history
            .iter()
            .map(|m| (m.epoch as f64, f(m)))
            .collect::<Vec<_>>()
    };
    let held_out = match history.first().map(|m| m.held_out) {
        Some(HeldOut::Validation) => "validation",
        _ => "test",
    };
    pictures.add(out, "loss.svg", || {
        curves_svg(
            "Cross-entropy loss",
            "loss",
            &[
                ("train", series(|m| m.train_loss)),
                (held_out, series(|m| m.loss)),
            ],
        )
        .map(String::into_bytes)
    });
    pictures.add(out, "accuracy.svg", || {
        curves_svg(
            "Accuracy",
            "accuracy (%)",
            &[
                ("train", series(|m| m.train_accuracy * 100.0)),
                (held_out, series(|m| m.accuracy * 100.0)),
            ],
        )
        .map(String::into_bytes)
    });
    pictures.add(out, "confusion.png", || {
        encode_png(&confusion_png(&test.confusion, class_names))
    });
    pictures.add(out, "predictions.png", || {
        encode_png(&predictions_picture(test, test_set, class_names, "test"))
    });
    pictures.add(out, "mistakes.png", || {
        let mut wrong: Vec<usize> = (0..test_set.len())
            .filter(|&i| test.predictions[i] != test_set.labels[i] as usize)
            .collect();
        wrong.sort_by(|&a, &b| test.confidence[b].total_cmp(&test.confidence[a]));
        let worst: Vec<Tile> = wrong
            .iter()
            .take(20)
            .map(|&i| {
                let mut t = tile(test, test_set, class_names, i);
                t.caption = format!("{} {:.0}%", t.caption, test.confidence[i] * 100.0);
                t
            })
            .collect();
        let key = "most confident mistakes: target->predicted confidence";
        encode_png(&digit_grid(&worst, test_set.rows as u32, 10, key))
    });
    let first_conv = model
        .arch
        .layers
        .iter()
        .position(|l| matches!(l, LayerSpec::Conv2d { .. }));
    if let Some(first) = first_conv {
        pictures.add(out, "filters.png", || {
            let name = format!("{first}.weight");
            let (_, weight) = model
                .weights
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or("the first convolution has no weight")?;
            encode_png(&filters_png(weight.data(), weight.shape()))
        });
        pictures.add(out, "feature-maps.png", || {
            encode_png(&feature_maps_picture(model, test_set))
        });
    }
    pictures
}

/// Image `i` of `set` with its target and the prediction in `scored` as its caption.
fn tile<'a>(scored: &Evaluation, set: &'a Dataset, class_names: &[String], i: usize) -> Tile<'a> {
    let name = |c: usize| class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
    let (target, predicted) = (set.labels[i] as usize, scored.predictions[i]);
    let caption = if target == predicted {
        format!("{} ok", name(target))
    } else {
        format!("{}->{}", name(target), name(predicted))
    };
    Tile {
        pixels: set.image(i),
        caption,
        mistake: target != predicted,
    }
}

/// The first 20 images of `set` (the `which` images: test or validation) with target and
/// prediction (predictions.png).
pub fn predictions_picture(
    scored: &Evaluation,
    set: &Dataset,
    class_names: &[String],
    which: &str,
) -> RgbImage {
    let first: Vec<Tile> = (0..set.len().min(20))
        .map(|i| tile(scored, set, class_names, i))
        .collect();
    let key = format!("first {which} images: target ok, or target->predicted (red)");
    digit_grid(&first, set.rows as u32, 10, &key)
}

/// The first layer's weights as pictures: a convolution's kernels, or for a fully connected
/// first layer on square images, the weights of its first 32 units, each as an image.
pub fn first_layer_picture(model: &ModelFile) -> Option<RgbImage> {
    let first = model.weights.iter().find(|(n, _)| n.ends_with(".weight"))?;
    let shape = first.1.shape();
    match shape.len() {
        4 => Some(filters_png(first.1.data(), shape)),
        2 => {
            let side = (shape[1] as f64).sqrt() as usize;
            if side * side != shape[1] {
                return None;
            }
            let units = shape[0].min(32);
            Some(filters_png(
                &first.1.data()[..units * shape[1]],
                &[units, 1, side, side],
            ))
        }
        _ => None,
    }
}

/// feature-maps.png: the first test image through each convolution and the activation
/// after it.
fn feature_maps_picture(model: &ModelFile, test_set: &Dataset) -> RgbImage {
    let layers = &model.arch.layers;
    let mut net = Model::from_file(model, Engine::Manual);
    let (x, _) = test_set.batch(&[0]);
    let outputs = net.layer_outputs(x);
    let mut maps = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        if !matches!(layer, LayerSpec::Conv2d { .. }) {
            continue;
        }
        // Show the map after the activation that follows the convolution, if one does.
        let (shown, name) = match layers.get(i + 1) {
            Some(LayerSpec::Activation(a)) => (i + 1, format!("layer {} {layer} + {a}", i + 1)),
            _ => (i, format!("layer {} {layer}", i + 1)),
        };
        let map = &outputs[shown];
        maps.push((name, map.shape()[1..].to_vec(), map.data().to_vec()));
    }
    feature_maps_png(test_set.image(0), test_set.rows, &maps)
}
