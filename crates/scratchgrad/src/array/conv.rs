//! Convolution and pooling on `[batch, channels, height, width]` (NCHW) arrays, the layout
//! PyTorch uses. Convolution is im2col + one matrix product, as candle and burn do on the CPU:
//! every input patch becomes a column, so a whole batch's convolution is a single large product
//! (which the matrix kernel runs fast and splits across threads) and its backward pass is two
//! more products plus col2im, the inverse scatter.
//!
//! Patches are laid out `[channels * kh * kw, batch * out_h * out_w]`: a row per weight of a
//! filter, a column per output position of every image.

use super::threads::for_each_part;
use super::{Array, Float};

/// Below this many values, convolution's data movement stays on one thread.
const PARALLEL_MIN: usize = 1 << 16;

/// Where a window (a kernel, or a pooling window) sits: its size, its step, and the zeros
/// added around the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Step between windows, in both directions.
    pub stride: usize,
    /// Zeros added on every side.
    pub padding: usize,
}

impl Window {
    /// A `k x k` window with stride 1 and no padding.
    pub fn square(k: usize) -> Self {
        Window {
            kh: k,
            kw: k,
            stride: 1,
            padding: 0,
        }
    }

    /// A `k x k` pooling window: stride `k`, no padding.
    pub fn square_pool(k: usize) -> Self {
        Window {
            kh: k,
            kw: k,
            stride: k,
            padding: 0,
        }
    }

    /// Panics, naming both shapes, unless `weight` is `[out, in, kh, kw]` with this window's
    /// kernel and `bias` is `[out]`: the check both engines' `Conv2d` make of their parameters.
    ///
    /// ```
    /// use scratchgrad::array::Window;
    /// Window::square(5).assert_filters_fit(&[16, 1, 5, 5], &[16]);
    /// ```
    pub fn assert_filters_fit(&self, weight: &[usize], bias: &[usize]) {
        let fits = weight.len() == 4 && bias == [weight[0]] && weight[2..] == [self.kh, self.kw];
        assert!(
            fits,
            "Conv2d: weight {weight:?} and bias {bias:?} do not fit a {}x{} kernel ([out, in, kh, kw] and [out])",
            self.kh,
            self.kw
        );
    }

    /// The output height and width for an `h x w` input, or `None` when the window does not
    /// fit (or a size is 0).
    pub fn output_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let (ph, pw) = (h + 2 * self.padding, w + 2 * self.padding);
        if self.stride == 0 || self.kh == 0 || self.kw == 0 || ph < self.kh || pw < self.kw {
            return None;
        }
        Some((
            (ph - self.kh) / self.stride + 1,
            (pw - self.kw) / self.stride + 1,
        ))
    }
}

/// The four sizes of an NCHW shape, or a panic naming the operation.
fn nchw(op: &str, shape: &[usize]) -> (usize, usize, usize, usize) {
    assert!(
        shape.len() == 4,
        "{op}: needs a [batch, channels, height, width] input, got {shape:?}"
    );
    (shape[0], shape[1], shape[2], shape[3])
}

fn out_size(op: &str, window: &Window, shape: &[usize]) -> (usize, usize) {
    let (_, _, h, w) = nchw(op, shape);
    window.output_size(h, w).unwrap_or_else(|| {
        panic!(
            "{op}: a {}x{} window with padding {} does not fit an input of {shape:?}",
            window.kh, window.kw, window.padding
        )
    })
}

/// Pooling reads its windows without padding (the layer grammar gives it none): a window
/// with padding would read outside the input, so it is refused with the operation's name.
fn no_padding(op: &str, window: &Window) {
    assert!(
        window.padding == 0,
        "{op}: pooling takes no padding, but the window has padding {}",
        window.padding
    );
}

/// The output columns `lo..hi` whose input column `x * stride + j - padding` falls inside a
/// row of `w` pixels (the others read padding).
fn valid_range(j: usize, ow: usize, w: usize, window: &Window) -> (usize, usize) {
    let (s, p) = (window.stride, window.padding);
    let lo = p.saturating_sub(j).div_ceil(s).min(ow);
    let hi = (w + p).saturating_sub(j).div_ceil(s).clamp(lo, ow);
    // When lo < hi, lo * s + j >= p: the first input column read is inside the row.
    (lo, hi)
}

