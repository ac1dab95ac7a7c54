//! The im2col + GEMM convolution on `[batch, channels, height, width]` (NCHW) arrays, the
//! layout PyTorch uses, as candle and burn compute it on the CPU (`conv_path.rs` says when
//! the direct kernels are used instead): every input patch becomes a column, so a whole batch's convolution is a single large product
//! (which the matrix kernel runs fast and splits across threads) and its backward pass is two
//! more products plus col2im, the inverse scatter.
//!
//! Patches are laid out `[channels * kh * kw, batch * out_h * out_w]`: a row per weight of a
//! filter, a column per output position of every image.

use super::threads::for_each_part;
use super::window::{nchw, out_size, Window, PARALLEL_MIN};
use super::{Array, Float};

/// The output columns `lo..hi` whose input column `x * stride + j - padding` falls inside a
/// row of `w` pixels (the others read padding).
fn valid_range(j: usize, ow: usize, w: usize, window: &Window) -> (usize, usize) {
    let (s, p) = (window.stride, window.padding);
    let lo = p.saturating_sub(j).div_ceil(s).min(ow);
    let hi = (w + p).saturating_sub(j).div_ceil(s).clamp(lo, ow);
    // When lo < hi, lo * s + j >= p: the first input column read is inside the row.
    (lo, hi)
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
        if cols.is_empty() {
            return Array::from_vec(cols, &[rows, columns]); // no images, or nothing in them
        }
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
            self.shape[..] == [c * window.kh * window.kw, columns],
            "col2im: columns {:?} do not fit an input of {shape:?} ({} x {columns} expected)",
            self.shape,
            c * window.kh * window.kw
        );
        let mut image_data = vec![T::ZERO; n * c * h * w];
        if image_data.is_empty() {
            return Array::from_vec(image_data, shape);
        }
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

    /// Panics unless `weight` is `[out, c, kh, kw]` for this NCHW input and `window`, and
    /// `bias` (if any) `[out]`, naming the operation and the shapes.
    pub(super) fn assert_filters_fit(
        &self,
        op: &str,
        weight: &Array<T>,
        bias: Option<&Array<T>>,
        window: &Window,
    ) {
        let (_, c, _, _) = nchw(op, &self.shape);
        let fits = weight.ndim() == 4
            && weight.shape[1] == c
            && weight.shape[2] == window.kh
            && weight.shape[3] == window.kw
            && bias.is_none_or(|b| b.shape[..] == [weight.shape[0]]);
        assert!(
            fits,
            "{op}: weight {:?} (and bias {:?}) do not fit input {:?} with a {}x{} kernel",
            weight.shape,
            bias.map(|b| b.shape.clone()),
            self.shape,
            window.kh,
            window.kw
        );
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
            self.shape[..] == [n * plane, o],
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

    /// The sum of each channel of an NCHW array over the batch and every position, `[c]`:
    /// the gradient of a convolution's bias. Each plane is summed in `T` with 8 running sums
    /// (which the compiler vectorizes), the planes' sums are added in f64, as [`Array::sum`]
    /// adds long sums.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let g = Array::from_vec((1..=8).map(f64::from).collect(), &[2, 2, 1, 2]);
    /// assert_eq!(g.sum_per_channel().data(), &[1.0 + 2.0 + 5.0 + 6.0, 3.0 + 4.0 + 7.0 + 8.0]);
    /// ```
    pub fn sum_per_channel(&self) -> Array<T> {
        let (_, c, h, w) = nchw("sum_per_channel", &self.shape);
        let mut sums = vec![0.0f64; c];
        if h * w > 0 {
            for (k, plane) in self.data.chunks_exact(h * w).enumerate() {
                let mut lanes = [T::ZERO; 8];
                let chunks = plane.chunks_exact(8);
                let rest: T = chunks.remainder().iter().copied().sum();
                for chunk in chunks {
                    lanes.iter_mut().zip(chunk).for_each(|(s, &v)| *s += v);
                }
                sums[k % c] += (lanes.iter().copied().sum::<T>() + rest).to_f64();
            }
        }
        Array::from_vec(sums.into_iter().map(T::from_f64).collect(), &[c])
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
        self.assert_filters_fit("conv2d", weight, bias, window);
        let (n, c, _, _) = nchw("conv2d", &self.shape);
        let size = out_size("conv2d", window, &self.shape);
        let cols = self.im2col(window);
        let o = weight.shape[0];
        let filters = weight.reshape(&[o, c * window.kh * window.kw]);
        // Y^T = X_cols^T W^T: one row per output position. The same product as W X_cols, in
        // the orientation the matrix kernel runs fastest for these shapes (long side first).
        let rows = cols.matmul_t(true, &filters, true);
        (rows.rows_to_nchw(n, size, bias), cols)
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
