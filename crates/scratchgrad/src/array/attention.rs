//! Causal self-attention's core as one operation, forward and backward: from each position's
//! query, key and value (side by side in one array, the `qkv` layer's output `[B, T, 3C]`),
//! each head's weights `P = softmax(q k^T / sqrt(s))` over the positions up to each one, and
//! their mixture of the values `P v`, written back with the heads side by side (`[B, T, C]`).
//!
//! It computes what `split_heads`, `matmul`, `causal_softmax`, `matmul` and `merge_heads`
//! compute one after the other (the GPT's attention with dropout still runs that way,
//! `nn/attention.rs`), with two savings: each head's queries, keys and values are read where
//! they lie, not copied out into arrays of their own and back; and of each product only the
//! triangle the causal mask leaves is computed (position `i` never looks after itself), which
//! halves the multiply-adds. For `f32` the products run in the hand-written register tile
//! (`register_tile.rs`), in blocks of six rows; for `f64` (the checks against PyTorch) in
//! plain loops, which sum in the same order.
//!
//! Where the values are finite, nothing after a position reaches it. A product's block of six
//! rows sums up to its last row, so an infinity or NaN in a later position's value can reach
//! the block's earlier rows through a zero weight (0 x inf is NaN); the five steps, whose
//! products take every position, spread it to every row.
//!
//! The gradient, for one head with `dO` the output's gradient and `c = 1 / sqrt(s)`:
//! `dV = P^T dO`, `dP = dO V^T`, `dS = c P (dP - rowsum(P dP))` (the causal softmax's rule),
//! `dQ = dS K` and `dK = dS^T Q`. The rules are written out in autograd/backward.rs.

use super::buffers::filled;
use super::register_tile::{self, Out, Rows, ROWS};
use super::rows::{causal_softmax_grad_row, causal_softmax_row};
use super::transpose::transpose_rows;
use super::{Array, Float, Isa};

impl<T: Float> Array<T> {
    /// Causal attention over `self` = `[batch, time, 3 * features]` (queries, keys and values
    /// side by side, each `heads` heads of `features / heads`): the heads' mixtures side by
    /// side, `[batch, time, features]`, and the weights `[batch, heads, time, time]`.
    ///
    /// ```
    /// use scratchgrad::array::Array;
    /// // one head of one number, two positions: q = (1, 1), k = (0, ln 3), v = (10, 20)
    /// let qkv = Array::from_vec(vec![1.0f64, 0.0, 10.0, 1.0, 3f64.ln(), 20.0], &[1, 2, 3]);
    /// let (out, weights) = qkv.causal_attention(1);
    /// // position 0 sees itself; position 1 weighs e^0 : e^(ln 3) = 1 : 3
    /// assert_eq!(weights.data(), &[1.0, 0.0, 0.25, 0.75]);
    /// assert_eq!(out.data(), &[10.0, 17.5]);
    /// ```
    pub fn causal_attention(&self, heads: usize) -> (Array<T>, Array<T>) {
        let sizes = Sizes::of(self, heads);
        if let Some(qkv) = self.as_f32() {
            let (out, weights) = forward(qkv.data(), sizes, &Tile(Isa::detect()));
            let back = |data, shape: &[usize]| {
                Array::from_f32(Array::from_vec(data, shape)).expect("T is f32")
            };
            return (
                back(out, &sizes.out_shape()),
                back(weights, &sizes.weights_shape()),
            );
        }
        let (out, weights) = forward(&self.data, sizes, &Loops);
        (
            Array::from_vec(out, &sizes.out_shape()),
            Array::from_vec(weights, &sizes.weights_shape()),
        )
    }