/// Max pooling's common case, 2x2 windows with stride 2, over one plane of width `w` (the
/// same choices as the general loop, with the comparisons laid out for the compiler).
fn max_pool_2x2<T: Float>(
    image: &[T],
    w: usize,
    base: usize,
    pooled: &mut [(T, usize)],
    ow: usize,
) {
    let take = |best: (T, usize), v: T, at: usize| {
        if v > best.0 || (v.is_nan() && !best.0.is_nan()) {
            (v, at)
        } else {
            best
        }
    };
    for (y, row) in pooled.chunks_exact_mut(ow).enumerate() {
        let (top, bottom) = (
            &image[2 * y * w..2 * y * w + 2 * ow],
            &image[(2 * y + 1) * w..(2 * y + 1) * w + 2 * ow],
        );
        let pairs = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for (x, (slot, (t, b))) in row.iter_mut().zip(pairs).enumerate() {
            let at = base + 2 * y * w + 2 * x;
            let mut best = (t[0], at);
            best = take(best, t[1], at + 1);
            best = take(best, b[0], at + w);
            best = take(best, b[1], at + w + 1);
            *slot = best;
        }
    }
}

/// The input row that output row `y` reads at kernel row `i`, or `None` in the padding.
fn input_index(y: usize, i: usize, h: usize, window: &Window) -> Option<usize> {
    (y * window.stride + i)
        .checked_sub(window.padding)
        .filter(|&iy| iy < h)
}

impl<T: Float> Array<T> {
    /// The patches of an NCHW array as columns: `[c * kh * kw, n * out_h * out_w]`, row
    /// `(ci, i, j)` holding input pixel `(y * stride + i - padding, x * stride + j - padding)`
    /// of channel `ci` for each output position `(n, y, x)` (0 where that falls in the padding).
    ///
    /// ```
    /// use scratchgrad::array::{Array, Window};
    /// let x = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
    /// let cols = x.im2col(&Window::square(2));
    /// assert_eq!(cols.shape(), &[4, 1]); // one 2x2 patch, as one column
    /// assert_eq!(cols.data(), &[1.0, 2.0, 3.0, 4.0]);
    /// ```
    pub fn im2col(&self, window: &Window) -> Array<T> {
        let (n, c, h, w) = nchw("im2col", &self.shape);
        let (oh, ow) = out_size("im2col", window, &self.shape);
        let (rows, columns) = (c * window.kh * window.kw, n * oh * ow);
        let mut cols = vec![T::ZERO; rows * columns];
        // Rows are independent: split them across threads.
        for_each_part(&mut cols, columns, PARALLEL_MIN, |start, part| {
            for (r, out) in part.chunks_exact_mut(columns).enumerate() {
                let row = start / columns + r;
                let (ci, i, j) = (
                    row / (window.kh * window.kw),
                    row / window.kw % window.kh,
                    row % window.kw,
                );
                let (lo, hi) = valid_range(j, ow, w, window);
                if lo == hi {
                    continue; // this kernel column reads only padding
                }
                let first = lo * window.stride + j - window.padding;
                for b in 0..n {
                    let image = &self.data[(b * c + ci) * h * w..(b * c + ci + 1) * h * w];
                    for y in 0..oh {
                        let Some(iy) = input_index(y, i, h, window) else {
                            continue;
                        };
                        let line = &image[iy * w..(iy + 1) * w];
                        let dst = &mut out[(b * oh + y) * ow + lo..(b * oh + y) * ow + hi];
                        if window.stride == 1 {
                            dst.copy_from_slice(&line[first..first + (hi - lo)]);
                        } else {
                            let from = line[first..].iter().step_by(window.stride);
                            dst.iter_mut().zip(from).for_each(|(d, &v)| *d = v);
                        }
                    }
                }
            }
        });
        Array::from_vec(cols, &[rows, columns])
    }

