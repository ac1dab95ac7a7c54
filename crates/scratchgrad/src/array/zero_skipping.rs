//! Matrix products whose left side is mostly zeros, computed without the multiply-adds that a
//! zero would make: an MNIST image is 81% black pixels, so most of the first layer's work,
//! `x @ W^T` and its weight gradient `g^T @ x`, adds nothing.
//!
//! The kernel is gemm's idea with one change. gemm keeps a tile of the output (a few rows of
//! `a` by a few vectors of columns of `b`) in registers and, for each `j` of the inner
//! dimension, loads a piece of row `j` of `b` once and multiplies it by each of the tile's
//! `a[r, j]`. Here the tile's rows are taken [`ROWS`] at a time, and only the `j`'s where at
//! least one of those rows is nonzero are visited: for MNIST batches that is about 40% of
//! them (a single pixel is nonzero in 19% of images, but six images rarely share their black
//! pixels everywhere). Skipping single zeros instead, one row at a time, would load a row of
//! `b` for every multiply-add and run at the speed of the cache, not the arithmetic
//! (docs/BENCHMARKS.md).
//!
//! The tile (`register_tile.rs`, which attention's products share) is compiled for AVX-512 and
//! for AVX2 with FMA, picked at run time (`simd.rs`). On a CPU with neither, gemm's own kernels
//! beat the plain-Rust tile and the product is left to them.
//!
//! A skipped `j` adds `0 * b[j, c]` nowhere, which is what the dense product adds as well,
//! except where `b` holds an infinity or NaN: the dense product then gives NaN and this
//! gives the sum of the other terms.
//!
//! The threads split a product by bands of the result's columns, which start at multiples of
//! a whole vector ([`BAND_UNIT`]), and each output's sum runs over `j` in order, so the
//! result does not depend on the thread count. A band split is even (every band visits the
//! same columns of `a`) and keeps a layer's weights on one core from product to product: the
//! band of `W`'s rows that a thread copies and reads in `x @ W^T` is the band of the weight
//! gradient it computes, and about the rows that the update (split at the same share of the
//! array, in elements) changes.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::OnceLock;

use super::register_tile::{self, Out, Rows, ROWS};
use super::simd::{Isa, Kind};
use super::switches::switched;
use super::threads::{for_each_range, SharedPtr};
use super::transpose::transpose;
use super::{Array, Float};

/// The product skips zeros only when its blocks have nonzeros in at most this share of
/// `(block, column)` pairs: the kernel runs a visited column at about gemm's speed, and the
/// copies around it (a transpose or two) cost about a fifth of the dense product.
const MAX_VISITED_SHARE: f64 = 0.5;

/// Products smaller than this many multiply-adds are left to gemm.
const MIN_MULTIPLY_ADDS: usize = 1 << 20;

