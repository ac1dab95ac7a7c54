//! Turning an arbitrary photo or drawing of a digit into an MNIST-style input, the way the
//! MNIST digits were made: grayscale, light ink on a dark background, cropped to the ink,
//! scaled to fit a 20x20 box, and centred by its centre of mass in a 28x28 image.

use image::imageops::{resize, FilterType};
use image::{DynamicImage, GrayImage, ImageReader, Limits, Luma};

/// The side of the images this makes, as MNIST's.
pub const SIDE: usize = 28;

/// Pixels brighter than this (after inversion) count as ink when cropping.
const INK: u8 = 40;

/// The largest image side accepted, and the most memory decoding may take: a forged header
/// cannot make `predict` allocate more.
pub const MAX_SIDE: u32 = 8192;
const MAX_DECODE_BYTES: u64 = 256 << 20;

/// Decodes a PNG or JPEG (told apart by content) within [`MAX_SIDE`] and a memory limit.
pub fn decode_image(bytes: &[u8]) -> Result<DynamicImage, String> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    reader.limits(limits);
    reader.decode().map_err(|e| e.to_string())
}

/// Grayscale with any transparency laid over white, as a page would show it.
fn gray_on_white(img: &DynamicImage) -> GrayImage {
    let la = img.to_luma_alpha8();
    GrayImage::from_fn(la.width(), la.height(), |x, y| {
        let [l, a] = la.get_pixel(x, y).0;
        let (l, a) = (l as u32, a as u32);
        Luma([((l * a + 255 * (255 - a)) / 255) as u8])
    })
}

/// The MNIST-style 28x28 version of `img`, as 784 bytes (0 = background, 255 = ink), or why
/// it has no digit in it.
///
/// ```
/// use image::{DynamicImage, GrayImage, Luma};
/// use scratchgrad::data::preprocess::mnist_style;
/// // A black bar drawn on white paper, 200x100 pixels.
/// let page = GrayImage::from_fn(200, 100, |x, y| Luma([if (90..110).contains(&x) && (20..80).contains(&y) { 0 } else { 255 }]));
/// let digit = mnist_style(&DynamicImage::ImageLuma8(page)).unwrap();
/// assert_eq!(digit.len(), 784);
/// assert!(digit[14 * 28 + 14] > 200); // ink in the middle, light on dark
/// assert_eq!(digit[0], 0);
/// ```
pub fn mnist_style(img: &DynamicImage) -> Result<Vec<u8>, String> {
    let mut gray = gray_on_white(img);
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 {
        return Err("the image is empty".into());
    }
    // Dark ink on light paper (the usual photo or drawing) is inverted to MNIST's light on dark.
    let border: Vec<u32> = (0..w)
        .flat_map(|x| [(x, 0), (x, h - 1)])
        .chain((0..h).flat_map(|y| [(0, y), (w - 1, y)]))
        .map(|(x, y)| gray.get_pixel(x, y).0[0] as u32)
        .collect();
    if border.iter().sum::<u32>() / border.len() as u32 > 127 {
        image::imageops::invert(&mut gray);
    }
    // Crop to the ink.
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (x, y, p) in gray.enumerate_pixels() {
        if p.0[0] > INK {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if x1 < x0 {
        return Err("no ink found: the image looks blank".into());
    }
    let cropped = image::imageops::crop_imm(&gray, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image();
    // Fit into 20x20, keeping the aspect ratio.
    let (cw, ch) = cropped.dimensions();
    let scale = 20.0 / cw.max(ch) as f64;
    let (nw, nh) = (
        ((cw as f64 * scale).round() as u32).max(1),
        ((ch as f64 * scale).round() as u32).max(1),
    );
    let small = resize(&cropped, nw, nh, FilterType::Triangle);
    // Centre by mass in 28x28.
    let (mut mass, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (x, y, p) in small.enumerate_pixels() {
        let v = p.0[0] as f64;
        mass += v;
        mx += v * x as f64;
        my += v * y as f64;
    }
    let (cx, cy) = if mass > 0.0 {
        (mx / mass, my / mass)
    } else {
        (nw as f64 / 2.0, nh as f64 / 2.0)
    };
    let (side, centre) = (SIDE as i64, SIDE as f64 / 2.0);
    let left = ((centre - cx).round() as i64).clamp(0, side - nw as i64);
    let top = ((centre - cy).round() as i64).clamp(0, side - nh as i64);
    let mut out = vec![0u8; SIDE * SIDE];
    for (x, y, p) in small.enumerate_pixels() {
        out[((top + y as i64) * side + left + x as i64) as usize] = p.0[0];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, DatasetName, Split};

    /// Correlation of two images' pixels.
    fn correlation(a: &[u8], b: &[u8]) -> f64 {
        let mean = |v: &[u8]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
        let (ma, mb) = (mean(a), mean(b));
        let cov: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - ma) * (y as f64 - mb))
            .sum();
        let var = |v: &[u8], m: f64| {
            v.iter()
                .map(|&x| (x as f64 - m).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        cov / (var(a, ma) * var(b, mb))
    }

    #[test]
    fn a_test_digit_printed_large_on_paper_comes_back() {
        let test = Dataset::load(
            DatasetName::MnistMini,
            Split::Test,
            std::path::Path::new(""),
        )
        .unwrap();
        for i in 0..20 {
            let digit = test.image(i);
            // Dark on white, 6x larger, off-centre on a wide page.
            let page = GrayImage::from_fn(300, 220, |x, y| {
                let (dx, dy) = (x as i64 - 40, y as i64 - 30);
                let inside = (0..168).contains(&dx) && (0..168).contains(&dy);
                Luma([if inside {
                    255 - digit[(dy / 6 * 28 + dx / 6) as usize]
                } else {
                    255
                }])
            });
            let back = mnist_style(&DynamicImage::ImageLuma8(page)).unwrap();
            let r = correlation(&back, digit);
            assert!(r > 0.8, "digit {i}: correlation {r}");
        }
    }

    #[test]
    fn blank_pages_are_refused() {
        let blank = DynamicImage::ImageLuma8(GrayImage::from_pixel(50, 50, Luma([255])));
        assert_eq!(
            mnist_style(&blank).unwrap_err(),
            "no ink found: the image looks blank"
        );
    }
}