    /// The inverse scatter of [`Array::im2col`]: each column entry is added back to the input
    /// pixel it was read from (padding positions are dropped), giving an array of `shape`.
    /// This is how a convolution's gradient reaches its input.
    pub fn col2im(&self, shape: &[usize], window: &Window) -> Array<T> {
        let (n, c, h, w) = nchw("col2im", shape);
        let (oh, ow) = out_size("col2im", window, shape);
        let (columns, plane) = (n * oh * ow, oh * ow);
        assert!(
            self.shape == [c * window.kh * window.kw, columns],
            "col2im: columns {:?} do not fit an input of {shape:?} ({} x {columns} expected)",
            self.shape,
            c * window.kh * window.kw
        );
        let mut image_data = vec![T::ZERO; n * c * h * w];
        // Each image's pixels gather from its own columns: split the images across threads.
        for_each_part(&mut image_data, c * h * w, PARALLEL_MIN, |start, part| {
            for (k, image) in part.chunks_exact_mut(c * h * w).enumerate() {
                let b = start / (c * h * w) + k;
                for ci in 0..c {
                    let channel = &mut image[ci * h * w..(ci + 1) * h * w];
                    for i in 0..window.kh {
                        for j in 0..window.kw {
                            let row = (ci * window.kh + i) * window.kw + j;
                            let src = &self.data
                                [row * columns + b * plane..row * columns + (b + 1) * plane];
                            let (lo, hi) = valid_range(j, ow, w, window);
                            if lo == hi {
                                continue; // this kernel column reads only padding
                            }
                            let first = lo * window.stride + j - window.padding;
                            for y in 0..oh {
                                let Some(iy) = input_index(y, i, h, window) else {
                                    continue;
                                };
                                let line = &mut channel[iy * w..(iy + 1) * w];
                                let from = &src[y * ow + lo..y * ow + hi];
                                if window.stride == 1 {
                                    let to = &mut line[first..first + (hi - lo)];
                                    to.iter_mut().zip(from).for_each(|(t, &v)| *t += v);
                                } else {
                                    let to = line[first..].iter_mut().step_by(window.stride);
                                    to.zip(from).for_each(|(t, &v)| *t += v);
                                }
                            }
                        }
                    }
                }
            }
        });
        Array::from_vec(image_data, shape)
    }

    /// A convolution's output from its product in rows (`[n * oh * ow, out_channels]`, one row
    /// per output position): the NCHW array `[n, out_channels, oh, ow]`, plus `bias[o]` on
    /// channel `o` if given.
    pub fn rows_to_nchw(
        &self,
        n: usize,
        (oh, ow): (usize, usize),
        bias: Option<&Array<T>>,
    ) -> Array<T> {
        let (plane, o) = (oh * ow, self.shape[1]);
        assert!(
            self.shape == [n * plane, o],
            "rows_to_nchw: {:?} is not [{n} x {oh} x {ow}, {o}]",
            self.shape
        );
        let mut out = vec![T::ZERO; n * o * plane];
        for b in 0..n {
            let rows = &self.data[b * plane * o..(b + 1) * plane * o];
            for ch in 0..o {
                let add = bias.map_or(T::ZERO, |bias| bias.data[ch]);
                let to = &mut out[(b * o + ch) * plane..(b * o + ch + 1) * plane];
                for (t, row) in to.iter_mut().zip(rows.chunks_exact(o)) {
                    *t = row[ch] + add;
                }
            }
        }
        Array::from_vec(out, &[n, o, oh, ow])
    }

    /// `[n, c, h, w]` as rows, `[n * h * w, c]`: one row per position, as
    /// [`Array::rows_to_nchw`] reads them.
    pub fn nchw_to_rows(&self) -> Array<T> {
        let (n, c, h, w) = nchw("nchw_to_rows", &self.shape);
        let plane = h * w;
        let mut out = vec![T::ZERO; self.len()];
        for b in 0..n {
            let rows = &mut out[b * plane * c..(b + 1) * plane * c];
            for ch in 0..c {
                let from = &self.data[(b * c + ch) * plane..(b * c + ch + 1) * plane];
                for (row, &v) in rows.chunks_exact_mut(c).zip(from) {
                    row[ch] = v;
                }
            }
        }
        Array::from_vec(out, &[n * plane, c])
    }

    /// `[n, c, h, w]` as `[c, n * h * w]`: one row per channel, in the columns' order.
    pub fn nchw_to_channels(&self) -> Array<T> {
        let (n, c, h, w) = nchw("nchw_to_channels", &self.shape);
        let plane = h * w;
        let mut out = vec![T::ZERO; self.len()];
        for ch in 0..c {
            for b in 0..n {
                let from = &self.data[(b * c + ch) * plane..(b * c + ch + 1) * plane];
                out[ch * n * plane + b * plane..ch * n * plane + (b + 1) * plane]
                    .copy_from_slice(from);
            }
        }
        Array::from_vec(out, &[c, n * plane])
    }

