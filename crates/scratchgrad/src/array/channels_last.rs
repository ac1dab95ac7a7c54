//! The direct convolution's three passes on NCHW arrays: each pass reorders its operands to
//! the channels-last layout the kernels in [`super::direct_conv`] read (input zero-padded,
//! output channels padded to the lanes), runs the kernel, and reorders the result back.
//!
//! For `y = x ⋆ w + b` (stride 1, padding `p`, kernel `kh x kw`):
//! - forward: `y = pad(x, p) ⋆ w + b`;
//! - input gradient: `dx = pad(g, k - 1 - p) ⋆ flip(w)`, with `flip(w)[ci, co, i, j] =
//!   w[co, ci, kh - 1 - i, kw - 1 - j]` (each input pixel met each filter tap once, so its
//!   gradient gathers the output gradients it fed, in mirrored positions);
//! - weight gradient: `dw[co, ci, i, j] = sum over (b, y, x) of pad(x, p)[b, ci, y + i, x + j]
//!   * g[b, co, y, x]`.

use super::direct_conv::{self, Geometry};
use super::simd::Isa;
use super::window::Window;

/// An NCHW shape as `(n, c, h, w)`.
type Nchw = (usize, usize, usize, usize);

/// Positions per block of a transpose: a block's rows on both sides stay in the L1 cache.
const BLOCK: usize = 64;

/// Positions `0..len` from channels first to channels last: `to[p * stored + ch] =
/// from[ch * channel_stride + p]` for `ch < c` (`to`'s other channels are left as they are),
/// in blocks of positions, so that both sides stay in the cache.
fn to_channels_last(
    from: &[f32],
    (c, channel_stride, len): (usize, usize, usize),
    to: &mut [f32],
    stored: usize,
) {
    for p0 in (0..len).step_by(BLOCK) {
        let block = BLOCK.min(len - p0);
        for ch in 0..c {
            let line = &from[ch * channel_stride + p0..][..block];
            for (row, &v) in to[p0 * stored..].chunks_exact_mut(stored).zip(line) {
                row[ch] = v;
            }
        }
    }
}

/// `x` NCHW zero-padded by `(ph, pw)` on each side, channels last:
/// `[n, h + 2 ph, w + 2 pw, c]`.
pub(crate) fn pad_channels_last(
    x: &[f32],
    (n, c, h, w): Nchw,
    (ph, pw): (usize, usize),
) -> Vec<f32> {
    let (hp, wp) = (h + 2 * ph, w + 2 * pw);
    let mut out = vec![0.0; n * hp * wp * c];
    for (image, padded) in x
        .chunks_exact(c * h * w)
        .zip(out.chunks_exact_mut(hp * wp * c))
    {
        for y in 0..h {
            let row = &mut padded[((y + ph) * wp + pw) * c..][..w * c];
            to_channels_last(&image[y * w..], (c, h * w, w), row, c);
        }
    }
    out
}

/// Channels-last rows `[n * plane, stored]` back to NCHW `[n, c, plane]` (the first `c` of
/// each row's `stored` channels), plus `bias[ch]` on channel `ch` if given.
fn rows_to_nchw(
    rows: &[f32],
    (n, c, plane): (usize, usize, usize),
    stored: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let mut out = vec![0.0; n * c * plane];
    for (image, to) in rows
        .chunks_exact(plane * stored)
        .zip(out.chunks_exact_mut(c * plane))
    {
        for p0 in (0..plane).step_by(BLOCK) {
            let len = BLOCK.min(plane - p0);
            let block = &image[p0 * stored..][..len * stored];
            for ch in 0..c {
                let add = bias.map_or(0.0, |bias| bias[ch]);
                let line = &mut to[ch * plane + p0..][..len];
                for (v, row) in line.iter_mut().zip(block.chunks_exact(stored)) {
                    *v = row[ch] + add;
                }
            }
        }
    }
    out
}

