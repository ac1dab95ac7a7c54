//! Pooling on NCHW arrays: max pooling (remembering which element each output took, for the
//! gradient) and average pooling, over windows without padding.

use super::threads::for_each_part;
use super::window::{nchw, out_size, Window, PARALLEL_MIN};
use super::{Array, Float};

/// Pooling reads its windows without padding (the layer grammar gives it none): a window
/// with padding would read outside the input, so it is refused with the operation's name.
fn no_padding(op: &str, window: &Window) {
    assert!(
        window.padding == 0,
        "{op}: pooling takes no padding, but the window has padding {}",
        window.padding
    );
}

/// Max pooling's common case, 2x2 windows with stride 2, over one plane of width `w` (the
/// same choices as the general loop). Written without branches (comparisons become masks and
/// selects), since which of four values is largest is a coin toss the CPU mispredicts.
fn max_pool_2x2<T: Float>(
    image: &[T],
    w: usize,
    base: usize,
    values: &mut [T],
    taken: &mut [usize],
    ow: usize,
) {
    // v replaces best if larger, or if v is NaN and best is not (a NaN is always taken)
    let wins = |v: T, best: T| (v > best) | (v.is_nan() & !best.is_nan());
    let rows = values.chunks_exact_mut(ow).zip(taken.chunks_exact_mut(ow));
    for (y, (values, taken)) in rows.enumerate() {
        let top = &image[2 * y * w..][..2 * ow];
        let bottom = &image[(2 * y + 1) * w..][..2 * ow];
        let at = base + 2 * y * w;
        for x in 0..ow {
            let (mut best, mut k) = (top[2 * x], 0);
            for (offset, v) in [
                (1, top[2 * x + 1]),
                (w, bottom[2 * x]),
                (w + 1, bottom[2 * x + 1]),
            ] {
                let take = wins(v, best);
                best = if take { v } else { best };
                k = if take { offset } else { k };
            }
            values[x] = best;
            taken[x] = at + 2 * x + k;
        }
    }
}

impl<T: Float> Array<T> {
    /// Max pooling over each window of an NCHW array (no padding): the output and, for each
    /// output, the flat index into `self` of the element it took. Among equal elements the
    /// first in the window (row by row) is taken, as PyTorch does; a NaN is always taken.
    pub fn max_pool2d(&self, window: &Window) -> (Array<T>, Array<usize>) {
        no_padding("max_pool2d", window);
        let (n, c, h, w) = nchw("max_pool2d", &self.shape);
        let (oh, ow) = out_size("max_pool2d", window, &self.shape);
        let plane = oh * ow;
        let mut values = vec![T::ZERO; n * c * plane];
        let mut taken = vec![0usize; n * c * plane];
        let mut planes: Vec<_> = values
            .chunks_exact_mut(plane)
            .zip(taken.chunks_exact_mut(plane))
            .collect();
        // Planes are independent: split them across threads.
        let min_planes = PARALLEL_MIN / plane.max(1);
        for_each_part(&mut planes, 1, min_planes, |start, part| {
            for (k, (values, taken)) in part.iter_mut().enumerate() {
                let base = (start + k) * h * w;
                let image = &self.data[base..base + h * w];
                if *window == Window::square_pool(2) {
                    max_pool_2x2(image, w, base, values, taken, ow);
                    continue;
                }
                for y in 0..oh {
                    let y0 = y * window.stride;
                    for x in 0..ow {
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
                        values[y * ow + x] = best.0;
                        taken[y * ow + x] = base + best.1;
                    }
                }
            }
        });
        let shape = [n, c, oh, ow];
        (
            Array::from_vec(values, &shape),
            Array::from_vec(taken, &shape),
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
            self.shape[..] == [n, c, oh, ow],
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
}