    /// 2-D convolution (PyTorch's `conv2d`, a cross-correlation) of an NCHW input with
    /// `weight` `[out, in, kh, kw]` and an optional `bias` `[out]`. Returns the output and the
    /// input's columns (kept for the backward pass).
    ///
    /// ```
    /// use scratchgrad::array::{Array, Window};
    /// let x = Array::from_vec((1..=9).map(f64::from).collect(), &[1, 1, 3, 3]);
    /// let w = Array::from_vec(vec![1.0, 0.0, 0.0, -1.0], &[1, 1, 2, 2]); // x[i,j] - x[i+1,j+1]
    /// let (y, _) = x.conv2d(&w, None, &Window::square(2));
    /// assert_eq!(y.data(), &[-4.0, -4.0, -4.0, -4.0]);
    /// ```
    pub fn conv2d(
        &self,
        weight: &Array<T>,
        bias: Option<&Array<T>>,
        window: &Window,
    ) -> (Array<T>, Array<T>) {
        let (n, c, _, _) = nchw("conv2d", &self.shape);
        let fits = weight.ndim() == 4
            && weight.shape[1] == c
            && weight.shape[2] == window.kh
            && weight.shape[3] == window.kw
            && bias.is_none_or(|b| b.shape == [weight.shape[0]]);
        assert!(
            fits,
            "conv2d: weight {:?} (and bias {:?}) do not fit input {:?} with a {}x{} kernel",
            weight.shape,
            bias.map(|b| b.shape.clone()),
            self.shape,
            window.kh,
            window.kw
        );
        let size = out_size("conv2d", window, &self.shape);
        let cols = self.im2col(window);
        let o = weight.shape[0];
        let filters = weight.reshape(&[o, c * window.kh * window.kw]);
        // Y^T = X_cols^T W^T: one row per output position. The same product as W X_cols, in
        // the orientation the matrix kernel runs fastest for these shapes (long side first).
        let rows = cols.matmul_t(true, &filters, true);
        (rows.rows_to_nchw(n, size, bias), cols)
    }

    /// Max pooling over each window of an NCHW array (no padding): the output and, for each
    /// output, the flat index into `self` of the element it took. Among equal elements the
    /// first in the window (row by row) is taken, as PyTorch does; a NaN is always taken.
    pub fn max_pool2d(&self, window: &Window) -> (Array<T>, Array<usize>) {
        no_padding("max_pool2d", window);
        let (n, c, h, w) = nchw("max_pool2d", &self.shape);
        let (oh, ow) = out_size("max_pool2d", window, &self.shape);
        let mut out = vec![(T::ZERO, 0usize); n * c * oh * ow];
        // Planes are independent: split them across threads.
        for_each_part(&mut out, oh * ow, PARALLEL_MIN, |start, part| {
            for (k, pooled) in part.chunks_exact_mut(oh * ow).enumerate() {
                let base = (start / (oh * ow) + k) * h * w;
                let image = &self.data[base..base + h * w];
                if *window == Window::square_pool(2) {
                    max_pool_2x2(image, w, base, pooled, ow);
                    continue;
                }
                for (y, row) in pooled.chunks_exact_mut(ow).enumerate() {
                    let y0 = y * window.stride;
                    for (x, slot) in row.iter_mut().enumerate() {
                        let x0 = x * window.stride;
                        let mut best = (image[y0 * w + x0], y0 * w + x0);
                        for i in 0..window.kh {
                            let at = (y0 + i) * w + x0;
                            for (j, &v) in image[at..at + window.kw].iter().enumerate() {
                                // Only a larger value replaces the best, so the first of equal
                                // ones stays; a NaN is always taken (as PyTorch does).
                                if v > best.0 || (v.is_nan() && !best.0.is_nan()) {
                                    best = (v, at + j);
                                }
                            }
                        }
                        *slot = (best.0, base + best.1);
                    }
                }
            }
        });
        let shape = [n, c, oh, ow];
        let (values, argmax) = out.into_iter().unzip();
        (
            Array::from_vec(values, &shape),
            Array::from_vec(argmax, &shape),
        )
    }

