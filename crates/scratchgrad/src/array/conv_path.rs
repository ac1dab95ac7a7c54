//! Which way a convolution is computed, and what each way keeps for the backward pass.
//!
//! `f32` convolutions with stride 1 and padding below the kernel's size take the direct
//! kernels (`channels_last.rs`, `direct_conv.rs`), as PyTorch takes oneDNN's on x86; the rest
//! (`f64`, which the gradient checks and fixtures use, and strided windows) take im2col +
//! GEMM (`conv.rs`). Both give the same values up to `f32` rounding.

use std::any::TypeId;
use std::sync::OnceLock;

use super::channels_last;
use super::simd::Isa;
use super::switches::switched;
use super::window::{nchw, out_size, Window};
use super::{Array, Float};

/// The two ways a convolution is computed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvPath {
    /// im2col + one matrix product per pass (any type, stride and padding).
    Gemm,
    /// The direct kernels on channels-last arrays (`f32`, stride 1, padding below the
    /// kernel's size), with an instruction set this CPU has.
    Direct(Isa),
}

impl ConvPath {
    /// The path for a convolution of `T` over `window`: direct where it applies, unless the
    /// environment variable `SCRATCHGRAD_CONV=gemm` asks for im2col + GEMM everywhere (to
    /// compare the two in one build; any other value is named in one line on stderr, once,
    /// and ignored).
    ///
    /// ```
    /// use scratchgrad::array::{ConvPath, Window};
    /// let strided = Window { stride: 2, ..Window::square(3) };
    /// assert_eq!(ConvPath::choose::<f32>(&strided), ConvPath::Gemm);
    /// assert_eq!(ConvPath::choose::<f64>(&Window::square(3)), ConvPath::Gemm);
    /// ```
    pub fn choose<T: Float>(window: &Window) -> ConvPath {
        static GEMM_ONLY: OnceLock<bool> = OnceLock::new();
        let gemm_only = *GEMM_ONLY.get_or_init(|| switched("SCRATCHGRAD_CONV", "gemm"));
        if TypeId::of::<T>() == TypeId::of::<f32>() && direct_fits(window) && !gemm_only {
            ConvPath::Direct(Isa::detect())
        } else {
            ConvPath::Gemm
        }
    }
}

/// True when the direct kernels can run `window`: stride 1, and padding below the kernel's
/// size in both directions (the input's gradient pads the output's by `k - 1 - padding`).
fn direct_fits(window: &Window) -> bool {
    window.stride == 1 && window.padding < window.kh && window.padding < window.kw
}

/// What a convolution keeps of its input for its backward pass: what its path reads.
pub enum SavedInput<T> {
    /// im2col's columns, `[c * kh * kw, n * oh * ow]`.
    Columns(Array<T>),
    /// The input zero-padded and channels last, `[n, h + 2p, w + 2p, c]`, for the direct
    /// kernels of this instruction set.
    Padded(Array<T>, Isa),
}

/// The `f32` values of an array that is one (the direct path's operands).
fn f32s<T: Float>(a: &Array<T>) -> &[f32] {
    a.as_f32()
        .expect("the direct convolution runs on f32 only")
        .data()
}

/// `f32` values as an `Array<T>` where `T` is `f32`.
fn from_f32s<T: Float>(values: Vec<f32>, shape: &[usize]) -> Array<T> {
    Array::from_f32(Array::from_vec(values, shape))
        .expect("the direct convolution runs on f32 only")
}

