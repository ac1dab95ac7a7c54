//! Matrix products, 2-D and batched, through the `gemm` crate's kernels.
//!
//! We own the shapes, the broadcasting of batch dimensions, the transposes (passed to the
//! kernel as strides, never copied) and the threading (a large product is split into one block
//! of output per thread, sized as `threads.rs` has learnt); the `gemm` crate owns the fast
//! single-threaded inner loops. Small products run on the calling thread: spawning threads
//! costs more than it saves below [`THREADING_MIN_FLOPS`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gemm::Parallelism;

use super::shape::{broadcast_shapes, broadcast_strides, for_each_offset};
use super::threads::{helpers, num_threads, split_points, CALLER_SHARE};
use super::{Array, Float};

/// Products with fewer multiply-adds than this run single-threaded.
const THREADING_MIN_FLOPS: usize = 1 << 20;

/// The smallest block (along the split dimension, `len` long; the other is `other`) that
/// gemm 0.19 computes in the same order as the whole product, so that moving the cut never
/// changes a result: it sums the inner dimension in chunks sized from the shape when both
/// sides are 64 or less, and takes another path for a single row or column. Checked by
/// `where_a_product_is_cut_never_changes_a_result`.
fn min_block(len: usize, other: usize) -> usize {
    if other <= 64 && len > 64 {
        65
    } else {
        2
    }
}

/// A pointer handed to the threads that fill disjoint blocks of one output.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: each thread writes only its own block of the output (see `product`), and the inputs
// are only read; the elements themselves must be safe to send and share.
unsafe impl<T: Send + Sync> Send for Shared<T> {}
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

/// One operand of a product: where it starts and how to step along its rows and columns.
#[derive(Clone, Copy)]
struct Operand<T> {
    at: *const T,
    row_stride: isize,
    col_stride: isize,
}
// SAFETY: operands are only read, from any thread, so their elements must be `Sync`.
unsafe impl<T: Sync> Send for Operand<T> {}
unsafe impl<T: Sync> Sync for Operand<T> {}

/// `dst = a @ b` for an m x k `a` and a k x n `b` into a row-major `dst` whose rows are
/// `dst_row` apart, on the calling thread.
///
/// SAFETY: the pointers and strides must describe valid matrices of those sizes.
unsafe fn kernel<T: Float>(
    dst: Shared<T>,
    dst_row: usize,
    a: Operand<T>,
    b: Operand<T>,
    (m, k, n): (usize, usize, usize),
) {
    gemm::gemm(
        m,
        n,
        k,
        dst.0,
        1,
        dst_row as isize,
        false,
        a.at,
        a.col_stride,
        a.row_stride,
        b.at,
        b.col_stride,
        b.row_stride,
        T::ZERO,
        T::ONE,
        false,
        false,
        false,
        Parallelism::None,
    );
}

/// `dst = a @ b`, split into one block of output columns (or rows, whichever dimension is
/// larger) per thread when the product is large enough to gain from it. Each block is an
/// independent product over the whole inner dimension, so the threads never wait on each
/// other until the end, and every output element is summed in the same order whatever the
/// thread count or the blocks' sizes. The calling thread's block is sized by
/// [`CallerShare`] so that it and the helpers tend to finish together.
///
/// SAFETY: as for [`kernel`].
unsafe fn product<T: Float>(
    dst: Shared<T>,
    dst_row: usize,
    a: Operand<T>,
    b: Operand<T>,
    (m, k, n): (usize, usize, usize),
) {
    let threads = num_threads().min(m.max(n));
    if threads <= 1 || m * n * k < THREADING_MIN_FLOPS {
        return kernel(dst, dst_row, a, b, (m, k, n));
    }
    let Some(share) = CALLER_SHARE.for_next_product(threads) else {
        return kernel(dst, dst_row, a, b, (m, k, n));
    };
    let (taken, own, helpers) = split_product(dst, dst_row, a, b, (m, k, n), threads, share);
    CALLER_SHARE.learn(threads, taken, own, helpers);
}

