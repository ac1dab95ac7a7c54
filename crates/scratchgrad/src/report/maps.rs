//! Pictures of what a convolutional network learnt: its first layer's filters, and the maps
//! each convolution makes of one image.
//!
//! Any shape the layer grammar allows must draw: a 1x1 map and a 98x98 one, a 1-wide kernel
//! and a 64x64 one, one channel or thousands. So every map and kernel is drawn into a cell of
//! fixed size (scaled up or down, nearest value), and only the first few of many are drawn,
//! which the caption says. The pictures' sizes are bounded whatever the network.

use image::{Rgb, RgbImage};

use super::text::draw_text;

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);

/// The side of the square cell each map or kernel is drawn into, in pixels.
const CELL: u32 = 84;
/// Cells per row.
const PER_ROW: usize = 16;
/// The most filters drawn (four rows), and input channels drawn per filter.
const MAX_FILTERS: usize = 64;
const MAX_FILTER_CHANNELS: usize = 4;

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

/// A value in [0, 1] as a shade of gray: 0 white, 1 black (ink on paper).
fn ink(v: f32) -> Rgb<u8> {
    let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
    Rgb([g, g, g])
}

/// Draws `values` (`rows x cols`, row-major) scaled to fit a `side x side` square with its
/// top-left at (x, y), keeping the aspect ratio; each drawn pixel takes the nearest value.
/// Whatever falls outside the image is left out.
fn draw_fitted(
    img: &mut RgbImage,
    (x, y): (u32, u32),
    values: &[f32],
    (rows, cols): (usize, usize),
    side: u32,
    colour: impl Fn(f32) -> Rgb<u8>,
) {
    let largest = rows.max(cols).max(1) as f64;
    let (w, h) = (
        ((cols as f64 * side as f64 / largest).round() as u32).max(1),
        ((rows as f64 * side as f64 / largest).round() as u32).max(1),
    );
    for py in 0..h {
        for px in 0..w {
            let r = (py as usize * rows / h as usize).min(rows.saturating_sub(1));
            let c = (px as usize * cols / w as usize).min(cols.saturating_sub(1));
            let (ix, iy) = (x + px, y + py);
            if let Some(&v) = values.get(r * cols + c) {
                if ix < img.width() && iy < img.height() {
                    img.put_pixel(ix, iy, colour(v));
                }
            }
        }
    }
}

/// ", the first N" when only `shown` of `total` are drawn.
fn first_of(shown: usize, total: usize) -> String {
    if shown < total {
        format!(" (the first {shown})")
    } else {
        String::new()
    }
}

