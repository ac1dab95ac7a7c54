//! Matrix products, 2-D and batched, through the `gemm` crate's kernels.
//!
//! We own the shapes, the broadcasting of batch dimensions and the transposes (passed to the
//! kernel as strides, never copied); the `gemm` crate owns the fast inner loops. Small products
//! run on the calling thread: spawning threads costs more than it saves below
//! [`THREADING_MIN_FLOPS`].

use std::sync::atomic::{AtomicUsize, Ordering};

use gemm::Parallelism;

use super::shape::{broadcast_shapes, broadcast_strides, for_each_offset};
use super::{Array, Float};

/// Products with fewer multiply-adds than this run single-threaded.
const THREADING_MIN_FLOPS: usize = 1 << 20;

/// 0 means "not set": use every core the machine reports.
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads a large matrix product may use (1 = never spawn).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// How many threads a large matrix product may use.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

fn parallelism_for(flops: usize) -> Parallelism {
    let threads = num_threads();
    if threads > 1 && flops >= THREADING_MIN_FLOPS {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    }
}

/// One row-major matrix inside an array: where it starts and its (row, column) strides, which
/// describe a transpose without moving data.
#[derive(Clone, Copy)]
struct MatrixView {
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl MatrixView {
    /// The last two axes of `shape`, read as transposed when `transposed`.
    fn of(shape: &[usize], transposed: bool) -> Self {
        let (r, c) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        if transposed {
            MatrixView {
                rows: c,
                cols: r,
                row_stride: 1,
                col_stride: c as isize,
            }
        } else {
            MatrixView {
                rows: r,
                cols: c,
                row_stride: c as isize,
                col_stride: 1,
            }
        }
    }
}

impl<T: Float> Array<T> {
    /// The matrix product over the last two axes; leading (batch) axes broadcast.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let a = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
    /// let b = Array::from_vec(vec![5.0, 6.0, 7.0, 8.0], &[2, 2]);
    /// assert_eq!(a.matmul(&b).data(), &[19.0, 22.0, 43.0, 50.0]);
    /// ```
    pub fn matmul(&self, other: &Array<T>) -> Array<T> {
        self.matmul_t(false, other, false)
    }

    /// `op(self) @ op(other)` where `op` transposes the last two axes when its flag is set.
    /// The transpose is handed to the kernel as strides: no copy is made. Backward passes use
    /// this for `grad @ W^T` and `X^T @ grad`.
    pub fn matmul_t(&self, trans_a: bool, other: &Array<T>, trans_b: bool) -> Array<T> {
        let fail = || -> ! {
            let show = |s: &[usize], t: bool| format!("{s:?}{}", if t { "^T" } else { "" });
            panic!(
                "matmul: cannot multiply {} by {}",
                show(&self.shape, trans_a),
                show(&other.shape, trans_b)
            )
        };
        if self.ndim() < 2 || other.ndim() < 2 {
            fail();
        }
        let a = MatrixView::of(&self.shape, trans_a);
        let b = MatrixView::of(&other.shape, trans_b);
        if a.cols != b.rows {
            fail();
        }
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let a_batch = &self.shape[..self.ndim() - 2];
        let b_batch = &other.shape[..other.ndim() - 2];
        let batch = broadcast_shapes("matmul", a_batch, b_batch);
        let mut shape = batch.clone();
        shape.extend([m, n]);
        let mut out = Array::<T>::zeros(&shape);
        let a_step: Vec<usize> = broadcast_strides(a_batch, &batch)
            .iter()
            .map(|s| s * m * k)
            .collect();
        let b_step: Vec<usize> = broadcast_strides(b_batch, &batch)
            .iter()
            .map(|s| s * k * n)
            .collect();
        let parallelism = parallelism_for(m * n * k);
        let dst = out.data.as_mut_ptr();
        for_each_offset(&batch, [&a_step, &b_step], |i, [ia, ib]| {
            // SAFETY: every offset stays inside its array: `ia`/`ib` index whole matrices of
            // `self`/`other` (broadcast strides over their batch dims), `i * m * n` a whole matrix
            // of `out`, and the strides describe exactly those m x k, k x n and m x n matrices.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    dst.add(i * m * n),
                    1,
                    n as isize,
                    false,
                    self.data.as_ptr().add(ia),
                    a.col_stride,
                    a.row_stride,
                    other.data.as_ptr().add(ib),
                    b.col_stride,
                    b.row_stride,
                    T::ZERO,
                    T::ONE,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook triple loop, as the reference the kernel is checked against.
    fn naive(a: &Array<f64>, b: &Array<f64>) -> Array<f64> {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a.at(&[i, p]) * b.at(&[p, j])).sum();
            }
        }
        Array::from_vec(out, &[m, n])
    }

    #[test]
    fn agrees_with_triple_loop_including_transposes() {
        let mut rng = crate::array::Rng::seed(7);
        let a = Array::<f64>::rand_uniform(&[37, 53], -1.0, 1.0, &mut rng);
        let b = Array::<f64>::rand_uniform(&[53, 29], -1.0, 1.0, &mut rng);
        let want = naive(&a, &b);
        assert!(a.matmul(&b).allclose(&want, 1e-12, 1e-12));
        let at = a.transpose();
        let bt = b.transpose();
        assert!(at.matmul_t(true, &b, false).allclose(&want, 1e-12, 1e-12));
        assert!(a.matmul_t(false, &bt, true).allclose(&want, 1e-12, 1e-12));
        assert!(at.matmul_t(true, &bt, true).allclose(&want, 1e-12, 1e-12));
    }

    #[test]
    fn large_threaded_product_matches_single_thread() {
        let mut rng = crate::array::Rng::seed(1);
        let a = Array::<f32>::rand_uniform(&[64, 784], -1.0, 1.0, &mut rng);
        let b = Array::<f32>::rand_uniform(&[784, 256], -1.0, 1.0, &mut rng);
        let threaded = a.matmul(&b);
        let want = naive(&a.cast(), &b.cast());
        assert!(threaded.cast::<f64>().allclose(&want, 1e-4, 1e-3));
    }

    #[test]
    fn batch_dims_broadcast() {
        let a = Array::<f64>::arange(12).reshape(&[2, 1, 2, 3]);
        let b = Array::<f64>::arange(18).reshape(&[3, 3, 2]);
        let c = a.matmul(&b);
        assert_eq!(c.shape(), &[2, 3, 2, 2]);
        let (a1, b2) = (
            a.slice_rows(1, 2).reshape(&[2, 3]),
            b.slice_rows(2, 3).reshape(&[3, 2]),
        );
        let want = naive(&a1, &b2);
        assert_eq!(&c.data()[(3 + 2) * 4..(3 + 2) * 4 + 4], want.data());
    }

    #[test]
    #[should_panic(expected = "matmul: cannot multiply [64, 784] by [100, 10]")]
    fn mismatch_names_both_shapes() {
        Array::<f32>::zeros(&[64, 784]).matmul(&Array::zeros(&[100, 10]));
    }
}