    /// Average pooling over each window of an NCHW array (no padding).
    pub fn avg_pool2d(&self, window: &Window) -> Array<T> {
        no_padding("avg_pool2d", window);
        let (n, c, h, w) = nchw("avg_pool2d", &self.shape);
        let (oh, ow) = out_size("avg_pool2d", window, &self.shape);
        let scale = T::ONE / T::from_usize(window.kh * window.kw);
        let mut out = Vec::with_capacity(n * c * oh * ow);
        for plane in 0..n * c {
            let image = &self.data[plane * h * w..(plane + 1) * h * w];
            for y in 0..oh {
                for x in 0..ow {
                    let (y0, x0) = (y * window.stride, x * window.stride);
                    let mut sum = T::ZERO;
                    for i in 0..window.kh {
                        let row = &image[(y0 + i) * w + x0..(y0 + i) * w + x0 + window.kw];
                        sum += row.iter().copied().sum::<T>();
                    }
                    out.push(sum * scale);
                }
            }
        }
        Array::from_vec(out, &[n, c, oh, ow])
    }

    /// The gradient of [`Array::avg_pool2d`]: each output's gradient spread evenly over its
    /// window, giving an array of `shape` (the input's).
    pub fn avg_pool2d_backward(&self, shape: &[usize], window: &Window) -> Array<T> {
        no_padding("avg_pool2d backward", window);
        let (n, c, h, w) = nchw("avg_pool2d backward", shape);
        let (oh, ow) = out_size("avg_pool2d backward", window, shape);
        assert!(
            self.shape == [n, c, oh, ow],
            "avg_pool2d backward: gradient {:?} does not fit input {shape:?}",
            self.shape
        );
        let scale = T::ONE / T::from_usize(window.kh * window.kw);
        let mut grad = vec![T::ZERO; n * c * h * w];
        for plane in 0..n * c {
            let image = &mut grad[plane * h * w..(plane + 1) * h * w];
            for y in 0..oh {
                for x in 0..ow {
                    let share = self.data[(plane * oh + y) * ow + x] * scale;
                    let (y0, x0) = (y * window.stride, x * window.stride);
                    for i in 0..window.kh {
                        for v in &mut image[(y0 + i) * w + x0..(y0 + i) * w + x0 + window.kw] {
                            *v += share;
                        }
                    }
                }
            }
        }
        Array::from_vec(grad, shape)
    }