    /// [`Array::causal_attention`]'s gradient with respect to `self` (its `qkv` input), from its
    /// `weights` and the gradient `g` of its output. `weights` must be the ones it returned
    /// for this `qkv` (0 after each row's diagonal, which is not checked).
    pub fn causal_attention_grad(
        &self,
        weights: &Array<T>,
        g: &Array<T>,
        heads: usize,
    ) -> Array<T> {
        let sizes = Sizes::of(self, heads);
        assert!(
            weights.shape[..] == sizes.weights_shape() && g.shape[..] == sizes.out_shape(),
            "causal_attention_grad: weights {:?} and gradient {:?} for qkv {:?}",
            weights.shape,
            g.shape,
            self.shape
        );
        let f32s = (self.as_f32(), weights.as_f32(), g.as_f32());
        if let (Some(qkv), Some(weights), Some(g)) = f32s {
            let dqkv = backward(
                qkv.data(),
                weights.data(),
                g.data(),
                sizes,
                &Tile(Isa::detect()),
            );
            return Array::from_f32(Array::from_vec(dqkv, &self.shape)).expect("T is f32");
        }
        let dqkv = backward(&self.data, &weights.data, &g.data, sizes, &Loops);
        Array::from_vec(dqkv, &self.shape)
    }
}

/// The sizes: `batch` sequences of `time` positions, `heads` heads of `size` numbers
/// (`width = heads * size` features).
#[derive(Clone, Copy)]
struct Sizes {
    batch: usize,
    time: usize,
    heads: usize,
    size: usize,
}

impl Sizes {
    fn of<T: Float>(qkv: &Array<T>, heads: usize) -> Sizes {
        let shape = &qkv.shape;
        assert!(
            shape.len() == 3 && heads > 0 && shape[2].is_multiple_of(3 * heads),
            "causal_attention: qkv {shape:?} is not [batch, time, 3 * features] with the \
             features a multiple of {heads} heads"
        );
        Sizes {
            batch: shape[0],
            time: shape[1],
            heads,
            size: shape[2] / 3 / heads,
        }
    }

    fn width(self) -> usize {
        self.heads * self.size
    }

    /// The scores' scale, 1 / sqrt(size).
    fn scale<T: Float>(self) -> T {
        T::from_f64(1.0 / (self.size as f64).sqrt())
    }

    fn out_shape(self) -> [usize; 3] {
        [self.batch, self.time, self.width()]
    }

    fn weights_shape(self) -> [usize; 4] {
        [self.batch, self.heads, self.time, self.time]
    }
}

/// Which part of an `m x k` by `k x n` product a causal head needs, for the block of rows
/// `r0..r1` (rows `i` are positions).
#[derive(Clone, Copy)]
enum Triangle {
    /// Scores: every inner index, the columns (positions `j`) up to the block's last row
    /// (`q k^T`, `dO v^T`; the columns after a row's own position are computed and unused).
    Scores,
    /// A lower triangular left side (0 after its diagonal: `P v`, `dS k`): the inner indices
    /// up to the block's last row, every column.
    LowerLeft,
    /// An upper triangular left side (0 before its diagonal: `P^T dO`, `dS^T q`): the inner
    /// indices from the block's first row on, every column.
    UpperLeft,
}

impl Triangle {
    /// The inner indices and the number of columns for rows `r0..r1`; columns counted up to a
    /// row are rounded up to a multiple of `lanes` (within `n`), for whole vectors.
    fn block(
        self,
        (r0, r1): (usize, usize),
        k: usize,
        n: usize,
        lanes: usize,
    ) -> (std::ops::Range<usize>, usize) {
        match self {
            Triangle::Scores => (0..k, r1.next_multiple_of(lanes).min(n)),
            Triangle::LowerLeft => (0..r1.min(k), n),
            Triangle::UpperLeft => (r0.min(k)..k, n),
        }
    }
}

/// A product's sizes and its triangle: `m x k` by `k x n`.
#[derive(Clone, Copy)]
struct Shape {
    m: usize,
    k: usize,
    n: usize,
    triangle: Triangle,
}

/// The products a head needs, `out = a @ b` over the rows' [`Triangle`], into an `out` whose
/// rows are `pitch` apart.
trait Products<T> {
    fn product(&self, a: Rows<T>, b: Rows<T>, out: &mut [T], pitch: usize, shape: Shape);
}