thread_local! {
    /// The transposed operands and the turned-around result, kept between products: the
    /// same few sizes come back at every training step, so they are allocated once.
    static SCRATCH: RefCell<[Vec<f32>; 3]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// For each block of [`ROWS`] rows of a row-major `m x k` matrix, the columns where one of the
/// block's rows is nonzero, in increasing order.
struct NonzeroColumns {
    /// The matrix's width: every listed column is below it.
    k: usize,
    /// Block `i`'s columns are `columns[i * k..][..counts[i]]` (a slot of `k` per block, so
    /// that threads can list blocks side by side).
    columns: Vec<u32>,
    counts: Vec<usize>,
}

impl NonzeroColumns {
    /// The lists of `a`, or `None` when they visit more than [`MAX_VISITED_SHARE`] of all
    /// `(block, column)` pairs (then nothing is skipped).
    fn of(a: &[f32], m: usize, k: usize) -> Option<NonzeroColumns> {
        assert_eq!(a.len(), m * k, "zero_skipping: a {m} x {k} matrix");
        Self::listed(
            m,
            k,
            |_| {},
            |block| &a[block * ROWS * k..][..rows_in(block, m) * k],
        )
    }

    /// The transpose of the row-major `rows x cols` matrix `x`, written into `x_t`, and its
    /// lists (`None` as for [`NonzeroColumns::of`], `x_t` then empty). Each
    /// thread moves the columns of `x` that make its blocks, then lists them.
    fn of_transpose(
        x: &[f32],
        rows: usize,
        cols: usize,
        x_t: &mut Vec<f32>,
    ) -> Option<NonzeroColumns> {
        assert_eq!(
            x.len(),
            rows * cols,
            "zero_skipping: x is not {rows} x {cols}"
        );
        x_t.clear();
        x_t.reserve(rows * cols);
        let (to, isa) = (SharedPtr(x_t.as_mut_ptr()), Isa::detect());
        let start = |block: usize| block * ROWS * rows;
        let lists = Self::listed(
            cols,
            rows,
            |blocks| {
                let first = blocks.start * ROWS;
                let width = (blocks.end * ROWS).min(cols) - first;
                // SAFETY: columns first..first + width of x lie inside it; their transpose is
                // rows of x_t inside its room for cols * rows, which only these blocks write.
                unsafe {
                    transpose(
                        isa,
                        x[first..].as_ptr(),
                        rows,
                        width,
                        cols,
                        to.at(start(blocks.start)),
                    )
                };
            },
            // SAFETY: a block's rows are read only after `make` wrote them (see `listed`).
            |block| unsafe {
                std::slice::from_raw_parts(
                    to.at(start(block)).cast_const(),
                    rows_in(block, cols) * rows,
                )
            },
        );
        // SAFETY: with lists, every block was made, and the blocks cover x_t.
        lists.inspect(|_| unsafe { x_t.set_len(rows * cols) })
    }

    /// The lists of an `m x k` matrix whose block `i` (its rows, in order) is `block_rows(i)`
    /// once `make` has run for a range of blocks holding `i`. The first block is made and
    /// listed alone first, so a dense matrix costs one block's comparisons; the others a
    /// range of blocks per thread.
    fn listed<'a>(
        m: usize,
        k: usize,
        make: impl Fn(Range<usize>) + Sync,
        block_rows: impl Fn(usize) -> &'a [f32] + Sync,
    ) -> Option<NonzeroColumns> {
        assert!(u32::try_from(k).is_ok(), "zero_skipping: {k} columns");
        let blocks = m.div_ceil(ROWS);
        let mut lists = NonzeroColumns {
            k,
            columns: vec![0; blocks * k],
            counts: vec![0; blocks],
        };
        if blocks == 0 {
            return Some(lists);
        }
        let list = |block: usize, slot: &mut [u32], nonzero: &mut [u8]| {
            make_list(block_rows(block), k, slot, nonzero)
        };
        make(0..1);
        let mut nonzero = vec![0u8; k];
        lists.counts[0] = list(0, &mut lists.columns[..k], &mut nonzero);
        if lists.counts[0] as f64 > MAX_VISITED_SHARE * k as f64 {
            return None;
        }
        let (columns, counts) = (
            SharedPtr(lists.columns.as_mut_ptr()),
            SharedPtr(lists.counts.as_mut_ptr()),
        );
        // (for_each_range runs nothing when the first block is the only one)
        for_each_range(blocks - 1, |range| {
            let blocks = range.start + 1..range.end + 1;
            make(blocks.clone());
            let mut nonzero = vec![0u8; k];
            for block in blocks {
                // SAFETY: block's slot and count are inside the lists and this range's alone.
                unsafe {
                    let slot = std::slice::from_raw_parts_mut(columns.at(block * k), k);
                    *counts.at(block) = list(block, slot, &mut nonzero);
                }
            }
        });
        let visited: usize = lists.counts.iter().sum();
        (visited as f64 <= MAX_VISITED_SHARE * (blocks * k) as f64).then_some(lists)
    }

    fn block(&self, i: usize) -> &[u32] {
        &self.columns[i * self.k..][..self.counts[i]]
    }
}

/// How many rows block `block` of a matrix of `m` rows has (the last may have fewer than
/// [`ROWS`]).
fn rows_in(block: usize, m: usize) -> usize {
    (m - block * ROWS).min(ROWS)
}

