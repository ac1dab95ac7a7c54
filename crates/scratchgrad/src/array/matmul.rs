//! Matrix products, 2-D and batched, through the `gemm` crate's kernels.
//!
//! We own the shapes, the broadcasting of batch dimensions, the transposes (passed to the
//! kernel as strides, or copied out first where gemm reads the copy faster) and the threading
//! (a large product is split into one block of output per thread, sized as `threads.rs` has
//! learnt); the `gemm` crate owns the fast single-threaded inner loops. Small products run on
//! the calling thread: spawning threads costs more than it saves below
//! [`THREADING_MIN_FLOPS`]. A product whose data side is mostly zeros (an MNIST batch) goes to
//! `zero_skipping.rs` instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gemm::Parallelism;

use super::buffers;
use super::shape::{broadcast_shapes, broadcast_strides, for_each_offset};
use super::threads::{split_points, usable_threads, CALLER_SHARE};
use super::transpose::append_transposed;
use super::waiting_helpers::run_with_helpers;
use super::zero_skipping;
use super::{Array, Float};

/// Products with fewer multiply-adds than this run single-threaded.
const THREADING_MIN_FLOPS: usize = 1 << 20;

/// How gemm 0.19 sums a product's inner dimension, which decides its rounding: a block of a
/// product gives the whole product's bits only when both take the same order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SumOrder {
    /// A path of its own: a matrix-vector product (a side of 1) or an outer product (k of 1
    /// or 2). Never split.
    Special,
    /// The blocked kernels, summing the inner dimension chunk by chunk: in chunks of 512 (and
    /// a remainder) when both sides of the output are 64 or less (`small`), else in even
    /// chunks sized from k. The two agree when k is 512 or less (one chunk).
    Chunked {
        /// Both output sides 64 or less, with k over 512.
        small: bool,
    },
}

/// The order gemm 0.19 sums an `m x k` by `k x n` product in (with a right side stored by
/// columns, outside its horizontal kernel: see [`SplitPlan::new`]).
fn sum_order((m, k, n): (usize, usize, usize)) -> SumOrder {
    if m <= 1 || n <= 1 || k <= 2 {
        return SumOrder::Special;
    }
    SumOrder::Chunked {
        small: k > 512 && m <= 64 && n <= 64,
    }
}

/// A right side stored by columns (`x @ W^T`) is handed to gemm as it is when a single
/// product reads it with this many rows or fewer (and W is not so large that the product is
/// better turned around, see `matmul_t`): gemm then packs it faster than a copy of its
/// transpose is made (an MLP's second layer for a batch of 64, docs/BENCHMARKS.md).
const STRIDED_RIGHT_SIDE_ROWS: usize = 64;

/// `x @ W^T` is turned around (see `matmul_t`) only for a W of this many values or more:
/// below, the two copies cost more than reading a small W by columns.
const TURN_AROUND_MIN: usize = 1 << 14;

/// gemm 0.19 takes a product with a right side stored by columns and at most this many outputs
/// to its horizontal kernel, which sums the inner dimension in its own chunks.
const HORIZONTAL_MAX_OUTPUTS: usize = 16 * 16;

/// One block of a split product: where it writes, its operands and its size.
type Block<T> = (Dst<T>, Operand<T>, Operand<T>, (usize, usize, usize));

/// How a product may be cut into blocks that each sum exactly as the whole does: along its
/// longer output side, into blocks of at least `min_block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SplitPlan {
    /// Cut the output's columns (else its rows).
    by_columns: bool,
    /// The length of the side that is cut.
    len: usize,
    /// The shortest block that keeps the whole's sum order.
    min_block: usize,
}

impl SplitPlan {
    /// The plan for a product across `threads`, or `None` when it cannot be cut without
    /// changing a result (a special path, or a side too short for blocks of the needed
    /// length): then it runs unsplit, so results never depend on the thread count or load.
    fn new(
        (m, k, n): (usize, usize, usize),
        threads: usize,
        right_by_columns: bool,
    ) -> Option<SplitPlan> {
        let whole = sum_order((m, k, n));
        if whole == SumOrder::Special || threads < 2 {
            return None;
        }
        if right_by_columns && m * n <= HORIZONTAL_MAX_OUTPUTS {
            return None;
        }
        let (by_columns, len, other) = if n >= m { (true, n, m) } else { (false, m, n) };
        let mut min_block = 2;
        if k > 512 && other <= 64 {
            // The whole sums in chunks sized from k (its long side is over 64): each block
            // must keep a side over 64 too.
            min_block = min_block.max(65);
        }
        if right_by_columns {
            // Nor may a block fall into the horizontal kernel.
            min_block = min_block.max(HORIZONTAL_MAX_OUTPUTS / other + 1);
        }
        if len < threads * min_block {
            return None;
        }
        Some(SplitPlan {
            by_columns,
            len,
            min_block,
        })
    }

