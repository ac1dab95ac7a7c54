//! The direct convolution: stride 1, `f32`, channels last. No im2col columns: each output is
//! summed in registers straight from the zero-padded input, as oneDNN's `convolution_direct`
//! and Georganas et al. 2018 ("Anatomy of High-Performance Deep Learning Convolutions on SIMD
//! Architectures") do.
//!
//! The layout makes one loop of the whole filter. With the input padded and channels last,
//! `xp[b, row, col * c + ci]`, the pixels an output `(y, x)` reads from input row `y + i` are
//! one contiguous run `xp[b, y + i, x * c .. (x + kw) * c]`, and the filter's matching values
//! are `w[i, r, :]` with `r = j * c + ci`. So, with `span = kw * c`:
//!
//! `out[b, y, x, o] = sum_i sum_{r < span} xp[b, y + i, x * c + r] * w[i, r, o]`
//!
//! A register tile holds `PX` neighbouring outputs of a row for `NV` vectors of output
//! channels; per step of `r` it loads `NV` filter vectors, broadcasts `PX` input values and
//! does `PX * NV` fused multiply-adds. Output channels are padded to a multiple of the lanes.
//!
//! The same kernel gives the input's gradient (the output's gradient padded by `k - 1 - p`,
//! filters flipped, in and out swapped); [`weight_grad`] sums `xp * g` over every position.
//! Each output value is one thread's sum in a fixed order: the bits do not depend on the
//! number of threads.

#[cfg(target_arch = "x86_64")]
use super::simd::{Avx2, Avx512};
use std::mem::MaybeUninit;

use super::simd::{Isa, Kind, Lanes, Portable};
use super::threads::for_each_part;

/// The sizes of a stride-1 convolution over a padded, channels-last input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Images.
    pub n: usize,
    /// Input channels.
    pub c: usize,
    /// Padded input height.
    pub hp: usize,
    /// Padded input width.
    pub wp: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Output channels as stored: a multiple of the lanes.
    pub o: usize,
}

impl Geometry {
    /// Output height (the kernel fits the padded input: checked by the passes).
    pub fn oh(&self) -> usize {
        self.hp - self.kh + 1
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        self.wp - self.kw + 1
    }
    /// Panics unless the buffers' lengths and the shapes fit each other and the lanes: every
    /// offset the kernels compute from `self` then stays inside the buffers.
    fn check(&self, isa: Isa, xp: usize, other: usize, other_len: usize) {
        assert!(
            self.kh >= 1 && self.kw >= 1 && self.hp >= self.kh && self.wp >= self.kw,
            "direct conv: the kernel does not fit the padded input in {self:?}"
        );
        assert!(
            self.o > 0 && self.o.is_multiple_of(isa.lanes()),
            "direct conv: {self:?} has no channels or unpadded ones"
        );
        assert!(
            xp == self.input_len() && other == other_len,
            "direct conv: buffers of {xp} and {other} floats do not fit {self:?}"
        );
    }
    /// Filter values per input row: `kw * c`.
    fn span(&self) -> usize {
        self.kw * self.c
    }
    /// Floats in one padded input row.
    fn input_row(&self) -> usize {
        self.wp * self.c
    }
    /// Floats in the padded input `[n, hp, wp, c]`.
    fn input_len(&self) -> usize {
        self.n * self.hp * self.input_row()
    }
    /// Floats in the filters `[kh, kw * c, o]`.
    fn filters_len(&self) -> usize {
        self.kh * self.span() * self.o
    }
    /// Floats in the output `[n, oh, ow, o]`.
    fn output_len(&self) -> usize {
        self.n * self.oh() * self.ow() * self.o
    }
}

/// An output value the kernels store (nothing reads it before).
type Out = MaybeUninit<f32>;

/// Below this many output values a forward pass runs on one thread (each value is a long
/// sum: a quarter of the threshold elementwise work uses).
const DIRECT_PARALLEL_MIN: usize = 1 << 14;

/// Tile widths tried, widest first: a row of `ow` outputs is covered greedily.
const TILES: [usize; 5] = [14, 7, 4, 2, 1];