/// Lists into `slot` the columns where one of `rows` (k wide) is nonzero, and returns how
/// many; `nonzero` is room for k flags.
fn make_list(rows: &[f32], k: usize, slot: &mut [u32], nonzero: &mut [u8]) -> usize {
    // One byte per column, set where a row of the block is nonzero: a loop of compares and
    // ors the compiler vectorizes (`Isa::run`).
    Isa::detect().run(
        #[inline(always)]
        || {
            nonzero.fill(0);
            for row in rows.chunks_exact(k) {
                for (seen, &x) in nonzero.iter_mut().zip(row) {
                    *seen |= (x != 0.0) as u8;
                }
            }
        },
    );
    // Every column written, the count advanced only past nonzero ones: no branch to
    // mispredict on a coin-flip pattern.
    let mut visited = 0;
    for (j, &seen) in nonzero.iter().enumerate() {
        slot[visited] = j as u32;
        visited += seen as usize;
    }
    visited
}

/// `op(a) @ op(b)` (`op` transposes when its flag is set) with the zeros of the data read as
/// the left side skipped, for two `f32` matrices, when that left side is mostly zeros and the
/// product large; `None` leaves it to gemm. Three forms have such a side: `x @ W^T` (a Linear
/// layer), `x @ B`, and `g^T @ x` (its weight's gradient), which runs as `(x^T @ g)^T`.
pub(crate) fn product<T: Float>(
    a: &Array<T>,
    trans_a: bool,
    b: &Array<T>,
    trans_b: bool,
) -> Option<Array<T>> {
    let (a, b) = (a.as_f32()?, b.as_f32()?);
    if a.ndim() != 2 || b.ndim() != 2 || dense_only() {
        return None;
    }
    let (ar, ac, br, bc) = (a.shape[0], a.shape[1], b.shape[0], b.shape[1]);
    let (m, k, n) = match (trans_a, trans_b) {
        (false, _) => (ar, ac, if trans_b { br } else { bc }),
        (true, false) => (ac, ar, bc),
        (true, true) => return None,
    };
    let multiply_adds = m.checked_mul(k).and_then(|mk| mk.checked_mul(n));
    if multiply_adds.is_none_or(|count| count < MIN_MULTIPLY_ADDS) {
        return None;
    }
    let isa = Isa::detect();
    // The tile's vectors run along the result's columns, or for `g^T @ x` (computed as
    // `(x^T @ g)^T`) along its rows.
    let vector_side = if trans_a { m } else { n };
    if vector_side < isa.lanes() {
        // Too narrow for a vector (a convolution's weight gradient for 6 filters): gemm's
        // kernels do better.
        return None;
    }
    if isa.kind() == Kind::Portable {
        // Plain Rust's vectors lose to gemm's own kernels (docs/BENCHMARKS.md): the portable
        // tile is kept for the tests, which check it on every machine.
        return None;
    }
    let out = SCRATCH.with_borrow_mut(|[left, right, out_t]| {
        let mut out = Vec::with_capacity(m * n);
        let to = SharedPtr(out.as_mut_ptr());
        if trans_a {
            // g^T @ x = (x^T @ g)^T, with x^T the mostly-zero left side.
            let lists = NonzeroColumns::of_transpose(b.data(), k, n, left)?;
            // SAFETY: `to` has room for the m x n result, and only this call writes there.
            unsafe { weight_gradient(isa, left, &lists, a.data(), m, out_t, &to) };
        } else {
            let lists = NonzeroColumns::of(a.data(), m, k)?;
            // SAFETY: as above.
            unsafe {
                match trans_b {
                    true => times_transposed(isa, a.data(), &lists, b.data(), n, right, &to),
                    false => times(isa, a.data(), &lists, b.data(), n, &to),
                }
            }
        }
        // SAFETY: the bands cover every column of every row of the result.
        unsafe { out.set_len(m * n) };
        Some(Array::from_vec(out, &[m, n]))
    })?;
    Some(Array::from_f32(out).expect("T is f32"))
}

/// Whether the environment variable `SCRATCHGRAD_MATMUL=dense` asks for gemm everywhere (to
/// compare the two on one machine; any other value is named in one line on stderr, once).
fn dense_only() -> bool {
    static DENSE: OnceLock<bool> = OnceLock::new();
    *DENSE.get_or_init(|| switched("SCRATCHGRAD_MATMUL", "dense"))
}

