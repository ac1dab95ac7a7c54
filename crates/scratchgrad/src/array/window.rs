//! Where a kernel or a pooling window sits over an image (`Window`), and the shape checks of
//! `[batch, channels, height, width]` (NCHW) arrays that convolution and pooling share.

/// Below this many values, convolution's and pooling's data movement stays on one thread.
pub(super) const PARALLEL_MIN: usize = 1 << 16;

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
pub(super) fn nchw(op: &str, shape: &[usize]) -> (usize, usize, usize, usize) {
    assert!(
        shape.len() == 4,
        "{op}: needs a [batch, channels, height, width] input, got {shape:?}"
    );
    (shape[0], shape[1], shape[2], shape[3])
}

pub(super) fn out_size(op: &str, window: &Window, shape: &[usize]) -> (usize, usize) {
    let (_, _, h, w) = nchw(op, shape);
    window.output_size(h, w).unwrap_or_else(|| {
        panic!(
            "{op}: a {}x{} window with padding {} does not fit an input of {shape:?}",
            window.kh, window.kw, window.padding
        )
    })
}