/// The widest tile of at most `left` outputs whose accumulators fit `accumulators` registers
/// with `nv` vectors each.
fn tile_width(left: usize, nv: usize, accumulators: usize) -> usize {
    let fits = |&&t: &&usize| t <= left && t * nv <= accumulators;
    *TILES.iter().find(fits).unwrap_or(&1)
}

/// Calls `$f::<$L, NV, PX>($args)` for the runtime `nv` and `px`, each a size [`TILES`] and
/// [`tile_width`] can produce.
macro_rules! with_tile {
    ($f:ident::<$L:ty>($nv:expr, $px:expr; $($arg:expr),*)) => {
        match ($nv, $px) {
            (2, 14) => $f::<$L, 2, 14>($($arg),*),
            (2, 7) => $f::<$L, 2, 7>($($arg),*),
            (2, 4) => $f::<$L, 2, 4>($($arg),*),
            (2, 2) => $f::<$L, 2, 2>($($arg),*),
            (2, 1) => $f::<$L, 2, 1>($($arg),*),
            (1, 14) => $f::<$L, 1, 14>($($arg),*),
            (1, 7) => $f::<$L, 1, 7>($($arg),*),
            (1, 4) => $f::<$L, 1, 4>($($arg),*),
            (1, 2) => $f::<$L, 1, 2>($($arg),*),
            (1, 1) => $f::<$L, 1, 1>($($arg),*),
            (nv, px) => unreachable!("no tile of {nv} vectors by {px} outputs"),
        }
    };
}

/// `xp ⋆ w`, channels last: `xp` `[n, hp, wp, c]` and `w` `[kh, kw, c, o]` give
/// `[n, oh, ow, o]`. Rows of the output are split across threads.
pub(crate) fn forward(isa: Isa, g: Geometry, xp: &[f32], w: &[f32]) -> Vec<f32> {
    g.check(isa, xp.len(), w.len(), g.filters_len());
    let row = g.ow() * g.o;
    let mut out = Vec::with_capacity(g.output_len());
    for_each_part(
        &mut out.spare_capacity_mut()[..g.output_len()],
        row,
        DIRECT_PARALLEL_MIN,
        |start, part| {
            let first = start / row;
            // SAFETY: the lengths were checked above against `g`, which every offset in the
            // kernel stays within; only detection makes an `Isa`, so the CPU has it.
            unsafe {
                match isa.kind() {
                    #[cfg(target_arch = "x86_64")]
                    Kind::Avx512 => forward_avx512(g, xp, w, part, first),
                    #[cfg(target_arch = "x86_64")]
                    Kind::Avx2 => forward_avx2(g, xp, w, part, first),
                    _ => forward_rows::<Portable>(g, xp, w, part, first),
                }
            }
        },
    );
    // SAFETY: every row stored each of its tiles for every channel block: all of it.
    unsafe { out.set_len(g.output_len()) };
    out
}

