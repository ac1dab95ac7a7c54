//! micrograd's classic demo on scratchgrad's scalar engine: a 2-16-16-1 MLP learns to
//! separate two interleaving half-moons, then draws its decision boundary.
//!
//! Run: `cargo run --release --example moons -- [--out moons.png] [--engine tape|value]`
//! (`tape`, the default, records each step on a `Tape`; `value` builds micrograd's graph of
//! `Value`s: the same numbers, 10-30x slower.)
//!
//! Loss: the mean max-margin (hinge) loss max(0, 1 - y * score) plus an L2 penalty
//! 1e-4 * sum(w^2), minimised by full-batch SGD with a learning rate falling linearly from
//! 1.0 to 0.1, as in micrograd's demo.

use image::{Rgb, RgbImage};
use scratchgrad::array::Rng;
use std::time::Instant;

use scratchgrad::scalar::{hinge_loss, hinge_loss_backward_on_tape, make_moons, Mlp, Tape, Value};

const STEPS: usize = 100;

/// Paints the plane by the model's class and marks the training points.
fn picture(mlp: &Mlp, data: &[([f64; 2], f64)], size: u32) -> RgbImage {
    let (x0, x1, y0, y1) = (-1.6, 2.6, -1.2, 1.7);
    let to_plane = |px: u32, py: u32| {
        let x = x0 + (x1 - x0) * px as f64 / size as f64;
        let y = y1 - (y1 - y0) * py as f64 / size as f64;
        (x, y)
    };
    let mut img = RgbImage::from_fn(size, size, |px, py| {
        let (x, y) = to_plane(px, py);
        let score = mlp.forward(&[Value::new(x), Value::new(y)])[0].data();
        if score > 0.0 {
            Rgb([250, 215, 160])
        } else {
            Rgb([170, 200, 240])
        }
    });
    for (point, label) in data {
        let cx = ((point[0] - x0) / (x1 - x0) * size as f64) as i64;
        let cy = ((y1 - point[1]) / (y1 - y0) * size as f64) as i64;
        let colour = if *label > 0.0 {
            Rgb([200, 90, 0])
        } else {
            Rgb([20, 70, 170])
        };
        for dy in -4i64..=4 {
            for dx in -4i64..=4 {
                let (x, y) = (cx + dx, cy + dy);
                let inside = (0..size as i64).contains(&x) && (0..size as i64).contains(&y);
                if dx * dx + dy * dy <= 16 && inside {
                    let ring = dx * dx + dy * dy >= 9;
                    img.put_pixel(
                        x as u32,
                        y as u32,
                        if ring { Rgb([255, 255, 255]) } else { colour },
                    );
                }
            }
        }
    }
    img
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out = String::from("moons.png");
    let mut on_tape = true;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().as_deref()) {
            ("--out", Some(path)) => out = path.to_string(),
            ("--engine", Some("tape")) => on_tape = true,
            ("--engine", Some("value")) => on_tape = false,
            _ => {
                eprintln!(
                    "usage: cargo run --release --example moons -- [--out FILE.png] [--engine tape|value]"
                );
                std::process::exit(2);
            }
        }
    }
    let mut rng = Rng::seed(1337);
    let data = make_moons(100, 0.1, &mut rng);
    let mlp = Mlp::new(2, &[16, 16, 1], &mut rng);
    println!(
        "2-16-16-1 MLP, {} parameters, {} points",
        mlp.parameters().len(),
        data.len()
    );
    let started = Instant::now();
    let mut tape = Tape::new();
    for step in 0..STEPS {
        mlp.zero_grad();
        let (total, accuracy) = if on_tape {
            hinge_loss_backward_on_tape(&mlp, &data, 1e-4, &mut tape)
        } else {
            let (total, accuracy) = hinge_loss(&mlp, &data, 1e-4);
            total.backward();
            (total.data(), accuracy)
        };
        let lr = 1.0 - 0.9 * step as f64 / STEPS as f64;
        for p in mlp.parameters() {
            p.set_data(p.data() - lr * p.grad());
        }
        if step % 10 == 0 || step == STEPS - 1 {
            println!(
                "step {step:3}  loss {total:.4}  accuracy {:5.1}%",
                accuracy * 100.0
            );
        }
    }
    let engine = if on_tape { "Tape" } else { "graph of Values" };
    println!("{STEPS} steps in {:.2?} ({engine})", started.elapsed());
    let (total, accuracy) = hinge_loss(&mlp, &data, 1e-4);
    println!(
        "final    loss {:.4}  accuracy {:5.1}%",
        total.data(),
        accuracy * 100.0
    );
    let mut png = std::io::Cursor::new(Vec::new());
    if let Err(e) = picture(&mlp, &data, 400).write_to(&mut png, image::ImageFormat::Png) {
        eprintln!("error: cannot encode the picture: {e}");
        std::process::exit(1);
    }
    if let Err(e) = scratchgrad::files::write_atomic(std::path::Path::new(&out), png.get_ref()) {
        eprintln!("error: cannot write {out}: {e}");
        std::process::exit(1);
    }
    println!("decision boundary written to {out}");
}