/// NCHW `[n, c, plane]` as channels-last rows `[n * plane, stored]`, channels `c..stored` 0.
fn nchw_to_rows(x: &[f32], (n, c, plane): (usize, usize, usize), stored: usize) -> Vec<f32> {
    let mut out = vec![0.0; n * plane * stored];
    for (image, rows) in x
        .chunks_exact(c * plane)
        .zip(out.chunks_exact_mut(plane * stored))
    {
        to_channels_last(image, (c, plane, plane), rows, stored);
    }
    out
}

/// Filters `[o, c, kh, kw]` as the kernel reads them, `[kh, kw, c, stored]`; with `flip`,
/// those of the input gradient: mirrored in both directions, in and out swapped
/// (`[kh, kw, o, stored]` holding `w[co, ci, kh - 1 - i, kw - 1 - j]` at `[i, j, co, ci]`).
fn filters_channels_last(w: &[f32], (o, c, kh, kw): Nchw, stored: usize, flip: bool) -> Vec<f32> {
    let from = if flip { o } else { c };
    let mut out = vec![0.0; kh * kw * from * stored];
    for co in 0..o {
        for ci in 0..c {
            for i in 0..kh {
                for j in 0..kw {
                    let v = w[((co * c + ci) * kh + i) * kw + j];
                    let (i, j, a, z) = if flip {
                        (kh - 1 - i, kw - 1 - j, co, ci)
                    } else {
                        (i, j, ci, co)
                    };
                    out[((i * kw + j) * from + a) * stored + z] = v;
                }
            }
        }
    }
    out
}

/// The kernels' view of a convolution of `input` over `window`, the input padded by the
/// window's padding, with `stored` output channels.
fn padded_input((n, c, h, w): Nchw, window: &Window, stored: usize) -> Geometry {
    let p = window.padding;
    Geometry {
        n,
        c,
        hp: h + 2 * p,
        wp: w + 2 * p,
        kh: window.kh,
        kw: window.kw,
        o: stored,
    }
}

/// The forward pass: `x` NCHW `[n, c, h, w]`, filters `[o, c, kh, kw]`, stride 1. Returns
/// the NCHW output and the padded, channels-last input the gradients read.
pub(crate) fn forward(
    isa: Isa,
    x: &[f32],
    shape: Nchw,
    w: &[f32],
    o: usize,
    bias: Option<&[f32]>,
    window: &Window,
) -> (Vec<f32>, Vec<f32>) {
    let (n, c, _, _) = shape;
    let (p, (kh, kw)) = (window.padding, (window.kh, window.kw));
    let stored = o.next_multiple_of(isa.lanes());
    let padded = pad_channels_last(x, shape, (p, p));
    let g = padded_input(shape, window, stored);
    let filters = filters_channels_last(w, (o, c, kh, kw), stored, false);
    let rows = direct_conv::forward(isa, g, &padded, &filters);
    let out = rows_to_nchw(&rows, (n, o, g.oh() * g.ow()), stored, bias);
    (out, padded)
}

/// The input's gradient (NCHW `[n, c, h, w]`) from the output's, `g` `[n, o, oh, ow]`.
/// Needs `padding < kh` and `< kw` (so that `k - 1 - p >= 0`).
pub(crate) fn input_grad(
    isa: Isa,
    g: &[f32],
    input: Nchw,
    w: &[f32],
    o: usize,
    window: &Window,
) -> Vec<f32> {
    let (n, c, h, wd) = input;
    let (kh, kw, p) = (window.kh, window.kw, window.padding);
    let (oh, ow) = (h + 2 * p + 1 - kh, wd + 2 * p + 1 - kw);
    let stored = c.next_multiple_of(isa.lanes());
    let (qh, qw) = (kh - 1 - p, kw - 1 - p);
    let padded = pad_channels_last(g, (n, o, oh, ow), (qh, qw));
    let geo = Geometry {
        n,
        c: o,
        hp: oh + 2 * qh,
        wp: ow + 2 * qw,
        kh,
        kw,
        o: stored,
    };
    let filters = filters_channels_last(w, (o, c, kh, kw), stored, true);
    let rows = direct_conv::forward(isa, geo, &padded, &filters);
    rows_to_nchw(&rows, (n, c, h * wd), stored, None)
}