impl<T: Float> Array<T> {
    /// [`Array::conv2d`] by `path`, keeping what the backward pass reads: the output and the
    /// saved input for [`SavedInput::input_grad`] and [`SavedInput::weight_grad`]. A
    /// convolution with nothing to compute (no channels, an empty image) takes im2col + GEMM
    /// whatever the path.
    ///
    /// Panics if `path` is direct for a window it cannot run (see [`ConvPath::choose`]) or
    /// for `f64`.
    ///
    /// ```
    /// use scratchgrad::array::{Array, ConvPath, Window};
    /// let x = Array::<f32>::from_vec((0..32).map(|v| v as f32).collect(), &[2, 1, 4, 4]);
    /// let w = Array::from_vec(vec![1.0; 9], &[1, 1, 3, 3]);
    /// let window = Window { padding: 1, ..Window::square(3) };
    /// let (y, saved) = x.conv2d_by(&w, None, &window, ConvPath::choose::<f32>(&window));
    /// assert_eq!(y.at(&[0, 0, 0, 0]), 0.0 + 1.0 + 4.0 + 5.0); // the corner's 2x2 neighbours
    /// let g = Array::ones(y.shape());
    /// assert_eq!(saved.weight_grad(&g, w.shape(), x.shape(), &window).shape(), &[1, 1, 3, 3]);
    /// ```
    pub fn conv2d_by(
        &self,
        weight: &Array<T>,
        bias: Option<&Array<T>>,
        window: &Window,
        path: ConvPath,
    ) -> (Array<T>, SavedInput<T>) {
        self.assert_filters_fit("conv2d", weight, bias, window);
        let shape = nchw("conv2d", &self.shape);
        let (oh, ow) = out_size("conv2d", window, &self.shape);
        let o = weight.shape[0];
        let (n, c, h, w) = shape;
        let empty = [c, h, w, o, oh, ow].contains(&0);
        let isa = match path {
            ConvPath::Direct(isa) if !empty => isa,
            _ => {
                let (y, cols) = self.conv2d(weight, bias, window);
                return (y, SavedInput::Columns(cols));
            }
        };
        assert!(
            direct_fits(window),
            "conv2d: the direct path takes stride 1 and padding below the kernel's size, not \
             stride {} and padding {} for a {}x{} kernel",
            window.stride,
            window.padding,
            window.kh,
            window.kw
        );
        let bias = bias.map(f32s);
        let (y, padded) =
            channels_last::forward(isa, f32s(self), shape, f32s(weight), o, bias, window);
        let p = window.padding;
        let padded = from_f32s(padded, &[n, h + 2 * p, w + 2 * p, c]);
        (
            from_f32s(y, &[n, o, oh, ow]),
            SavedInput::Padded(padded, isa),
        )
    }
}

/// Panics unless `g` is the gradient of a convolution of `input` by `weight` over `window`.
fn assert_gradient_fits(g: &[usize], weight: &[usize], input: &[usize], window: &Window) {
    let (n, _, _, _) = nchw("conv2d backward", input);
    let (oh, ow) = out_size("conv2d backward", window, input);
    assert!(
        weight.len() == 4 && g == [n, weight[0], oh, ow],
        "conv2d backward: gradient {g:?} does not fit filters {weight:?} over input {input:?}"
    );
}

impl<T: Float> SavedInput<T> {
    /// The input's gradient (`input_shape`) from the output's, `g`.
    pub fn input_grad(
        &self,
        g: &Array<T>,
        weight: &Array<T>,
        input_shape: &[usize],
        window: &Window,
    ) -> Array<T> {
        assert_gradient_fits(&g.shape, &weight.shape, input_shape, window);
        let input = nchw("conv2d", input_shape);
        match self {
            // The input's gradient is a convolution whose outputs are the input's channels:
            // fewer than a vector's lanes leave most of each vector empty (`cargo bench
            // --bench conv`: 1.7 ms direct against 1.1 ms for lenet5's 6 channels), so such
            // a layer takes the product. It needs only the filters and `g`, whatever was saved.
            SavedInput::Padded(_, isa) if input.1 >= isa.lanes() => {
                let (o, w) = (weight.shape[0], f32s(weight));
                let dx = channels_last::input_grad(*isa, f32s(g), input, w, o, window);
                from_f32s(dx, input_shape)
            }
            // dX_cols = W^T G, then each column entry back to the pixel it was copied from
            _ => {
                let filters = weight.reshape(&[weight.shape[0], weight.len() / weight.shape[0]]);
                filters
                    .matmul_t(true, &g.nchw_to_channels(), false)
                    .col2im(input_shape, window)
            }
        }
    }