/// `x @ W^T` (`x`: m x k, its nonzero columns in `lists`; `W`: n x k) into the m x n matrix
/// at `to`. Each thread copies out its band of `W^T`'s columns (rows of `W`) into `w_t` and
/// reads it for the same band of the result.
///
/// SAFETY: `to` points at room for m x n floats that nothing else uses meanwhile.
unsafe fn times_transposed(
    isa: Isa,
    x: &[f32],
    lists: &NonzeroColumns,
    w: &[f32],
    n: usize,
    w_t: &mut Vec<f32>,
    to: &SharedPtr<f32>,
) {
    let (k, m) = (lists.k, x.len() / lists.k);
    assert_eq!(w.len(), n * k, "zero_skipping: W is not n x k");
    w_t.clear();
    w_t.reserve(k * n);
    let w_t = SharedPtr(w_t.as_mut_ptr());
    for_each_band(n, |cols| {
        let width = cols.len();
        let band = w_t.at(k * cols.start);
        // SAFETY: rows `cols` of the n x k matrix W lie inside it; their k x width transpose
        // fits `w_t`'s room for k * n from k * cols.start, which no other band writes; the
        // result's columns `cols` of its m rows are this band's alone.
        unsafe {
            transpose(isa, w[k * cols.start..].as_ptr(), width, k, k, band);
            let band = std::slice::from_raw_parts(band.cast_const(), k * width);
            skipping(
                isa,
                x,
                m,
                lists,
                Rows::new(band, width),
                width,
                out(to, cols.start, n),
            );
        }
    });
}

/// `x @ b` (`x`: m x k, its nonzero columns in `lists`; `b`: k x n) into the m x n matrix at
/// `to`, one band of `b`'s columns per thread.
///
/// SAFETY: as for [`times_transposed`].
unsafe fn times(
    isa: Isa,
    x: &[f32],
    lists: &NonzeroColumns,
    b: &[f32],
    n: usize,
    to: &SharedPtr<f32>,
) {
    let (k, m) = (lists.k, x.len() / lists.k);
    assert_eq!(b.len(), k * n, "zero_skipping: b is not k x n");
    for_each_band(n, |cols| {
        // SAFETY: b's columns `cols` lie inside its k rows; the result's columns `cols` of
        // its m rows are this band's alone.
        let b = Rows::new(&b[cols.start..], n);
        unsafe { skipping(isa, x, m, lists, b, cols.len(), out(to, cols.start, n)) };
    });
}

/// `g^T @ x` (`g`: k x m; `x^T`: n x k, its nonzero columns in `lists`) into the m x n matrix
/// at `to`, as `(x^T @ g)^T`. Each thread computes a band of `g`'s columns of `x^T @ g` into
/// `out_t`, then turns it into the same rows of the result.
///
/// SAFETY: as for [`times_transposed`].
unsafe fn weight_gradient(
    isa: Isa,
    x_t: &[f32],
    lists: &NonzeroColumns,
    g: &[f32],
    m: usize,
    out_t: &mut Vec<f32>,
    to: &SharedPtr<f32>,
) {
    let (k, n) = (lists.k, x_t.len() / lists.k);
    assert_eq!(g.len(), k * m, "zero_skipping: g is not k x m");
    out_t.clear();
    out_t.reserve(n * m);
    let out_t = SharedPtr(out_t.as_mut_ptr());
    for_each_band(m, |outputs| {
        let width = outputs.len();
        // This band of x^T @ g: n rows of `width`, stored alone.
        let band = out_t.at(n * outputs.start);
        let g = Rows::new(&g[outputs.start..], m);
        // SAFETY: the band's n x width values lie inside `out_t`'s room for n * m from
        // n * outputs.start, which no other band writes, and `g` holds k rows of `width`
        // columns. The band's transpose is rows `outputs` of the result, this band's alone.
        unsafe {
            let band_rows = Out {
                to: band,
                pitch: width,
            };
            skipping(isa, x_t, n, lists, g, width, band_rows);
            transpose(
                isa,
                band.cast_const(),
                n,
                width,
                width,
                to.at(n * outputs.start),
            );
        }
    });
}

/// Rows `pitch` apart from column `first` of the matrix at `to`.
fn out(to: &SharedPtr<f32>, first: usize, pitch: usize) -> Out {
    Out {
        to: to.at(first),
        pitch,
    }
}

/// Columns of the result per unit of [`for_each_band`]'s split: a whole AVX-512 vector (two
/// of AVX2), so every column is summed by the same vector code whatever the split, and the
/// last columns (fewer than a vector) stay in the last band.
const BAND_UNIT: usize = 16;