/// Plain loops, for any float type, summing over the inner index in order.
struct Loops;

impl<T: Float> Products<T> for Loops {
    fn product(&self, a: Rows<T>, b: Rows<T>, out: &mut [T], pitch: usize, shape: Shape) {
        let Shape { m, k, n, triangle } = shape;
        for r0 in (0..m).step_by(ROWS) {
            let r1 = (r0 + ROWS).min(m);
            let (inner, width) = triangle.block((r0, r1), k, n, 1);
            for i in r0..r1 {
                for c in 0..width {
                    let sum = inner
                        .clone()
                        .fold(T::ZERO, |sum, j| sum + a.at(i, j) * b.at(j, c));
                    out[i * pitch + c] = sum;
                }
            }
        }
    }
}

/// The register tile, for `f32`, on the instruction set given.
struct Tile(Isa);

impl Products<f32> for Tile {
    fn product(&self, a: Rows, b: Rows, out: &mut [f32], pitch: usize, shape: Shape) {
        let Shape { m, k, n, triangle } = shape;
        assert!(
            a.holds(m, k) && b.holds(k, n) && Rows::new(&*out, pitch).holds(m, n),
            "attention: a product's operands are smaller than their sizes"
        );
        for r0 in (0..m).step_by(ROWS) {
            let r1 = (r0 + ROWS).min(m);
            let (inner, width) = triangle.block((r0, r1), k, n, self.0.lanes());
            let a_rows = Rows {
                data: &a.data[r0 * a.pitch..],
                ..a
            };
            // SAFETY: the assert above: rows r0..r1 of `a` hold every inner index (below k),
            // `b` holds rows 0..k of n columns, `out` rows r0..r1 of n (width <= n) columns.
            unsafe {
                let to = out.as_mut_ptr().add(r0 * pitch);
                let to = Out { to, pitch };
                register_tile::block(self.0, r1 - r0, a_rows, inner, b, width, to);
            }
        }
    }
}

/// One sequence's `qkv` rows (`3 * width` apart) and where head `h`'s queries, keys and
/// values start in them.
fn head_slices<T>(x: &[T], d: Sizes, h: usize) -> [Rows<'_, T>; 3] {
    let pitch = 3 * d.width();
    std::array::from_fn(|part| Rows::new(&x[part * d.width() + h * d.size..], pitch))
}

/// The output `[B, T, C]` and the weights `[B, H, T, T]`.
fn forward<T: Float>(qkv: &[T], d: Sizes, products: &impl Products<T>) -> (Vec<T>, Vec<T>) {
    let (t, s, width) = (d.time, d.size, d.width());
    if t == 0 {
        return (Vec::new(), Vec::new()); // no positions: nothing to attend to
    }
    let scale = d.scale();
    let mut out = filled(d.batch * t * width, T::ZERO);
    let mut weights = filled(d.batch * d.heads * t * t, T::ZERO);
    let mut k_t = vec![T::ZERO; s * t];
    for b in 0..d.batch {
        let x = &qkv[b * t * 3 * width..][..t * 3 * width];
        let out = &mut out[b * t * width..];
        for h in 0..d.heads {
            let [q, k, v] = head_slices(x, d, h);
            let p = &mut weights[(b * d.heads + h) * t * t..][..t * t];
            // scores q k^T, then P = their causal softmax, row by row
            transpose_rows(k, t, s, &mut k_t);
            let k_t = Rows::new(&k_t, t);
            products.product(q, k_t, p, t, shape(t, s, t, Triangle::Scores));
            Isa::detect().run(
                #[inline(always)]
                || {
                    for (i, row) in p.chunks_exact_mut(t).enumerate() {
                        causal_softmax_row(row, i + 1, scale);
                    }
                },
            );
            // the head's output P v, into its columns of the output
            let p = Rows::new(p, t);
            let to = &mut out[h * s..];
            products.product(p, v, to, width, shape(t, t, s, Triangle::LowerLeft));
        }
    }
    (out, weights)
}