/// `dst = a @ b` in `threads` blocks of output columns (or rows, whichever dimension is
/// larger), the calling thread taking about `share` of them and computing its block while the
/// helpers compute theirs. Returns the share the caller took, and when its block and when the
/// last helper's block was done, counted from the start.
///
/// SAFETY: as for [`kernel`].
unsafe fn split_product<T: Float>(
    dst: Shared<T>,
    dst_row: usize,
    a: Operand<T>,
    b: Operand<T>,
    (m, k, n): (usize, usize, usize),
    threads: usize,
    share: f64,
) -> (f64, Duration, Duration) {
    let (len, other) = if n >= m { (n, m) } else { (m, n) };
    let cuts = split_points(len, threads, share, min_block(len, other));
    let blocks: Vec<_> = cuts
        .windows(2)
        .map(|cut| {
            let (start, end) = (cut[0], cut[1]);
            if n >= m {
                let b = Operand {
                    at: b.at.offset(start as isize * b.col_stride),
                    ..b
                };
                (Shared(dst.0.add(start)), a, b, (m, k, end - start))
            } else {
                let a = Operand {
                    at: a.at.offset(start as isize * a.row_stride),
                    ..a
                };
                (
                    Shared(dst.0.add(start * dst_row)),
                    a,
                    b,
                    (end - start, k, n),
                )
            }
        })
        .collect();
    let started = Instant::now();
    let helpers_done = AtomicU64::new(0);
    let mut own = Duration::ZERO;
    helpers().in_place_scope(|scope| {
        for &(dst, a, b, size) in &blocks[1..] {
            let helpers_done = &helpers_done;
            scope.spawn(move |_| {
                kernel(dst, dst_row, a, b, size);
                let done = started.elapsed().as_nanos() as u64;
                helpers_done.fetch_max(done, Ordering::Relaxed);
            });
        }
        let (dst, a, b, size) = blocks[0];
        kernel(dst, dst_row, a, b, size);
        own = started.elapsed();
    });
    let taken = cuts[1] as f64 / len as f64;
    (taken, own, Duration::from_nanos(helpers_done.into_inner()))
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
    /// The strides as an [`Operand`], still without its start.
    fn operand<T>(&self) -> Operand<T> {
        Operand {
            at: std::ptr::null(),
            row_stride: self.row_stride,
            col_stride: self.col_stride,
        }
    }

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
        let len: usize = shape.iter().product();
        if k == 0 {
            return Array::zeros(&shape); // an empty sum
        }
        // Not zero-filled first: gemm overwrites every element (it is told not to read the
        // output), and the fill was serial work on the calling thread before every product.
        let mut out: Vec<T> = Vec::with_capacity(len);
        let a_step: Vec<usize> = broadcast_strides(a_batch, &batch)
            .iter()
            .map(|s| s * m * k)
            .collect();
        let b_step: Vec<usize> = broadcast_strides(b_batch, &batch)
            .iter()
            .map(|s| s * k * n)
            .collect();
        let dst = Shared(out.as_mut_ptr());
        let (lhs, rhs) = (self.data.as_ptr(), other.data.as_ptr());
        for_each_offset(&batch, [&a_step, &b_step], |i, [ia, ib]| {
            // SAFETY: every offset stays inside its array: `ia`/`ib` index whole matrices of
            // `self`/`other` (broadcast strides over their batch dims), `i * m * n` a whole
            // matrix of `out`, and the views describe exactly those m x k, k x n and m x n
            // matrices.
            unsafe {
                let a = Operand {
                    at: lhs.add(ia),
                    ..a.operand()
                };
                let b = Operand {
                    at: rhs.add(ib),
                    ..b.operand()
                };
                product(Shared(dst.0.add(i * m * n)), n, a, b, (m, k, n));
            }
        });
        // SAFETY: the loop above ran one product per output matrix, and each wrote all of its
        // m x n elements (with k > 0 gemm stores `a @ b` without reading the destination).
        unsafe { out.set_len(len) };
        Array::from_vec(out, &shape)
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
    fn products_split_by_rows_or_columns_agree_with_one_thread() {
        let mut rng = crate::array::Rng::seed(3);
        // Tall (split by rows) and wide (split by columns), transposed operands included.
        for (m, k, n) in [(300, 200, 40), (40, 200, 300)] {
            let a = Array::<f64>::rand_uniform(&[k, m], -1.0, 1.0, &mut rng);
            let b = Array::<f64>::rand_uniform(&[n, k], -1.0, 1.0, &mut rng);
            let want = naive(&a.transpose(), &b.transpose());
            assert!(
                a.matmul_t(true, &b, true).allclose(&want, 1e-12, 1e-12),
                "{m}x{k}x{n}"
            );
        }
    }

    #[test]
    fn where_a_product_is_cut_never_changes_a_result() {
        // The caller's share moves with the machine's load; if the cut changed the sums, runs
        // with the same seed would differ. Training's three large products also match one
        // thread exactly; the last shape is too narrow to move its cut (both blocks even).
        let mut rng = crate::array::Rng::seed(5);
        let shapes = [
            (64, 784, 256, true),
            (256, 64, 784, true),
            (1000, 784, 256, true),
            (40, 700, 100, false),
        ];
        for (rows, inner, cols, as_one_thread) in shapes {
            let a = Array::<f32>::rand_uniform(&[rows, inner], -1.0, 1.0, &mut rng);
            let b = Array::<f32>::rand_uniform(&[inner, cols], -1.0, 1.0, &mut rng);
            let (view_a, view_b) = (
                MatrixView::of(a.shape(), false),
                MatrixView::of(b.shape(), false),
            );
            let bits = |split: Option<(usize, f64)>| -> Vec<u32> {
                let mut out = Array::<f32>::zeros(&[rows, cols]);
                let dst = Shared(out.data.as_mut_ptr());
                let lhs = Operand {
                    at: a.data.as_ptr(),
                    ..view_a.operand()
                };
                let rhs = Operand {
                    at: b.data.as_ptr(),
                    ..view_b.operand()
                };
                let size = (rows, inner, cols);
                // SAFETY: the operands and the output are whole arrays of the stated sizes.
                unsafe {
                    match split {
                        None => kernel(dst, cols, lhs, rhs, size),
                        Some((threads, share)) => {
                            split_product(dst, cols, lhs, rhs, size, threads, share);
                        }
                    }
                }
                out.data().iter().map(|v| v.to_bits()).collect()
            };
            let even = bits(Some((2, 0.5)));
            let len = rows.max(cols);
            let edges = [
                1,
                2,
                63,
                64,
                65,
                66,
                len - 66,
                len - 65,
                len - 64,
                len - 2,
                len - 1,
            ];
            let spread = (1..len).step_by(len / 20);
            for cut in spread.chain(edges) {
                let share = cut as f64 / len as f64;
                assert!(
                    bits(Some((2, share))) == even,
                    "{rows}x{inner}x{cols} cut at {cut}"
                );
            }
            if as_one_thread {
                assert!(
                    bits(None) == even,
                    "{rows}x{inner}x{cols} against one thread"
                );
                assert!(
                    bits(Some((3, 0.2))) == even,
                    "{rows}x{inner}x{cols} in three"
                );
            }
        }
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros() {
        // The output is not zero-filled before gemm writes it, so this case must be.
        let a = Array::<f32>::zeros(&[2, 3, 0]);
        let b = Array::<f32>::zeros(&[0, 4]);
        let out = a.matmul(&b);
        assert_eq!(out.shape(), &[2, 3, 4]);
        assert!(out.data().iter().all(|&v| v == 0.0));
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