/// Runs `work(columns)` over `0..n` cut into one band of columns per thread ([`for_each_range`]
/// in units of [`BAND_UNIT`]). Each band's work is the same for every block of rows (the
/// same visited columns), so equal bands take equal time; and a thread that computes a band
/// of one product and then the same band of the next (a layer's weight gradient, the update,
/// the next step's `x @ W^T`: all cut by the layer's outputs) finds its data in its own
/// core's caches.
fn for_each_band(n: usize, work: impl Fn(Range<usize>) + Sync) {
    for_each_range(n.div_ceil(BAND_UNIT), |units| {
        work(units.start * BAND_UNIT..(units.end * BAND_UNIT).min(n))
    });
}

/// The columns `b` holds (`n` of them, a band of some wider matrix) of `a @ b`, for a
/// row-major `a` (`m x k`, its nonzero columns listed per block of [`ROWS`] rows), into `out`.
///
/// SAFETY: `b` holds k rows of `n` columns (`k` is `lists.k`); `out` points at m rows of `n`
/// writable floats, `out.pitch` apart, that nothing else reads or writes meanwhile.
unsafe fn skipping(
    isa: Isa,
    a: &[f32],
    m: usize,
    lists: &NonzeroColumns,
    b: Rows,
    n: usize,
    out: Out,
) {
    let k = lists.k;
    assert!(
        a.len() == m * k && b.holds(k, n) && lists.counts.len() == m.div_ceil(ROWS),
        "zero_skipping: operand sizes"
    );
    for (block, a_rows) in a.chunks(ROWS * k).enumerate() {
        let columns = lists.block(block);
        // SAFETY: `a_rows` holds this block's rows (1 to 6), `columns` are below k
        // (`NonzeroColumns` lists no other), `b` holds k rows of n columns (checked above),
        // and the block's output rows are the caller's promise.
        unsafe {
            register_tile::block(
                isa,
                a_rows.len() / k,
                Rows::new(a_rows, k),
                columns.iter().map(|&j| j as usize),
                b,
                n,
                Out {
                    to: out.to.add(block * ROWS * out.pitch),
                    pitch: out.pitch,
                },
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::{with_threads, Rng};

    /// A row-major `rows x cols` matrix where about `density` of the values are nonzero.
    fn mostly_zero(rows: usize, cols: usize, density: f64, rng: &mut Rng) -> Vec<f32> {
        (0..rows * cols)
            .map(|_| match rng.uniform() < density {
                true => rng.normal() as f32,
                false => 0.0,
            })
            .collect()
    }

    /// `a @ b` by the textbook triple loop, in f64.
    fn reference(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..k {
                for c in 0..n {
                    out[i * n + c] += a[i * k + j] as f64 * b[j * n + c] as f64;
                }
            }
        }
        out
    }

    fn assert_close(got: &[f32], want: &[f64], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "{what}: element {i} is {g}, the triple loop gives {w}"
            );
        }
    }

    #[test]
    fn every_instruction_set_agrees_with_the_triple_loop() {
        let mut rng = Rng::seed(3);
        // Blocks of 1 to 6 rows (m = 1, 8, 9, 11, 13, 64), and widths through every tile:
        // 64, 32 and 16 columns for AVX-512, 16 and 8 for AVX2 and the portable code, and
        // the columns after the last vector (n = 3, 17, 24, 31, 100).
        for (m, k, n) in [
            (1, 5, 3),
            (6, 9, 64),
            (8, 31, 17),
            (9, 12, 24),
            (11, 50, 31),
            (13, 40, 100),
            (64, 784, 256),
        ] {
            let a = mostly_zero(m, k, 0.05, &mut rng);
            let b: Vec<f32> = (0..k * n).map(|_| rng.normal() as f32).collect();
            let blocks = m.div_ceil(ROWS);
            let every = NonzeroColumns {
                k,
                columns: (0..blocks).flat_map(|_| 0..k as u32).collect(),
                counts: vec![k; blocks],
            };
            let nonzero = NonzeroColumns::of(&a, m, k).expect("5% nonzero: lists");
            let want = reference(&a, &b, (m, k, n));
            for isa in Isa::available() {
                let what = format!("{} on {m}x{k}x{n}", isa.name());
                let product = |lists: &NonzeroColumns| {
                    // NaN where nothing was written, which the comparison catches.
                    let mut out = vec![f32::NAN; m * n];
                    let to = Out {
                        to: out.as_mut_ptr(),
                        pitch: n,
                    };
                    // SAFETY: `b` is k x n and `out` m x n.
                    unsafe { skipping(isa, &a, m, lists, Rows::new(&b, n), n, to) };
                    out
                };
                // Every column visited, and only the nonzero ones: the same sums.
                assert_close(&product(&every), &want, &what);
                assert_close(&product(&nonzero), &want, &what);
            }
        }
    }

    #[test]
    fn lists_hold_the_columns_where_a_block_has_a_nonzero() {
        // 7 rows: a block of 6 and a block of 1.
        let mut a = vec![0.0f32; 7 * 10];
        a[2 * 10 + 3] = 1.0; // row 2, column 3
        a[5 * 10 + 1] = -2.0; // row 5, column 1
        a[6 * 10 + 9] = 0.5; // row 6 (the second block), column 9
        let lists = NonzeroColumns::of(&a, 7, 10).expect("mostly zero");
        assert_eq!(lists.block(0), &[1, 3]);
        assert_eq!(lists.block(1), &[9]);
        // A dense first block is turned down at once.
        assert!(NonzeroColumns::of(&[1.0; 70], 7, 10).is_none());
    }

    #[test]
    fn bands_of_columns_give_the_bits_of_the_whole_product_on_every_instruction_set() {
        let mut rng = Rng::seed(7);
        let (m, k, n) = (13, 40, 100);
        let a = mostly_zero(m, k, 0.1, &mut rng);
        let b: Vec<f32> = (0..k * n).map(|_| rng.normal() as f32).collect();
        let lists = NonzeroColumns::of(&a, m, k).expect("10% nonzero: lists");
        for isa in Isa::available() {
            let run = |bands: &[usize]| {
                let mut out = vec![f32::NAN; m * n];
                for band in bands.windows(2) {
                    let (first, width) = (band[0], band[1] - band[0]);
                    let to = Out {
                        to: out[first..].as_mut_ptr(),
                        pitch: n,
                    };
                    // SAFETY: b's columns first..first + width of its k rows, and the same
                    // columns of the m x n output.
                    let b = Rows::new(&b[first..], n);
                    unsafe { skipping(isa, &a, m, &lists, b, width, to) };
                }
                out
            };
            let whole = run(&[0, n]);
            // Bands at multiples of 16, as for_each_band cuts them, the last with the tail.
            for bands in [
                &[0, 16, n][..],
                &[0, 48, 64, n],
                &[0, 16, 32, 48, 64, 80, 96, n],
            ] {
                let banded = run(bands);
                let same = whole
                    .iter()
                    .zip(&banded)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{}: bands {bands:?}", isa.name());
            }
        }
    }

    #[test]
    fn a_transpose_listed_as_it_is_made_is_the_transpose_and_its_lists() {
        // One block of rows of x^T (1 to 6 columns of x), two, and three with a remainder.
        let mut rng = Rng::seed(4);
        for cols in 1..=13 {
            let x = mostly_zero(20, cols, 0.02, &mut rng);
            let want_t = Array::from_vec(x.clone(), &[20, cols]).transpose();
            let mut x_t = Vec::new();
            let lists = NonzeroColumns::of_transpose(&x, 20, cols, &mut x_t).expect("2% nonzero");
            assert_eq!(x_t, want_t.data(), "{cols} columns");
            for block in 0..cols.div_ceil(ROWS) {
                // The images (rows of x) where one of the block's pixels is nonzero.
                let pixels = block * ROWS..(block * ROWS + ROWS).min(cols);
                let want: Vec<u32> = (0..20u32)
                    .filter(|&i| pixels.clone().any(|p| x[i as usize * cols + p] != 0.0))
                    .collect();
                assert_eq!(lists.block(block), want, "{cols} columns, block {block}");
            }
        }
        let mut rng = Rng::seed(5);
        // 64 images of 100 pixels: 17 blocks of 6 pixels, the last of 4.
        let (rows, cols) = (64, 100);
        let x = mostly_zero(rows, cols, 0.05, &mut rng);
        let want_t = Array::from_vec(x.clone(), &[rows, cols]).transpose();
        let want = NonzeroColumns::of(want_t.data(), cols, rows).expect("mostly zero");
        for threads in [1, 2] {
            let mut x_t = vec![f32::NAN; 7]; // replaced, not appended to
            let lists = with_threads(threads, || {
                NonzeroColumns::of_transpose(&x, rows, cols, &mut x_t)
            })
            .expect("mostly zero");
            assert_eq!(x_t, want_t.data(), "{threads} thread(s)");
            for block in 0..cols.div_ceil(ROWS) {
                assert_eq!(lists.block(block), want.block(block), "block {block}");
            }
        }
        // Too many nonzeros in the first block, or in all: nothing listed.
        let mut dense_first = x.clone();
        (0..rows).for_each(|r| dense_first[r * cols] = 1.0);
        assert!(NonzeroColumns::of_transpose(&dense_first, rows, cols, &mut Vec::new()).is_none());
        let mut dense_after = x;
        for row in dense_after.chunks_exact_mut(cols) {
            row[ROWS..].fill(1.0); // every block after the first
        }
        assert!(NonzeroColumns::of_transpose(&dense_after, rows, cols, &mut Vec::new()).is_none());
    }

    #[test]
    fn the_three_forms_match_the_dense_product_on_any_number_of_threads() {
        let mut rng = Rng::seed(11);
        // 301 inputs: x^T's last block of rows has 1 row; 70 outputs: 4 bands of 16 and 6.
        let (batch, inputs, outputs) = (64, 301, 70);
        let x = Array::from_vec(mostly_zero(batch, inputs, 0.08, &mut rng), &[batch, inputs]);
        let w = Array::from_vec(
            (0..outputs * inputs).map(|_| rng.normal() as f32).collect(),
            &[outputs, inputs],
        );
        let g = Array::from_vec(
            (0..batch * outputs).map(|_| rng.normal() as f32).collect(),
            &[batch, outputs],
        );
        let wide = |a: &Array<f32>| {
            Array::from_vec(a.data().iter().map(|&v| v as f64).collect(), a.shape())
        };
        let w_t = w.transpose();
        let forms = [
            ("x @ W^T", &x, false, &w, true),
            ("x @ W", &x, false, &w_t, false),
            ("g^T @ x", &g, true, &x, false),
        ];
        // Without AVX2 (or with SCRATCHGRAD_MATMUL=dense) every product stays with gemm.
        let skips = Isa::detect().kind() != Kind::Portable && !dense_only();
        for (what, a, trans_a, b, trans_b) in forms {
            let form = || product(a, trans_a, b, trans_b);
            if !skips {
                assert!(form().is_none(), "{what}: left to gemm");
                continue;
            }
            // gemm in f64, itself checked against the triple loop in matmul.rs.
            let want = wide(a).matmul_t(trans_a, &wide(b), trans_b);
            let one = with_threads(1, form).expect("mostly zero and large: skipped");
            let two = with_threads(2, form).expect("the same on 2 threads");
            assert_eq!(one.shape(), want.shape(), "{what}");
            assert_close(one.data(), want.data(), what);
            assert_eq!(one.data(), two.data(), "{what}: 1 and 2 threads differ");
        }
        // Dense data and small products are left to gemm.
        let dense = Array::from_vec(vec![1.0f32; batch * inputs], &[batch, inputs]);
        assert!(product(&dense, false, &w, true).is_none());
        assert!(product(&g, true, &dense, false).is_none());
        let small = Array::from_vec(mostly_zero(4, inputs, 0.1, &mut rng), &[4, inputs]);
        assert!(product(&small, false, &w, true).is_none());
        // Nor are both sides transposed, an empty product, or fewer columns than a vector.
        assert!(product(&x.transpose(), true, &w, true).is_none());
        let empty = Array::<f32>::zeros(&[0, inputs]);
        assert!(product(&empty, false, &w, true).is_none());
        assert_eq!(empty.matmul_t(false, &w, true).shape(), &[0, outputs]);
        let tall = Array::from_vec(mostly_zero(1024, inputs, 0.05, &mut rng), &[1024, inputs]);
        let narrow = Array::from_vec(vec![1.0f32; 4 * inputs], &[4, inputs]);
        assert!(product(&tall, false, &narrow, true).is_none());
        // (and g^T @ x for a g of 4 columns: x^T @ g would be 4 wide)
        let few = Array::from_vec(vec![1.0f32; 1024 * 4], &[1024, 4]);
        assert!(product(&few, true, &tall, false).is_none());
    }
}