/// The first layer's filters, `[out, in, kh, kw]`: each filter a column of its input
/// channels' kernels (blue negative, red positive, each filter scaled by its largest
/// magnitude), 16 filters to a row; at most 64 filters and 4 input channels are drawn.
pub fn filters_png(weight: &[f32], shape: &[usize]) -> RgbImage {
    let (o, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
    let (filters, channels) = (o.min(MAX_FILTERS), c.min(MAX_FILTER_CHANNELS));
    // A kernel's cell: a few pixels per weight, whatever the kernel's size.
    let side = (kh.max(kw) as u32 * 8).clamp(16, 64);
    let (tile_w, tile_h) = (side + 8, channels as u32 * (side + 2) + 6);
    let per_row = filters.min(PER_ROW) as u32;
    let rows = (filters as u32).div_ceil(per_row);
    let top = 20;
    let mut img = RgbImage::from_pixel(
        (per_row * tile_w + 8).max(420),
        top + rows * tile_h + 4,
        WHITE,
    );
    let caption = format!(
        "first-layer filters{}, input channels{}: blue < 0 < red",
        first_of(filters, o),
        first_of(channels, c)
    );
    draw_text(&mut img, 4, 6, &caption, 1, BLACK);
    let size = c * kh * kw;
    for f in 0..filters {
        let filter = &weight[f * size..(f + 1) * size];
        let largest = filter.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        let (x, y) = (
            4 + (f as u32 % per_row) * tile_w,
            top + (f as u32 / per_row) * tile_h,
        );
        for ch in 0..channels {
            let kernel = &filter[ch * kh * kw..(ch + 1) * kh * kw];
            let at = (x, y + ch as u32 * (side + 2));
            draw_fitted(&mut img, at, kernel, (kh, kw), side, |v| {
                diverging(v / largest)
            });
        }
    }
    img
}

/// One image (`side x side` bytes) and, for each named layer, its maps (`[channels, h, w]`,
/// each scaled to its own range: dark is high), a row of up to 16 maps per layer.
pub fn feature_maps_png(
    image: &[u8],
    side: usize,
    layers: &[(String, Vec<usize>, Vec<f32>)],
) -> RgbImage {
    let cell = CELL + 6;
    let label = 24u32;
    let height = 20 + cell + layers.len() as u32 * (label + cell);
    let mut img = RgbImage::from_pixel(PER_ROW as u32 * cell + 8, height, WHITE);
    draw_text(
        &mut img,
        4,
        6,
        "one test image and what each convolution makes of it",
        1,
        BLACK,
    );
    let pixels: Vec<f32> = image.iter().map(|&p| p as f32 / 255.0).collect();
    draw_fitted(&mut img, (4, 20), &pixels, (side, side), CELL, ink);
    for (l, (name, shape, values)) in layers.iter().enumerate() {
        let y = 20 + cell + l as u32 * (label + cell);
        let (channels, h, w) = (shape[0], shape[1], shape[2]);
        let shown = channels.min(PER_ROW);
        let caption = format!(
            "{name}: {channels} maps of {h}x{w}{}",
            first_of(shown, channels)
        );
        draw_text(&mut img, 4, (y + 8) as i64, &caption, 1, BLACK);
        for ch in 0..shown {
            let map = &values[ch * h * w..(ch + 1) * h * w];
            let (low, high) = map
                .iter()
                .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            let span = (high - low).max(1e-12);
            let at = (4 + ch as u32 * cell, y + label);
            draw_fitted(&mut img, at, map, (h, w), CELL, |v| ink((v - low) / span));
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of shape the layer grammar allows: 1x1 and 1-wide maps, maps larger than
    /// the cell (a 5x5 kernel with padding 35 on 28x28 gives 94x94), one channel and
    /// thousands, kernels of 1 and of 64.
    #[test]
    fn every_shape_draws_within_bounds() {
        let image = vec![128u8; 28 * 28];
        for &(c, h, w) in &[
            (1, 1, 1),
            (1, 1, 98),
            (1, 98, 1),
            (1, 94, 94),
            (3, 2, 2),
            (4096, 1, 1),
            (64, 512, 2),
        ] {
            let values: Vec<f32> = (0..c * h * w).map(|i| i as f32).collect();
            let layers = vec![("layer".to_string(), vec![c, h, w], values)];
            let img = feature_maps_png(&image, 28, &layers);
            assert!(img.width() <= 2000 && img.height() <= 300, "{c}x{h}x{w}");
        }
        for shape in [
            [1, 1, 1, 1],
            [1, 1, 64, 64],
            [16, 1, 5, 5],
            [65536, 1, 1, 1],
            [3, 4096, 1, 64],
            [64, 64, 64, 1],
        ] {
            let weight: Vec<f32> = (0..shape.iter().product::<usize>())
                .map(|i| (i % 7) as f32 - 3.0)
                .collect();
            let img = filters_png(&weight, &shape);
            assert!(img.width() <= 1300 && img.height() <= 1300, "{shape:?}");
        }
    }

    #[test]
    fn a_map_larger_than_its_cell_is_scaled_down_not_cut() {
        // A 2x2 map of 0/1 values in a 4x4 picture: each value fills a 2x2 quarter.
        let mut img = RgbImage::from_pixel(4, 4, WHITE);
        draw_fitted(&mut img, (0, 0), &[0.0, 1.0, 1.0, 0.0], (2, 2), 4, ink);
        assert_eq!(img.get_pixel(0, 0), &ink(0.0));
        assert_eq!(img.get_pixel(3, 0), &ink(1.0));
        assert_eq!(img.get_pixel(0, 3), &ink(1.0));
        assert_eq!(img.get_pixel(3, 3), &ink(0.0));
        // A 94-wide row in a 4-wide cell: the ends are its first and last values.
        let mut img = RgbImage::from_pixel(4, 4, WHITE);
        let row: Vec<f32> = (0..94).map(|i| if i < 47 { 0.0 } else { 1.0 }).collect();
        draw_fitted(&mut img, (0, 0), &row, (1, 94), 4, ink);
        assert_eq!(img.get_pixel(0, 0), &ink(0.0));
        assert_eq!(img.get_pixel(3, 0), &ink(1.0));
        assert_eq!(img.get_pixel(0, 1), &WHITE, "one row high, not stretched");
    }
}
