//! Lettering on images with the public-domain 8x8 font of the `font8x8` crate.

use font8x8::legacy::BASIC_LEGACY;
use image::{Rgb, RgbImage};

/// The width in pixels of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale
}

/// Draws `text` with its top-left corner at (x, y); each font pixel becomes a
/// `scale` x `scale` block. Characters outside ASCII are drawn as `?`.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, colour: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        let glyph = BASIC_LEGACY[if c.is_ascii() {
            c as usize
        } else {
            '?' as usize
        }];
        let left = x + (i as i64) * 8 * scale as i64;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits >> col & 1 == 0 {
                    continue;
                }
                for dy in 0..scale as i64 {
                    for dx in 0..scale as i64 {
                        let (px, py) = (
                            left + col * scale as i64 + dx,
                            y + row as i64 * scale as i64 + dy,
                        );
                        if px >= 0
                            && py >= 0
                            && (px as u32) < img.width()
                            && (py as u32) < img.height()
                        {
                            img.put_pixel(px as u32, py as u32, colour);
                        }
                    }
                }
            }
        }
    }
}