/// The filters' gradient `[o, c, kh, kw]` from the saved padded input and the output's
/// gradient `g` `[n, o, oh, ow]`.
pub(crate) fn weight_grad(
    isa: Isa,
    padded: &[f32],
    g: &[f32],
    input: Nchw,
    o: usize,
    window: &Window,
) -> Vec<f32> {
    let (n, c, _, _) = input;
    let (kh, kw) = (window.kh, window.kw);
    let stored = o.next_multiple_of(isa.lanes());
    let geo = padded_input(input, window, stored);
    let rows = nchw_to_rows(g, (n, o, geo.oh() * geo.ow()), stored);
    let dw = direct_conv::weight_grad(isa, geo, padded, &rows);
    let mut out = Vec::with_capacity(o * c * kh * kw);
    for co in 0..o {
        for ci in 0..c {
            out.extend((0..kh * kw).map(|ij| dw[(ij * c + ci) * stored + co]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::array::{Array, ConvPath, Isa, Rng, Window};

    /// Every pass on every instruction set this CPU has, against the `f64` im2col path
    /// (itself checked against the nested loops and PyTorch's float64 fixtures): odd sizes,
    /// 1 and many channels, channel counts that are not a multiple of the lanes, rows wider
    /// than a tile, a 1x1 kernel, padding 0 up to k - 1. (The input's gradient runs direct
    /// only for at least a vector's lanes of input channels.)
    #[test]
    fn every_pass_matches_the_f64_gemm_path_on_every_instruction_set() {
        let mut rng = Rng::seed(11);
        let cases = [
            // (n, c, h, w), (o, kh, kw), padding
            ((2, 3, 7, 6), (5, 3, 2), 1),
            ((1, 1, 9, 9), (16, 5, 5), 2),
            ((3, 16, 14, 14), (32, 5, 5), 2),
            ((2, 6, 14, 14), (16, 5, 5), 0),
            ((1, 2, 4, 33), (40, 3, 3), 0),
            ((2, 1, 5, 5), (3, 1, 1), 0),
            ((1, 4, 3, 3), (7, 3, 3), 2),
            ((2, 2, 30, 3), (9, 2, 3), 1),
            // 20 input channels: the input's gradient runs direct with a part-empty vector
            ((2, 20, 9, 7), (12, 3, 3), 1),
        ];
        for ((n, c, h, w), (o, kh, kw), padding) in cases {
            let window = Window {
                kh,
                kw,
                stride: 1,
                padding,
            };
            let x = Array::<f64>::rand_uniform(&[n, c, h, w], -1.0, 1.0, &mut rng);
            let wt = Array::<f64>::rand_uniform(&[o, c, kh, kw], -1.0, 1.0, &mut rng);
            let b = Array::<f64>::rand_uniform(&[o], -1.0, 1.0, &mut rng);
            let (y, saved) = x.conv2d_by(&wt, Some(&b), &window, ConvPath::Gemm);
            let g = Array::<f64>::rand_uniform(y.shape(), -1.0, 1.0, &mut rng);
            let dx = saved.input_grad(&g, &wt, x.shape(), &window);
            let dw = saved.weight_grad(&g, wt.shape(), x.shape(), &window);
            let f32s = |a: &Array<f64>| a.map(|v| v as f32);
            for isa in Isa::available() {
                let path = ConvPath::Direct(isa);
                let (y32, saved) = f32s(&x).conv2d_by(&f32s(&wt), Some(&f32s(&b)), &window, path);
                let dx32 = saved.input_grad(&f32s(&g), &f32s(&wt), x.shape(), &window);
                let dw32 = saved.weight_grad(&f32s(&g), wt.shape(), x.shape(), &window);
                let case = format!(
                    "{isa:?} x {:?} w {:?} padding {padding}",
                    x.shape(),
                    wt.shape()
                );
                for (name, got, want) in [("y", y32, &y), ("dx", dx32, &dx), ("dw", dw32, &dw)] {
                    let got = got.map(f64::from);
                    assert_eq!(got.shape(), want.shape(), "{name}: {case}");
                    // f32 sums of up to a few thousand terms of size 1
                    assert!(got.allclose(want, 1e-4, 1e-4), "{name}: {case}");
                }
            }
        }
    }
}