/// The gradient with respect to `qkv`, `[B, T, 3C]`.
fn backward<T: Float>(
    qkv: &[T],
    weights: &[T],
    g: &[T],
    d: Sizes,
    products: &impl Products<T>,
) -> Vec<T> {
    let (t, s, width) = (d.time, d.size, d.width());
    let scale = d.scale();
    let mut dqkv = filled(qkv.len(), T::ZERO);
    if t == 0 {
        return dqkv;
    }
    let mut v_t = vec![T::ZERO; s * t];
    let mut ds = vec![T::ZERO; t * t];
    for b in 0..d.batch {
        let x = &qkv[b * t * 3 * width..][..t * 3 * width];
        let dx = &mut dqkv[b * t * 3 * width..][..t * 3 * width];
        for h in 0..d.heads {
            let [q, k, v] = head_slices(x, d, h);
            let p = &weights[(b * d.heads + h) * t * t..][..t * t];
            let d_out = Rows::new(&g[b * t * width + h * s..], width);
            let [dq, dk, dv] = [0, 1, 2].map(|part| part * width + h * s);
            // dP = dO v^T, then dS = scale P (dP - rowsum(P dP)) in its place, row by row
            transpose_rows(v, t, s, &mut v_t);
            let v_t = Rows::new(&v_t, t);
            products.product(d_out, v_t, &mut ds, t, shape(t, s, t, Triangle::Scores));
            Isa::detect().run(
                #[inline(always)]
                || {
                    for (i, (p, ds)) in p.chunks_exact(t).zip(ds.chunks_exact_mut(t)).enumerate() {
                        causal_softmax_grad_row(p, ds, i + 1, scale);
                    }
                },
            );
            // dv = P^T dO
            let p_t = Rows::transposed(p, t);
            let to = &mut dx[dv..];
            products.product(
                p_t,
                d_out,
                to,
                3 * width,
                shape(t, t, s, Triangle::UpperLeft),
            );
            // dq = dS k
            let ds_rows = Rows::new(&ds, t);
            let to = &mut dx[dq..];
            products.product(
                ds_rows,
                k,
                to,
                3 * width,
                shape(t, t, s, Triangle::LowerLeft),
            );
            // dk = dS^T q
            let ds_t = Rows::transposed(&ds, t);
            let to = &mut dx[dk..];
            products.product(ds_t, q, to, 3 * width, shape(t, t, s, Triangle::UpperLeft));
        }
    }
    dqkv
}

