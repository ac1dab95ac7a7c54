//! Confusion matrices and captioned grids of digits, as images.

use image::{Rgb, RgbImage};

use super::text::{draw_text, text_width};

const WHITE: Rgb<u8> = Rgb([255, 255, 255]);
const BLACK: Rgb<u8> = Rgb([0, 0, 0]);
const RED: Rgb<u8> = Rgb([200, 30, 30]);
const GREEN: Rgb<u8> = Rgb([30, 130, 60]);

/// Encodes an image as PNG bytes.
pub fn encode_png(img: &RgbImage) -> Result<Vec<u8>, String> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// A confusion matrix: rows are targets, columns predictions, each cell coloured by its share
/// of its row (white to blue; the diagonal green) and labelled with its count. The colour
/// follows the square root of the share, so that a few mistakes still show.
pub fn confusion_png(confusion: &[Vec<usize>], class_names: &[String]) -> RgbImage {
    let n = confusion.len() as u32;
    let (cell, left, top) = (56u32, 90u32, 60u32);
    let mut img = RgbImage::from_pixel(left + n * cell + 20, top + n * cell + 40, WHITE);
    draw_text(&mut img, left as i64, 8, "predicted ->", 2, BLACK);
    draw_text(
        &mut img,
        4,
        (top + n * cell + 14) as i64,
        "rows: target",
        2,
        BLACK,
    );
    for (t, row) in confusion.iter().enumerate() {
        let total = row.iter().sum::<usize>().max(1) as f64;
        let label: String = class_names
            .get(t)
            .map_or(t.to_string(), |s| s.chars().take(5).collect());
        draw_text(
            &mut img,
            4,
            (top + t as u32 * cell + cell / 2 - 4) as i64,
            &label,
            1,
            BLACK,
        );
        for (p, &count) in row.iter().enumerate() {
            let share = (count as f64 / total).sqrt();
            let shade = |full: u8| (255.0 - share * (255.0 - full as f64)) as u8;
            let colour = if t == p {
                Rgb([shade(40), shade(150), shade(70)])
            } else {
                Rgb([shade(30), shade(80), shade(200)])
            };
            let (x0, y0) = (left + p as u32 * cell, top + t as u32 * cell);
            for y in y0..y0 + cell - 2 {
                for x in x0..x0 + cell - 2 {
                    img.put_pixel(x, y, colour);
                }
            }
            let text = count.to_string();
            let ink = if share > 0.5 { WHITE } else { BLACK };
            draw_text(
                &mut img,
                (x0 + (cell - 2 - text_width(&text, 1)) / 2) as i64,
                (y0 + cell / 2 - 5) as i64,
                &text,
                1,
                ink,
            );
        }
    }
    for p in 0..n {
        let label: String = class_names
            .get(p as usize)
            .map_or(p.to_string(), |s| s.chars().take(6).collect());
        draw_text(
            &mut img,
            (left + p * cell + 2) as i64,
            (top - 16) as i64,
            &label,
            1,
            BLACK,
        );
    }
    img
}

/// One digit of a grid: its pixels (row-major, 0 = background), a caption, and whether to
/// mark it as a mistake.
pub struct Tile<'a> {
    /// `side * side` pixels.
    pub pixels: &'a [u8],
    /// Text under the digit, e.g. `7 -> 7`.
    pub caption: String,
    /// Drawn with a red frame and caption when true.
    pub mistake: bool,
}

/// Digits in a grid under a line of `key` (what the captions mean), each scaled up 4x and
/// captioned; mistakes framed in red.
pub fn digit_grid(tiles: &[Tile], side: u32, columns: u32, key: &str) -> RgbImage {
    let scale = 4;
    let (w, h) = (side * scale + 24, side * scale + 34);
    let top = 20;
    let rows = (tiles.len() as u32).div_ceil(columns.max(1)).max(1);
    let mut img = RgbImage::from_pixel(columns * w, top + rows * h, WHITE);
    draw_text(&mut img, 12, 6, key, 1, BLACK);
    for (i, tile) in tiles.iter().enumerate() {
        let (cx, cy) = (
            (i as u32 % columns) * w + 12,
            top + (i as u32 / columns) * h + 6,
        );
        let frame = if tile.mistake {
            RED
        } else {
            Rgb([200, 200, 200])
        };
        for y in 0..side * scale + 4 {
            for x in 0..side * scale + 4 {
                img.put_pixel(cx + x - 2, cy + y - 2, frame);
            }
        }
        for y in 0..side * scale {
            for x in 0..side * scale {
                let v = 255 - tile.pixels[((y / scale) * side + x / scale) as usize];
                img.put_pixel(cx + x, cy + y, Rgb([v, v, v]));
            }
        }
        let colour = if tile.mistake { RED } else { GREEN };
        let text_x =
            cx as i64 + (side * scale) as i64 / 2 - text_width(&tile.caption, 1) as i64 / 2;
        draw_text(
            &mut img,
            text_x,
            (cy + side * scale + 8) as i64,
            &tile.caption,
            1,
            colour,
        );
    }
    img
}