    /// The block of `a @ b` from `start` to `end` along the cut side: its operands, its place
    /// in the output, and its size.
    ///
    /// SAFETY: `start..end` must lie within the cut side, the pointers describe the whole.
    unsafe fn block<T>(
        &self,
        dst: Dst<T>,
        a: Operand<T>,
        b: Operand<T>,
        (m, k, n): (usize, usize, usize),
        (start, end): (usize, usize),
    ) -> Block<T> {
        // SAFETY: the offsets stay within the whole matrices (the caller's promise).
        unsafe {
            if self.by_columns {
                let b = Operand {
                    at: b.at.offset(start as isize * b.col_stride),
                    ..b
                };
                let at = Shared(dst.at.0.add(start));
                (Dst { at, ..dst }, a, b, (m, k, end - start))
            } else {
                let a = Operand {
                    at: a.at.offset(start as isize * a.row_stride),
                    ..a
                };
                let at = Shared(dst.at.0.add(start * dst.row));
                (Dst { at, ..dst }, a, b, (end - start, k, n))
            }
        }
    }
}

/// A pointer handed to the threads that fill disjoint blocks of one output.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);

// SAFETY: each thread writes only its own block of the output (see `product`), and the inputs
// are only read; the elements themselves must be safe to send and share.
unsafe impl<T: Send + Sync> Send for Shared<T> {}
unsafe impl<T: Send + Sync> Sync for Shared<T> {}

/// Where a product goes: a row-major matrix at `at` whose rows are `row` apart, overwritten,
/// or added onto when `onto`.
#[derive(Clone, Copy)]
struct Dst<T> {
    at: Shared<T>,
    row: usize,
    onto: bool,
}

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

/// gemm computes a row-major product as its transpose, `dst^T = b^T @ a^T`, so its left side
/// is our right side `b`, which its kernel reads 64 values down a column at a time: the way a
/// row-major `b` already lies. Still, by default gemm copies that side into panels first once
/// a block of the product has more than 8 x 6 rows (our `m`); this raises the limit to gemm's
/// largest, 256 x 6 = 1,536 rows. (gemm still copies a `b` whose columns are not contiguous,
/// or a block of columns that is not a whole number of vectors.) The copy only moves numbers,
/// so the bits are the same either way. Measured (docs/BENCHMARKS.md): each of the GPT's
/// products equal or 1-7% faster without it, the Shakespeare GPT's step 0.6-1.2%, the
/// convolutional networks' and the MLP's epochs unchanged.
static GEMM_SETTINGS: std::sync::Once = std::sync::Once::new();