    /// Adds each element of `self` at the flat index `index` holds for it, into zeros of
    /// `shape`: the gradient of a max pool goes back to the elements it took.
    pub fn scatter_to(&self, index: &Array<usize>, shape: &[usize]) -> Array<T> {
        assert!(
            index.shape() == self.shape(),
            "scatter_to: index {:?} does not fit values {:?}",
            index.shape(),
            self.shape
        );
        let mut out = vec![T::ZERO; shape.iter().product()];
        for (&i, &v) in index.data().iter().zip(&self.data) {
            out[i] += v;
        }
        Array::from_vec(out, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;

    #[test]
    #[should_panic(expected = "weight [16, 1, 3, 3] and bias [16] do not fit a 5x5 kernel")]
    fn filters_of_another_size_are_refused_naming_both_shapes() {
        Window::square(5).assert_filters_fit(&[16, 1, 3, 3], &[16]);
    }

    /// The textbook six nested loops, as the reference.
    fn direct(x: &Array<f64>, wt: &Array<f64>, window: &Window) -> Array<f64> {
        let (n, c, h, w) = nchw("t", x.shape());
        let (o, (oh, ow)) = (wt.shape()[0], window.output_size(h, w).unwrap());
        let mut out = Array::zeros(&[n, o, oh, ow]);
        for b in 0..n {
            for oc in 0..o {
                for y in 0..oh {
                    for xx in 0..ow {
                        let mut s = 0.0;
                        for ci in 0..c {
                            for i in 0..window.kh {
                                for j in 0..window.kw {
                                    let iy =
                                        (y * window.stride + i) as isize - window.padding as isize;
                                    let ix =
                                        (xx * window.stride + j) as isize - window.padding as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w
                                    {
                                        s += x.at(&[b, ci, iy as usize, ix as usize])
                                            * wt.at(&[oc, ci, i, j]);
                                    }
                                }
                            }
                        }
                        out.data_mut()[((b * o + oc) * oh + y) * ow + xx] = s;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn conv2d_matches_the_nested_loops() {
        let mut rng = Rng::seed(4);
        for (shape, (o, kh, kw), stride, padding) in [
            ([2, 3, 7, 6], (4, 3, 2), 1, 0),
            ([1, 1, 9, 9], (5, 5, 5), 2, 2),
            ([3, 2, 5, 8], (2, 1, 3), 3, 1),
        ] {
            let x = Array::<f64>::rand_uniform(&shape, -1.0, 1.0, &mut rng);
            let wt = Array::rand_uniform(&[o, shape[1], kh, kw], -1.0, 1.0, &mut rng);
            let window = Window {
                kh,
                kw,
                stride,
                padding,
            };
            let (y, _) = x.conv2d(&wt, None, &window);
            assert!(
                y.allclose(&direct(&x, &wt, &window), 1e-12, 1e-12),
                "{shape:?}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "max_pool2d: pooling takes no padding, but the window has padding 1")]
    fn pooling_refuses_a_padded_window() {
        // It ignored the padding and indexed past the input's end.
        let window = Window {
            padding: 1,
            ..Window::square_pool(3)
        };
        Array::<f32>::zeros(&[1, 1, 4, 4]).max_pool2d(&window);
    }

    #[test]
    fn kernels_wider_than_the_padded_edge_read_only_padding() {
        // A 1-pixel-wide input with padding 2: some kernel columns see nothing but zeros.
        let mut rng = Rng::seed(6);
        let x = Array::<f64>::rand_uniform(&[2, 1, 3, 1], -1.0, 1.0, &mut rng);
        let wt = Array::<f64>::rand_uniform(&[2, 1, 5, 5], -1.0, 1.0, &mut rng);
        for stride in [1, 2, 3] {
            let window = Window {
                kh: 5,
                kw: 5,
                stride,
                padding: 2,
            };
            let (y, cols) = x.conv2d(&wt, None, &window);
            assert!(
                y.allclose(&direct(&x, &wt, &window), 1e-12, 1e-12),
                "stride {stride}"
            );
            let back = cols.col2im(x.shape(), &window);
            assert_eq!(back.shape(), x.shape());
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for any x and c: the defining property of the
        // gradient's scatter.
        let mut rng = Rng::seed(5);
        let window = Window {
            kh: 3,
            kw: 2,
            stride: 2,
            padding: 1,
        };
        let x = Array::<f64>::rand_uniform(&[2, 3, 6, 5], -1.0, 1.0, &mut rng);
        let cols = x.im2col(&window);
        let c = Array::<f64>::rand_uniform(cols.shape(), -1.0, 1.0, &mut rng);
        let left: f64 = cols.data().iter().zip(c.data()).map(|(a, b)| a * b).sum();
        let back = c.col2im(x.shape(), &window);
        let right: f64 = x.data().iter().zip(back.data()).map(|(a, b)| a * b).sum();
        assert!((left - right).abs() < 1e-12, "{left} vs {right}");
    }

    #[test]
    fn max_pool_takes_the_first_of_equal_maxima() {
        // Both the general loop (stride 1) and the 2x2, stride-2 path.
        let x = Array::from_vec(vec![1.0, 3.0, 3.0, 2.0], &[1, 1, 2, 2]);
        for window in [Window::square(2), Window::square_pool(2)] {
            let (y, at) = x.max_pool2d(&window);
            assert_eq!((y.data(), at.data()), (&[3.0][..], &[1usize][..]));
        }
        let nan = Array::from_vec(vec![1.0, f64::NAN, 3.0, 2.0], &[1, 1, 2, 2]);
        assert!(nan.max_pool2d(&Window::square_pool(2)).0.data()[0].is_nan());
    }

    #[test]
    #[should_panic(
        expected = "conv2d: weight [4, 2, 3, 3] (and bias None) do not fit input [1, 3, 5, 5]"
    )]
    fn mismatched_channels_name_both_shapes() {
        Array::<f32>::zeros(&[1, 3, 5, 5]).conv2d(
            &Array::zeros(&[4, 2, 3, 3]),
            None,
            &Window::square(3),
        );
    }
}
