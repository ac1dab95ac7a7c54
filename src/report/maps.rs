//! Pictures of what a convolutional network learnt: its first layer's filters, and the maps
//! each convolution makes of one image.

use image::{Rgb, RgbImage};

use super::text::draw_text;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);

/// A value in [-1, 1] as a colour: blue for negative, white at 0, red for positive.
fn diverging(v: f32) -> Rgb<u8> {
    let v = v.clamp(-1.0, 1.0);
    let fade = |t: f32| (255.0 * (1.0 - t)) as u8;
    if v >= 0.0 {
        Rgb([255, fade(v), fade(v)])
    } else {
        Rgb([fade(-v), fade(-v), 255])
    }
}

/// Draws `values` (`rows x cols`, row-major) with its top-left at (x, y), each value a
/// `scale x scale` block coloured by `colour`.
fn draw_block(
    img: &mut RgbImage,
    (x, y): (u32, u32),
    values: &[f32],
    cols: usize,
    scale: u32,
    colour: impl Fn(f32) -> Rgb<u8>,
) {
    for (k, &v) in values.iter().enumerate() {
        let (r, c) = ((k / cols) as u32, (k % cols) as u32);
        for dy in 0..scale {
            for dx in 0..scale {
                img.put_pixel(x + c * scale + dx, y + r * scale + dy, colour(v));
            }
        }
    }
}

/// The first layer's filters, `[out, in, kh, kw]`, each input channel's kernel as a small
/// square (blue negative, red positive, each filter scaled by its largest magnitude), one
/// filter per column, 16 to a row.
pub fn filters_png(weight: &[f32], shape: &[usize]) -> RgbImage {
    let (o, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
    let scale = (64 / kh.max(kw).max(1)).clamp(4, 16) as u32;
    let (tile_w, tile_h) = (kw as u32 * scale + 8, (c * kh) as u32 * scale + 8);
    let per_row = o.min(16) as u32;
    let rows = (o as u32).div_ceil(per_row.max(1));
    let top = 20;
    let mut img = RgbImage::from_pixel(
        (per_row * tile_w + 8).max(320),
        top + rows * tile_h + 4,
        WHITE,
    );
    draw_text(
        &mut img,
        4,
        6,
        "first-layer filters: blue < 0 < red",
        1,
        BLACK,
    );
    for f in 0..o {
        let filter = &weight[f * c * kh * kw..(f + 1) * c * kh * kw];
        let largest = filter.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        let (x, y) = (
            4 + (f as u32 % per_row) * tile_w,
            top + (f as u32 / per_row) * tile_h,
        );
        let colour = |v: f32| diverging(v / largest);
        // The input channels' kernels one under another.
        draw_block(&mut img, (x, y), filter, kw, scale, colour);
    }
    img
}

/// One image (`side x side` bytes) and, for each named layer, its maps (`[channels, h, w]`,
/// each scaled to its own range: dark is low, light is high), a row of up to 16 maps per layer.
pub fn feature_maps_png(
    image: &[u8],
    side: usize,
    layers: &[(String, Vec<usize>, Vec<f32>)],
) -> RgbImage {
    let scale = 3u32;
    let per_row = 16u32;
    let cell = side as u32 * scale + 6;
    let label = 24u32;
    let height = 20 + cell + layers.len() as u32 * (label + cell);
    let mut img = RgbImage::from_pixel(
        (per_row * cell + 8).max(side as u32 * scale + 200),
        height,
        WHITE,
    );
    draw_text(
        &mut img,
        4,
        6,
        "one test image and what each convolution makes of it",
        1,
        BLACK,
    );
    let pixels: Vec<f32> = image.iter().map(|&p| p as f32 / 255.0).collect();
    let gray = |v: f32| {
        let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
        Rgb([g, g, g])
    };
    draw_block(&mut img, (4, 20), &pixels, side, scale, gray);
    for (l, (name, shape, values)) in layers.iter().enumerate() {
        let y = 20 + cell + l as u32 * (label + cell);
        draw_text(
            &mut img,
            4,
            (y + 8) as i64,
            &format!(
                "{name}: {} maps of {}x{}{}",
                shape[0],
                shape[1],
                shape[2],
                if shape[0] > per_row as usize {
                    format!(" (the first {per_row})")
                } else {
                    String::new()
                }
            ),
            1,
            BLACK,
        );
        let (h, w) = (shape[1], shape[2]);
        let map_scale = ((side * scale as usize) / h.max(w).max(1)).max(1) as u32;
        for ch in 0..shape[0].min(per_row as usize) {
            let map = &values[ch * h * w..(ch + 1) * h * w];
            let (low, high) = map
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            let span = (high - low).max(1e-12);
            let shade = |v: f32| gray(1.0 - (v - low) / span);
            draw_block(
                &mut img,
                (4 + ch as u32 * cell, y + label),
                map,
                w,
                map_scale,
                shade,
            );
        }
    }
    img
}