    /// The filters' gradient (`weight_shape`) from the output's, `g`.
    pub fn weight_grad(
        &self,
        g: &Array<T>,
        weight_shape: &[usize],
        input_shape: &[usize],
        window: &Window,
    ) -> Array<T> {
        assert_gradient_fits(&g.shape, weight_shape, input_shape, window);
        match self {
            // dW = G X_cols^T, computed as (X_cols G^T)^T, the kernel's faster orientation
            SavedInput::Columns(cols) => cols
                .matmul(&g.nchw_to_rows())
                .transpose()
                .into_reshape(weight_shape),
            SavedInput::Padded(padded, isa) => {
                let input = nchw("conv2d", input_shape);
                let p = window.padding;
                assert!(
                    padded.shape[..] == [input.0, input.2 + 2 * p, input.3 + 2 * p, input.1],
                    "conv2d backward: the saved input {:?} is not {input_shape:?} padded by {p}",
                    padded.shape
                );
                let o = weight_shape[0];
                let dw = channels_last::weight_grad(*isa, f32s(padded), f32s(g), input, o, window);
                from_f32s(dw, weight_shape)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::array::{with_threads, Array, ConvPath, Isa, Rng, Window};

    /// Each output is one thread's sum in a fixed order: the same bits on 1 thread and on
    /// 4, for every pass and instruction set.
    #[test]
    fn the_direct_passes_give_the_same_bits_on_any_number_of_threads() {
        let mut rng = Rng::seed(12);
        let x = Array::<f32>::rand_uniform(&[9, 18, 14, 14], -1.0, 1.0, &mut rng);
        let w = Array::<f32>::rand_uniform(&[40, 18, 5, 5], -1.0, 1.0, &mut rng);
        let g = Array::<f32>::rand_uniform(&[9, 40, 14, 14], -1.0, 1.0, &mut rng);
        let window = Window {
            padding: 2,
            ..Window::square(5)
        };
        for isa in Isa::available() {
            let run = |threads| {
                with_threads(threads, || {
                    let (y, saved) = x.conv2d_by(&w, None, &window, ConvPath::Direct(isa));
                    let dx = saved.input_grad(&g, &w, x.shape(), &window);
                    (y, dx, saved.weight_grad(&g, w.shape(), x.shape(), &window))
                })
            };
            assert!(run(1) == run(4), "{isa:?}");
        }
    }

    #[test]
    fn degenerate_shapes_fall_back_and_kernels_may_be_wider_than_the_image() {
        let mut rng = Rng::seed(13);
        let window = Window {
            padding: 2,
            ..Window::square(5)
        };
        for (x, o) in [([1, 1, 2, 1], 3), ([0, 2, 4, 4], 3), ([2, 2, 4, 4], 0)] {
            let x64 = Array::<f64>::rand_uniform(&x, -1.0, 1.0, &mut rng);
            let w64 = Array::<f64>::rand_uniform(&[o, x[1], 5, 5], -1.0, 1.0, &mut rng);
            let (want, _) = x64.conv2d_by(&w64, None, &window, ConvPath::Gemm);
            let (x32, w32) = (x64.map(|v| v as f32), w64.map(|v| v as f32));
            let (got, _) = x32.conv2d_by(&w32, None, &window, ConvPath::choose::<f32>(&window));
            assert!(got.map(f64::from).allclose(&want, 1e-5, 1e-5), "{x:?} {o}");
        }
    }

    #[test]
    #[should_panic(expected = "the direct path takes stride 1 and padding below the kernel's")]
    fn the_direct_path_refuses_a_stride() {
        let x = Array::<f32>::zeros(&[1, 1, 6, 6]);
        let window = Window {
            stride: 2,
            ..Window::square(3)
        };
        x.conv2d_by(
            &Array::zeros(&[1, 1, 3, 3]),
            None,
            &window,
            ConvPath::Direct(Isa::detect()),
        );
    }

    #[test]
    #[should_panic(
        expected = "gradient [2, 4, 5, 5] does not fit filters [4, 1, 3, 3] over input [1"
    )]
    fn a_gradient_of_another_batch_is_refused() {
        let x = Array::<f32>::zeros(&[1, 1, 7, 7]);
        let w = Array::<f32>::zeros(&[4, 1, 3, 3]);
        let (_, saved) = x.conv2d_by(
            &w,
            None,
            &Window::square(3),
            ConvPath::Direct(Isa::detect()),
        );
        saved.weight_grad(
            &Array::zeros(&[2, 4, 5, 5]),
            w.shape(),
            x.shape(),
            &Window::square(3),
        );
    }
}