/// `dw[i, r, o] = sum over (b, y, x) of xp[b, y + i, x * c + r] * gr[b, y, x, o]`, with `xp`
/// `[n, hp, wp, c]` and the output's gradient `gr` `[n, oh, ow, o]`, as `[kh, kw, c, o]`.
/// Rows of `dw` are split across threads; each sums the positions in order.
pub(crate) fn weight_grad(isa: Isa, g: Geometry, xp: &[f32], gr: &[f32]) -> Vec<f32> {
    g.check(isa, xp.len(), gr.len(), g.output_len());
    let mut dw = Vec::with_capacity(g.filters_len());
    // Every weight's sum reads all positions: split even small ones.
    for_each_part(
        &mut dw.spare_capacity_mut()[..g.filters_len()],
        g.o,
        0,
        |start, part| {
            let first = start / g.o;
            // SAFETY: as in `forward`.
            unsafe {
                match isa.kind() {
                    #[cfg(target_arch = "x86_64")]
                    Kind::Avx512 => weight_grad_avx512(g, xp, gr, part, first),
                    #[cfg(target_arch = "x86_64")]
                    Kind::Avx2 => weight_grad_avx2(g, xp, gr, part, first),
                    _ => weight_grad_rows::<Portable>(g, xp, gr, part, first),
                }
            }
        },
    );
    // SAFETY: every row stored each of its channel blocks: all of it.
    unsafe { dw.set_len(g.filters_len()) };
    dw
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_avx512(g: Geometry, xp: &[f32], w: &[f32], out: &mut [Out], first: usize) {
    // SAFETY: the caller's promise, passed on.
    unsafe { forward_rows::<Avx512>(g, xp, w, out, first) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2(g: Geometry, xp: &[f32], w: &[f32], out: &mut [Out], first: usize) {
    // SAFETY: the caller's promise, passed on.
    unsafe { forward_rows::<Avx2>(g, xp, w, out, first) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn weight_grad_avx512(g: Geometry, xp: &[f32], gr: &[f32], dw: &mut [Out], first: usize) {
    // SAFETY: the caller's promise, passed on.
    unsafe { weight_grad_rows::<Avx512>(g, xp, gr, dw, first) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn weight_grad_avx2(g: Geometry, xp: &[f32], gr: &[f32], dw: &mut [Out], first: usize) {
    // SAFETY: the caller's promise, passed on.
    unsafe { weight_grad_rows::<Avx2>(g, xp, gr, dw, first) }
}

/// The output rows `first..` that `out` holds (`out` starts at row `first` of all
/// `n * oh` rows), each tiled greedily.
///
/// SAFETY: the buffers fit `g` (as `forward` checks) and `L`'s instructions run on this CPU.
#[inline(always)]
unsafe fn forward_rows<L: Lanes>(
    g: Geometry,
    xp: &[f32],
    w: &[f32],
    out: &mut [Out],
    first: usize,
) {
    let (oh, ow, o) = (g.oh(), g.ow(), g.o);
    for (k, out_row) in out.chunks_exact_mut(ow * o).enumerate() {
        let (b, y) = ((first + k) / oh, (first + k) % oh);
        let input = xp[(b * g.hp + y) * g.input_row()..].as_ptr();
        let mut block = 0;
        while block < o {
            let nv = vectors_in_block::<L>(o - block);
            let mut x = 0;
            while x < ow {
                let px = tile_width(ow - x, nv, L::ACCUMULATORS);
                // SAFETY: outputs x..x + px of this row and channels block..block + nv lanes
                // lie inside `out_row`; the inputs they read lie inside rows y..y + kh of
                // image b (x + px + kw - 1 <= wp); the filters' offsets inside `w`.
                unsafe {
                    let input = input.add(x * g.c);
                    let to = out_row.as_mut_ptr().cast::<f32>().add(x * o + block);
                    let filters = w.as_ptr().add(block);
                    with_tile!(forward_tile::<L>(nv, px; g, input, filters, to));
                }
                x += px;
            }
            block += nv * L::LANES;
        }
    }
}

/// How many vectors of channels a tile takes when `left` channels remain: 2, or the last 1.
fn vectors_in_block<L: Lanes>(left: usize) -> usize {
    if left >= 2 * L::LANES {
        2
    } else {
        1
    }
}

/// Stores a tile's sums: `PX` rows `o` floats apart, `NV` vectors each.
///
/// SAFETY: `to` is in bounds for `PX` rows of `NV` vectors; `L` runs on this CPU.
#[inline(always)]
unsafe fn store_tile<L: Lanes, const NV: usize, const PX: usize>(
    acc: &[[L::V; NV]; PX],
    to: *mut f32,
    o: usize,
) {
    for (t, acc) in acc.iter().enumerate() {
        for (v, &sum) in acc.iter().enumerate() {
            // SAFETY: the caller's promise.
            unsafe { L::store(to.add(t * o + v * L::LANES), sum) };
        }
    }
}

/// One tile: `PX` outputs of a row, `NV` vectors of output channels, summed over the whole
/// filter in registers, then stored.
///
/// SAFETY: `input` points at the first input value of the tile's first output (in its top
/// row), `filters` at `w[0, 0, block]`, `to` at the tile's first output; all in bounds for
/// `PX` outputs and `NV` vectors.
#[inline(always)]
unsafe fn forward_tile<L: Lanes, const NV: usize, const PX: usize>(
    g: Geometry,
    input: *const f32,
    filters: *const f32,
    to: *mut f32,
) {
    // SAFETY: the caller's promise on every pointer; `L` runs on this CPU.
    unsafe {
        let mut acc = [[L::zero(); NV]; PX];
        for i in 0..g.kh {
            let row = input.add(i * g.input_row());
            let w_row = filters.add(i * g.span() * g.o);
            for r in 0..g.span() {
                let w: [L::V; NV] =
                    std::array::from_fn(|v| L::load(w_row.add(r * g.o + v * L::LANES)));
                for (t, acc) in acc.iter_mut().enumerate() {
                    let x = L::splat(*row.add(t * g.c + r));
                    for v in 0..NV {
                        acc[v] = L::mul_add(x, w[v], acc[v]);
                    }
                }
            }
        }
        store_tile::<L, NV, PX>(&acc, to, g.o);
    }
}

/// The weight-gradient rows `first..` that `dw` holds (row `i * span + r` of `[kh, span, o]`),
/// cut into tiles of neighbouring rows (a tile may span kernel rows: a thin filter, such as a
/// first layer's `kw * 1`, still fills the registers).
///
/// SAFETY: as for [`forward_rows`].
#[inline(always)]
unsafe fn weight_grad_rows<L: Lanes>(
    g: Geometry,
    xp: &[f32],
    gr: &[f32],
    dw: &mut [Out],
    first: usize,
) {
    let (span, o) = (g.span(), g.o);
    let rows = dw.len() / o;
    let mut block = 0;
    while block < o {
        let nv = vectors_in_block::<L>(o - block);
        let mut k = 0;
        while k < rows {
            let px = tile_width(rows - k, nv, L::ACCUMULATORS);
            // Row i * span + r of the filters reads input row y + i from column x * c + r.
            let at = |t: usize| (first + k + t) / span * g.input_row() + (first + k + t) % span;
            // SAFETY: rows k..k + px of `dw` are inside it; each row's inputs start at its
            // column r of its row i of each image and end within that row.
            unsafe {
                let to = dw.as_mut_ptr().cast::<f32>().add(k * o + block);
                let grads = gr.as_ptr().add(block);
                with_tile!(weight_grad_tile::<L>(nv, px; g, xp.as_ptr(), at, grads, to));
            }
            k += px;
        }
        block += nv * L::LANES;
    }
}

/// One tile of the weight gradient: `PX` neighbouring rows of the filters, `NV` vectors of
/// output channels, each summed over every output position `(b, y, x)` in order. Row `t`
/// reads the inputs from `xp` plus `at(t)` on.
///
/// SAFETY: `xp` is the padded input, `at(t)` the offset of row `t`'s first input in image 0,
/// `grads` points at `gr[0, 0, 0, block]`, `to` at the tile's first row of `dw` at `block`;
/// all in bounds for `PX` rows and `NV` vectors.
#[inline(always)]
unsafe fn weight_grad_tile<L: Lanes, const NV: usize, const PX: usize>(
    g: Geometry,
    xp: *const f32,
    at: impl Fn(usize) -> usize,
    grads: *const f32,
    to: *mut f32,
) {
    let (oh, ow) = (g.oh(), g.ow());
    let offsets: [usize; PX] = std::array::from_fn(at);
    // SAFETY: the caller's promise on every pointer; `L` runs on this CPU.
    unsafe {
        let mut acc = [[L::zero(); NV]; PX];
        for b in 0..g.n {
            for y in 0..oh {
                let row = xp.add((b * g.hp + y) * g.input_row());
                let grad_row = grads.add((b * oh + y) * ow * g.o);
                for x in 0..ow {
                    let gv: [L::V; NV] =
                        std::array::from_fn(|v| L::load(grad_row.add(x * g.o + v * L::LANES)));
                    let pixels = row.add(x * g.c);
                    for (t, acc) in acc.iter_mut().enumerate() {
                        let p = L::splat(*pixels.add(offsets[t]));
                        for v in 0..NV {
                            acc[v] = L::mul_add(p, gv[v], acc[v]);
                        }
                    }
                }
            }
        }
        store_tile::<L, NV, PX>(&acc, to, g.o);
    }
}