fn shape(m: usize, k: usize, n: usize, triangle: Triangle) -> Shape {
    Shape { m, k, n, triangle }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Rng;

    /// The steps the operation replaces, each an array operation of its own (checked against
    /// PyTorch in tests/torch_reference.rs): heads split out, `q k^T`, the causal softmax,
    /// `@ v`, heads merged back.
    fn by_steps(qkv: &Array<f64>, heads: usize) -> (Array<f64>, Array<f64>) {
        let c = qkv.shape()[2] / 3;
        let split = |i: usize| qkv.narrow(2, i * c, c).split_heads(heads);
        let (q, k, v) = (split(0), split(1), split(2));
        let scale = 1.0 / ((c / heads) as f64).sqrt();
        let weights = q.matmul_t(false, &k, true).causal_softmax(scale);
        (weights.matmul(&v).merge_heads(), weights)
    }

    fn close(got: &[f64], want: &[f64], tolerance: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tolerance * (1.0 + w.abs()),
                "{what}[{i}]: {g} against {w}"
            );
        }
    }

    /// (batch, time, heads, size): no positions, rows in blocks of 1 to 6 and a remainder, head sizes under,
    /// at and over a vector (AVX2 8, AVX-512 16), through the 2- and 4-vector tiles.
    const SIZES: [(usize, usize, usize, usize); 8] = [
        (2, 0, 2, 3),
        (1, 1, 1, 1),
        (2, 5, 2, 3),
        (1, 6, 1, 8),
        (2, 7, 3, 16),
        (1, 13, 2, 17),
        (1, 37, 1, 32),
        (2, 64, 4, 32),
    ];

    #[test]
    fn the_operation_matches_the_steps_it_replaces_in_f64() {
        let mut rng = Rng::seed(5);
        for (batch, time, heads, size) in SIZES {
            let qkv =
                Array::<f64>::rand_uniform(&[batch, time, 3 * heads * size], -2.0, 2.0, &mut rng);
            let (out, weights) = qkv.causal_attention(heads);
            let (want_out, want_weights) = by_steps(&qkv, heads);
            let what = format!("{batch}x{time}, {heads} heads of {size}");
            assert_eq!(out.shape(), want_out.shape(), "{what}");
            assert_eq!(weights.shape(), want_weights.shape(), "{what}");
            close(out.data(), want_out.data(), 1e-12, &format!("{what}: out"));
            close(
                weights.data(),
                want_weights.data(),
                1e-12,
                &format!("{what}: weights"),
            );
        }
    }

    #[test]
    fn the_f32_tile_on_every_instruction_set_matches_f64() {
        let mut rng = Rng::seed(6);
        for (batch, time, heads, size) in SIZES {
            let shape = [batch, time, 3 * heads * size];
            let qkv = Array::<f64>::rand_uniform(&shape, -2.0, 2.0, &mut rng);
            let g = Array::<f64>::rand_uniform(&[batch, time, heads * size], -1.0, 1.0, &mut rng);
            let (out, weights) = qkv.causal_attention(heads);
            let dqkv = qkv.causal_attention_grad(&weights, &g, heads);
            let narrow =
                |a: &Array<f64>| -> Vec<f32> { a.data().iter().map(|&v| v as f32).collect() };
            let wide = |a: &[f32]| -> Vec<f64> { a.iter().map(|&v| v as f64).collect() };
            let sizes = Sizes::of(&qkv, heads);
            for isa in Isa::available() {
                let what = format!("{} on {batch}x{time}, {heads} heads of {size}", isa.name());
                let tile = Tile(isa);
                let (out32, weights32) = forward(&narrow(&qkv), sizes, &tile);
                close(&wide(&out32), out.data(), 1e-5, &format!("{what}: out"));
                close(
                    &wide(&weights32),
                    weights.data(),
                    1e-5,
                    &format!("{what}: weights"),
                );
                let dqkv32 = backward(&narrow(&qkv), &weights32, &narrow(&g), sizes, &tile);
                close(
                    &wide(&dqkv32),
                    dqkv.data(),
                    1e-4,
                    &format!("{what}: gradient"),
                );
            }
        }
    }

    #[test]
    fn nothing_after_a_position_reaches_it() {
        // Changing the last position's query, key and value (finite) changes no earlier output.
        let mut rng = Rng::seed(7);
        let (time, width) = (9, 3 * 2 * 4);
        let qkv = Array::<f32>::rand_uniform(&[1, time, width], -1.0, 1.0, &mut rng);
        let mut changed = qkv.clone();
        for v in &mut changed.data_mut()[(time - 1) * width..] {
            *v += 5.0;
        }
        let (before, weights) = qkv.causal_attention(2);
        let (after, _) = changed.causal_attention(2);
        let earlier = (time - 1) * 8;
        assert_eq!(before.data()[..earlier], after.data()[..earlier]);
        assert_ne!(before.data()[earlier..], after.data()[earlier..]);
        // and every weight after the diagonal is exactly 0
        for (r, row) in weights.data().chunks(time).enumerate() {
            assert!(
                row[r % time + 1..].iter().all(|&w| w == 0.0),
                "row {r}: {row:?}"
            );
        }
    }

    #[test]
    fn a_qkv_that_does_not_split_into_heads_is_refused() {
        let refused =
            std::panic::catch_unwind(|| Array::<f32>::zeros(&[1, 2, 10]).causal_attention(2));
        assert!(refused.is_err(), "10 features are not 3 x 2 heads");
    }
}