/// `dst = a @ b` (or `dst += a @ b` when `dst.onto`) for an m x k `a` and a k x n `b` into
/// a row-major `dst`, on the calling thread.
///
/// SAFETY: the pointers and strides must describe valid matrices of those sizes, and a `dst`
/// added onto must hold values already.
unsafe fn kernel<T: Float>(
    dst: Dst<T>,
    a: Operand<T>,
    b: Operand<T>,
    (m, k, n): (usize, usize, usize),
) {
    GEMM_SETTINGS.call_once(|| gemm::set_lhs_packing_threshold_single_thread(256));
    // SAFETY: the caller's promise: valid matrices of these sizes and strides, and a
    // destination no other thread writes.
    unsafe {
        if !dst.onto {
            // Zeros first, though gemm overwrites them unread: a fill writes whole cache
            // lines, where gemm's stores of parts of lines not cached yet would first read
            // them in from memory and wait (a Shakespeare GPT step 2% faster,
            // docs/BENCHMARKS.md).
            for r in 0..m {
                std::ptr::write_bytes(dst.at.0.add(r * dst.row), 0, n);
            }
        }
        // dst = alpha dst + beta a @ b, where dst is read only when asked to be
        gemm::gemm(
            m,
            n,
            k,
            dst.at.0,
            1,
            dst.row as isize,
            dst.onto,
            a.at,
            a.col_stride,
            a.row_stride,
            b.at,
            b.col_stride,
            b.row_stride,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// `dst = a @ b`, split into one block of output columns (or rows, whichever side is longer)
/// per thread when the product is large enough to gain from it and can be cut without
/// changing a result ([`SplitPlan`]). Each block is an independent product over the whole
/// inner dimension, summed in the same order as the whole product, so the threads never wait
/// on each other until the end and every output element has the same bits whatever the
/// thread count or the blocks' sizes. The calling thread's block is sized by [`CallerShare`]
/// so that it and the helpers tend to finish together.
///
/// SAFETY: as for [`kernel`].
unsafe fn product<T: Float>(
    dst: Dst<T>,
    a: Operand<T>,
    b: Operand<T>,
    (m, k, n): (usize, usize, usize),
) {
    let threads = usable_threads().min(m.max(n));
    // A right side stored by columns (an MLP's `x @ W^T`) is cut too, into blocks that keep
    // out of gemm's horizontal kernel (a block that fell into it changed the sums).
    let right_by_columns = b.col_stride != 1 && n > 1;
    let plan = (m * n * k >= THREADING_MIN_FLOPS)
        .then(|| SplitPlan::new((m, k, n), threads, right_by_columns))
        .flatten();
    let share = plan.and_then(|_| CALLER_SHARE.for_next_product(threads));
    // SAFETY: the caller's promise, passed on.
    unsafe {
        match (plan, share) {
            (Some(plan), Some(share)) => {
                let cuts = split_points(plan.len, threads, share, plan.min_block);
                match split_product(dst, a, b, (m, k, n), plan, &cuts) {
                    Some((own, helpers)) => {
                        let share = cuts[1] as f64 / plan.len as f64;
                        CALLER_SHARE.learn(threads, share, own, helpers);
                    }
                    None => kernel(dst, a, b, (m, k, n)),
                }
            }
            _ => kernel(dst, a, b, (m, k, n)),
        }
    }
}

/// `dst = a @ b` in the blocks between `cuts` (along the side `plan` cuts), the calling
/// thread computing the first while the helpers compute the others. Returns when the
/// caller's block and when the last helper's block was done, counted from the start; or
/// `None`, having computed nothing, when the helpers are busy with another thread's product.
///
/// SAFETY: as for [`kernel`]; `cuts` must run from 0 to the cut side's length, increasing.
unsafe fn split_product<T: Float>(
    dst: Dst<T>,
    a: Operand<T>,
    b: Operand<T>,
    size: (usize, usize, usize),
    plan: SplitPlan,
    cuts: &[usize],
) -> Option<(Duration, Duration)> {
    let blocks: Vec<_> = cuts
        .windows(2)
        // SAFETY: the cuts lie within the cut side (the caller's promise).
        .map(|cut| unsafe { plan.block(dst, a, b, size, (cut[0], cut[1])) })
        .collect();
    let started = Instant::now();
    let helpers_done = AtomicU64::new(0);
    let jobs: Vec<_> = blocks[1..]
        .iter()
        .map(|&(dst, a, b, size)| {
            let helpers_done = &helpers_done;
            move || {
                // SAFETY: each block writes only its own part of the output.
                unsafe { kernel(dst, a, b, size) };
                let done = started.elapsed().as_nanos() as u64;
                helpers_done.fetch_max(done, Ordering::Relaxed);
            }
        })
        .collect();
    let mut own = Duration::ZERO;
    let (dst, a, b, size) = blocks[0];
    let own_block = || {
        // SAFETY: as above.
        unsafe { kernel(dst, a, b, size) };
        own = started.elapsed();
    };
    run_with_helpers(own_block, &jobs)
        .then(|| (own, Duration::from_nanos(helpers_done.into_inner())))
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
    /// A transpose is handed to the kernel as strides, or copied out first where gemm reads
    /// the copy faster (the cases below). Backward passes use this for `grad @ W^T` and
    /// `X^T @ grad`. An `f32` product whose data side is mostly zeros skips them
    /// (`zero_skipping.rs`); where the other side holds an infinity or NaN that meets only
    /// zeros, such a product then gives a number where gemm gives NaN.
    pub fn matmul_t(&self, trans_a: bool, other: &Array<T>, trans_b: bool) -> Array<T> {
        let transposed = || Arc::new(other.transpose());
        self.matmul_t_onto(trans_a, other, trans_b, &transposed, None)
    }

    /// [`Array::matmul_t`], with `other`'s transpose (when a copy of it is wanted) taken from
    /// `transposed` (a parameter that several parts of a batch multiply by in one step keeps
    /// the copy it made, `autograd::Tensor::matmul_t`), and added onto `onto` (an array of the
    /// product's shape) when there is one: `onto + op(self) @ op(other)`, the product summed
    /// into `onto`'s values where gemm writes it (BLAS's `beta = 1`), with no pass of its own
    /// over the result. (The products that take another road add theirs after, to the same
    /// bits when the inner dimension is summed in one chunk.)
    pub(crate) fn matmul_t_onto(
        &self,
        trans_a: bool,
        other: &Array<T>,
        trans_b: bool,
        transposed: &dyn Fn() -> Arc<Array<T>>,
        onto: Option<Array<T>>,
    ) -> Array<T> {
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
        // A first layer's x @ W^T and g^T @ x on mostly-black images skip the zeros.
        if let Some(out) = zero_skipping::product(self, trans_a, other, trans_b) {
            return added_onto(onto, out);
        }
        let (m, k, n) = (a.rows, a.cols, b.cols);
        let a_batch = &self.shape[..self.ndim() - 2];
        let b_batch = &other.shape[..other.ndim() - 2];
        // A batch times one shared matrix (a Linear layer on [B, T, C]) is one product of all
        // the batch's rows.
        let tall = !trans_a && b_batch.is_empty() && !a_batch.is_empty();
        let rows = if tall { self.len() / k.max(1) } else { m };
        let batched = !tall && (!a_batch.is_empty() || !b_batch.is_empty());
        let moves_less = rows.checked_mul(k + n).is_some_and(|moved| moved < k * n);
        let turn_around = trans_b && !trans_a && b_batch.is_empty() && rows > 1 && n > 1;
        if turn_around && k * n >= TURN_AROUND_MIN && moves_less {
            // `x @ W^T` where x and the result are smaller than W (an MNIST MLP's first
            // layer: 64 rows against a 256 x 784 W) is `(W @ x^T)^T`: copying x^T and the
            // result moves rows * (k + n) values where a copy of W^T moves k * n, and gemm
            // runs W @ x^T at the speed of a product stored by rows, faster than it reads W by
            // columns (docs/BENCHMARKS.md).
            let transposed = |a: &[T], rows: usize, cols: usize| {
                let mut t = buffers::vec_with_capacity(a.len());
                append_transposed(a, rows, cols, &mut t);
                Array::from_vec(t, &[cols, rows])
            };
            let out_t = other.matmul(&transposed(&self.data, rows, k));
            let mut shape = self.shape.clone();
            *shape.last_mut().expect("two axes or more") = n;
            let out = transposed(&out_t.data, n, rows).into_reshape(&shape);
            return added_onto(onto, out);
        }
        let worth_copying = rows > STRIDED_RIGHT_SIDE_ROWS || batched;
        if trans_b && m > 1 && n > 1 && k > 2 && worth_copying {
            // gemm 0.19 reads a right side stored by columns (`x @ W^T`, `q @ k^T`) two to
            // five times slower than one stored by rows, for many rows or a batch of small
            // products (docs/BENCHMARKS.md): copying the transpose out first costs k * n moves
            // against m * k * n multiply-adds.
            // (stored by rows, the copy is not copied again: `transposed` is not called)
            return self.matmul_t_onto(trans_a, &transposed(), false, transposed, onto);
        }
        let batch = broadcast_shapes("matmul", a_batch, b_batch);
        let mut shape = batch.clone();
        shape.extend([m, n]);
        if tall {
            // The batch's matrices, stacked, are one tall matrix of rows, so one product
            // replaces B small ones.
            let stacked = MatrixView { rows, ..a };
            return products(self, stacked, &[], other, b, &[], &shape, onto);
        }
        products(self, a, a_batch, other, b, b_batch, &shape, onto)
    }

    /// `self^T @ other` with both read as one tall matrix of their rows (`[.., r]` and
    /// `[.., c]` with as many rows give `[r, c]`): the sum over a batch of each matrix's
    /// product, which is the gradient of a matrix the whole batch shared (a Linear layer's
    /// weight on `[B, T, C]` inputs), made in one product.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// let x = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 1, 2]);
    /// let g = Array::from_vec(vec![1.0, 10.0], &[2, 1, 1]);
    /// // x[0]^T @ g[0] + x[1]^T @ g[1]
    /// assert_eq!(x.rows_t_matmul(&g).data(), &[31.0, 42.0]);
    /// ```
    pub fn rows_t_matmul(&self, other: &Array<T>) -> Array<T> {
        let width = |a: &Array<T>| a.shape.last().copied().unwrap_or(1).max(1);
        let (r, c) = (width(self), width(other));
        let rows = self.len() / r;
        assert!(
            self.ndim() >= 2 && other.ndim() >= 2 && other.len() / c == rows,
            "rows_t_matmul: {:?} and {:?} do not have as many rows",
            self.shape,
            other.shape
        );
        let a = MatrixView::of(&[rows, r], true);
        let b = MatrixView::of(&[rows, c], false);
        products(self, a, &[], other, b, &[], &[r, c], None)
    }
}

/// `onto + product` when there is an `onto` (the same shape), in its place; else `product`.
fn added_onto<T: Float>(onto: Option<Array<T>>, product: Array<T>) -> Array<T> {
    match onto {
        Some(mut onto) => {
            onto.add_assign(&product);
            onto
        }
        None => product,
    }
}

/// The products of `a`'s and `b`'s matrices (views over their elements, batch axes
/// broadcast), into a new array of `shape` (the batch, then the product's rows and columns),
/// or added onto `onto` (of that shape) in its place.
#[allow(clippy::too_many_arguments)]
fn products<T: Float>(
    lhs: &Array<T>,
    a: MatrixView,
    a_batch: &[usize],
    rhs: &Array<T>,
    b: MatrixView,
    b_batch: &[usize],
    shape: &[usize],
    onto: Option<Array<T>>,
) -> Array<T> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let batch = broadcast_shapes("matmul", a_batch, b_batch);
    if k == 0 {
        // an empty sum
        return onto.unwrap_or_else(|| Array::zeros(shape));
    }
    // Checked: a wrapped count would leave gemm writing past the end of `out`.
    let len = shape
        .iter()
        .try_fold(1usize, |all, &d| all.checked_mul(d))
        .unwrap_or_else(|| panic!("matmul: a result of shape {shape:?} has too many elements"));
    let adding = onto.is_some();
    let mut out: Vec<T> = match onto {
        Some(onto) => {
            assert!(
                onto.shape[..] == *shape,
                "matmul: cannot add a product of shape {shape:?} onto {:?}",
                onto.shape
            );
            onto.into_vec()
        }
        // Filled block by block, by the thread that computes the block (`kernel`).
        None => buffers::vec_with_capacity(len),
    };
    let a_step: Vec<usize> = broadcast_strides(a_batch, &batch)
        .iter()
        .map(|s| s * m * k)
        .collect();
    let b_step: Vec<usize> = broadcast_strides(b_batch, &batch)
        .iter()
        .map(|s| s * k * n)
        .collect();
    let dst = Shared(out.as_mut_ptr());
    let (lhs, rhs) = (lhs.data.as_ptr(), rhs.data.as_ptr());
    for_each_offset(&batch, [&a_step, &b_step], |i, [ia, ib]| {
        // SAFETY: every offset stays inside its array: `ia`/`ib` index whole matrices of
        // `lhs`/`rhs` (broadcast strides over their batch dims), `i * m * n` a whole matrix
        // of `out`, and the views describe exactly those m x k, k x n and m x n matrices.
        unsafe {
            let a = Operand {
                at: lhs.add(ia),
                ..a.operand()
            };
            let b = Operand {
                at: rhs.add(ib),
                ..b.operand()
            };
            let at = Shared(dst.0.add(i * m * n));
            let dst = Dst {
                at,
                row: n,
                onto: adding,
            };
            product(dst, a, b, (m, k, n));
        }
    });
    // SAFETY: the loop above ran one product per output matrix, and each wrote all of its
    // m x n elements (with k > 0 gemm stores `a @ b`, read only when added onto).
    unsafe { out.set_len(len) };
    Array::from_vec(out, shape)
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

    /// `onto + x @ W^T` on each road `matmul_t` takes (a copied W^T, W read by columns, the
    /// product turned around, a batch of products, the zeros of a mostly black batch skipped):
    /// the product plus `onto` (f64), and in f32 the very bits of the product's sum rounded,
    /// then added, where gemm sums the inner dimension in one chunk.
    #[test]
    fn a_product_added_onto_an_array_is_the_product_plus_it_on_every_road() {
        // `tolerance` None: the same bits
        fn check<T: Float>(x: &Array<T>, w: &Array<T>, onto: &Array<T>, tolerance: Option<f64>) {
            let product = x.matmul_t(false, w, true);
            let copy = || Arc::new(w.transpose());
            let sum = x.matmul_t_onto(false, w, true, &copy, Some(onto.clone()));
            let want = onto.add(&product);
            let what = format!("{:?} @ {:?}^T", x.shape(), w.shape());
            match tolerance {
                None => assert_eq!(sum.data(), want.data(), "{what}"),
                Some(t) => assert!(sum.allclose(&want, t, t), "{what}"),
            }
        }
        let mut rng = crate::array::Rng::seed(8);
        for (x_shape, w_shape) in [
            (vec![100, 30], [20, 30]),   // W^T copied
            (vec![5, 30], [20, 30]),     // W read by columns
            (vec![3, 200], [300, 200]),  // turned around
            (vec![2, 70, 30], [20, 30]), // a batch as one tall matrix
            (vec![64, 784], [8, 784]),   // k over 512
        ] {
            let out: Vec<usize> = x_shape[..x_shape.len() - 1]
                .iter()
                .copied()
                .chain([w_shape[0]])
                .collect();
            let x = Array::<f64>::rand_uniform(&x_shape, -1.0, 1.0, &mut rng);
            let w = Array::<f64>::rand_uniform(&w_shape, -1.0, 1.0, &mut rng);
            let onto = Array::<f64>::rand_uniform(&out, -1.0, 1.0, &mut rng);
            check(&x, &w, &onto, Some(1e-12));
            let narrow = |a: &Array<f64>| a.map(|v| v as f32);
            let one_chunk = w_shape[1] <= 512;
            let tolerance = (!one_chunk).then_some(1e-5);
            check(&narrow(&x), &narrow(&w), &narrow(&onto), tolerance);
        }
        // mostly zeros (an MNIST batch): the zeros are skipped, the sum added after
        let x = Array::<f32>::rand_uniform(&[64, 784], -1.0, 1.0, &mut rng).map(|v| {
            if v > 0.95 {
                v
            } else {
                0.0
            }
        });
        let w = Array::<f32>::rand_uniform(&[32, 784], -1.0, 1.0, &mut rng);
        let onto = Array::<f32>::rand_uniform(&[64, 32], -1.0, 1.0, &mut rng);
        if zero_skipping::product(&x, false, &w, true).is_some() {
            check(&x, &w, &onto, None);
        } else {
            // no vector kernels here (or dense products asked for): gemm sums 784 in chunks
            check(&x, &w, &onto, Some(1e-5));
        }
    }

    #[test]
    fn a_batch_times_a_shared_matrix_agrees_with_the_triple_loop_per_matrix() {
        let mut rng = crate::array::Rng::seed(5);
        let x = Array::<f64>::rand_uniform(&[3, 7, 11], -1.0, 1.0, &mut rng);
        let w = Array::<f64>::rand_uniform(&[11, 6], -1.0, 1.0, &mut rng);
        let g = Array::<f64>::rand_uniform(&[3, 7, 6], -1.0, 1.0, &mut rng);
        let matrix = |a: &Array<f64>, i: usize| {
            let (r, c) = (a.shape()[1], a.shape()[2]);
            Array::from_vec(a.data()[i * r * c..(i + 1) * r * c].to_vec(), &[r, c])
        };
        let out = x.matmul(&w);
        let out_t = x.matmul_t(false, &w.transpose(), true);
        let mut dw = Array::<f64>::zeros(&[11, 6]);
        for i in 0..3 {
            let want = naive(&matrix(&x, i), &w);
            assert!(matrix(&out, i).allclose(&want, 1e-12, 1e-12));
            assert!(matrix(&out_t, i).allclose(&want, 1e-12, 1e-12));
            dw = dw.add(&naive(&matrix(&x, i).transpose(), &matrix(&g, i)));
        }
        assert!(x.rows_t_matmul(&g).allclose(&dw, 1e-12, 1e-12));
        assert!(g.rows_t_matmul(&x).allclose(&dw.transpose(), 1e-12, 1e-12));
    }

    #[test]
    fn a_few_rows_times_a_large_transposed_matrix_agree_with_the_triple_loop() {
        // Few rows against a large W: computed as (W @ x^T)^T, for a matrix and for a batch
        // read as one tall matrix.
        let mut rng = crate::array::Rng::seed(9);
        let w = Array::<f64>::rand_uniform(&[50, 40], -1.0, 1.0, &mut rng);
        for shape in [vec![5, 40], vec![2, 3, 40]] {
            let x = Array::<f64>::rand_uniform(&shape, -1.0, 1.0, &mut rng);
            let rows = x.len() / 40;
            let w_t = Array::from_vec(
                (0..40 * 50).map(|i| w.at(&[i % 50, i / 50])).collect(),
                &[40, 50],
            );
            let want = naive(&x.reshape(&[rows, 40]), &w_t);
            let got = x.matmul_t(false, &w, true);
            let mut out_shape = shape.clone();
            out_shape[shape.len() - 1] = 50;
            assert_eq!(got.shape(), out_shape.as_slice());
            assert!(got.reshape(&[rows, 50]).allclose(&want, 1e-12, 1e-12));
        }
        // f32 (the AVX transpose) and large enough to be split between threads: the same
        // bits on 1 and 2 threads.
        let x = Array::<f32>::rand_uniform(&[64, 784], -1.0, 1.0, &mut rng);
        let w = Array::<f32>::rand_uniform(&[256, 784], -1.0, 1.0, &mut rng);
        let one = crate::array::with_threads(1, || x.matmul_t(false, &w, true));
        let two = crate::array::with_threads(2, || x.matmul_t(false, &w, true));
        assert_eq!(one, two);
        let w_t = Array::from_vec(
            (0..784 * 256)
                .map(|i| w.at(&[i % 256, i / 256]) as f64)
                .collect(),
            &[784, 256],
        );
        let want = naive(&x.cast(), &w_t);
        assert!(one.cast::<f64>().allclose(&want, 1e-4, 1e-3));
    }

    #[test]
    fn a_large_product_agrees_with_the_triple_loop() {
        let mut rng = crate::array::Rng::seed(1);
        let a = Array::<f32>::rand_uniform(&[64, 784], -1.0, 1.0, &mut rng);
        let b = Array::<f32>::rand_uniform(&[784, 256], -1.0, 1.0, &mut rng);
        let want = naive(&a.cast(), &b.cast());
        assert!(a.matmul(&b).cast::<f64>().allclose(&want, 1e-4, 1e-3));
    }

    #[test]
    fn products_split_by_rows_or_columns_agree_with_the_triple_loop() {
        let mut rng = crate::array::Rng::seed(3);
        // Tall (split by rows) and wide (split by columns), transposed operands, cut
        // explicitly into two blocks (whether `matmul` splits depends on measured timings).
        for (m, k, n, by_columns) in [(300, 200, 40, false), (40, 200, 300, true)] {
            let a = Array::<f64>::rand_uniform(&[k, m], -1.0, 1.0, &mut rng);
            let b = Array::<f64>::rand_uniform(&[n, k], -1.0, 1.0, &mut rng);
            let (va, vb) = (
                MatrixView::of(a.shape(), true),
                MatrixView::of(b.shape(), true),
            );
            let mut out = Array::<f64>::zeros(&[m, n]);
            let lhs = Operand {
                at: a.data.as_ptr(),
                ..va.operand()
            };
            let rhs = Operand {
                at: b.data.as_ptr(),
                ..vb.operand()
            };
            let plan = SplitPlan::new((m, k, n), 2, true).expect("these can be cut");
            assert_eq!(plan.by_columns, by_columns);
            let cuts = split_points(plan.len, 2, 0.3, plan.min_block);
            let dst = Dst {
                at: Shared(out.data.as_mut_ptr()),
                row: n,
                onto: false,
            };
            // SAFETY: whole arrays of the stated sizes; the cuts span the cut side. (None:
            // another test's product held the helpers, and nothing was computed.)
            while unsafe { split_product(dst, lhs, rhs, (m, k, n), plan, &cuts) }.is_none() {}
            let want = naive(&a.transpose(), &b.transpose());
            assert!(out.allclose(&want, 1e-12, 1e-12), "{m}x{k}x{n}");
        }
    }

    /// `a @ b` (each read transposed when its flag says), added onto `onto` when there is
    /// one, as output bits: unsplit, or cut at `cuts` along the side `plan` cuts.
    fn product_bits(
        a: &Array<f32>,
        trans_a: bool,
        b: &Array<f32>,
        trans_b: bool,
        onto: Option<&Array<f32>>,
        split: Option<(SplitPlan, &[usize])>,
    ) -> Vec<u32> {
        let (va, vb) = (
            MatrixView::of(a.shape(), trans_a),
            MatrixView::of(b.shape(), trans_b),
        );
        let size = (va.rows, va.cols, vb.cols);
        let mut out = onto
            .cloned()
            .unwrap_or_else(|| Array::<f32>::zeros(&[va.rows, vb.cols]));
        let dst = Dst {
            at: Shared(out.data.as_mut_ptr()),
            row: vb.cols,
            onto: onto.is_some(),
        };
        let lhs = Operand {
            at: a.data.as_ptr(),
            ..va.operand()
        };
        let rhs = Operand {
            at: b.data.as_ptr(),
            ..vb.operand()
        };
        // SAFETY: the operands and the output are whole arrays of the stated sizes, and the
        // cuts run from 0 to the cut side's length.
        unsafe {
            match split {
                None => kernel(dst, lhs, rhs, size),
                Some((plan, cuts)) => {
                    // None: another test's product held the helpers, and nothing was computed.
                    while split_product(dst, lhs, rhs, size, plan, cuts).is_none() {}
                }
            }
        }
        out.data().iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn every_cut_the_planner_allows_gives_the_unsplit_bits() {
        // Whether a product is split depends on measured timings, so on the machine's load:
        // a cut that changed the sums made runs with the same seed differ. Once a side too
        // short for blocks of the needed length was still cut evenly (gemm then summed
        // k = 700 as 512 + 188 instead of 350 + 350), and `x @ W^T` blocks fell into gemm's
        // horizontal kernel. Every shape of this grid, with every transpose, is cut by the
        // planner at shares from 0.1 to 0.9 into 2 and 3 blocks, and must match unsplit.
        let mut rng = crate::array::Rng::seed(5);
        let sides = [2, 3, 17, 64, 65, 100, 130, 200];
        let inners = [3, 100, 512, 513, 700, 784];
        let (mut products, mut split) = (0, 0);
        for &m in &sides {
            for &n in &sides {
                for &k in &inners {
                    for (trans_a, trans_b) in [(false, false), (true, false), (false, true)] {
                        let a_shape = if trans_a { [k, m] } else { [m, k] };
                        let a = Array::<f32>::rand_uniform(&a_shape, -1.0, 1.0, &mut rng);
                        let b_shape = if trans_b { [n, k] } else { [k, n] };
                        let b = Array::<f32>::rand_uniform(&b_shape, -1.0, 1.0, &mut rng);
                        let whole = product_bits(&a, trans_a, &b, trans_b, None, None);
                        let start = Array::<f32>::rand_uniform(&[m, n], -1.0, 1.0, &mut rng);
                        let onto = Some(&start);
                        let whole_onto = product_bits(&a, trans_a, &b, trans_b, onto, None);
                        products += 1;
                        for threads in [2, 3] {
                            let Some(plan) = SplitPlan::new((m, k, n), threads, trans_b) else {
                                continue;
                            };
                            split += 1;
                            for share in [0.1, 0.3, 0.5, 0.7, 0.9] {
                                let cuts = split_points(plan.len, threads, share, plan.min_block);
                                let cut = Some((plan, &cuts[..]));
                                let bits = product_bits(&a, trans_a, &b, trans_b, None, cut);
                                let what = format!(
                                    "{m}x{k}x{n} (transposes {trans_a}, {trans_b}) cut at {cuts:?}"
                                );
                                assert!(bits == whole, "{what}");
                                // added onto an array, block by block
                                let bits = product_bits(&a, trans_a, &b, trans_b, onto, cut);
                                assert!(bits == whole_onto, "{what}, onto");
                            }
                        }
                    }
                }
            }
        }
        // The planner splits most of them (the test is not vacuous), training's products among
        // them.
        assert!(split > products, "{split} plans for {products} products");
        for (m, k, n) in [(64, 784, 256), (64, 256, 784), (784, 64, 256)] {
            assert!(SplitPlan::new((m, k, n), 2, false).is_some(), "{m}x{k}x{n}");
        }
    }

    #[test]
    fn an_empty_inner_dimension_gives_zeros() {
        // gemm never runs for an empty sum, so its zero fill does not either: this case must
        // make its zeros itself.
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
