//! The embedding lookup with its hand-derived backward pass.
//!
//! Forward: row `ids[i]` of the table `C` for every id, the rows of one example side by side
//! (`[batch, context * width]`, the lecture's `emb.view(batch, -1)`). Each output number is
//! one table entry copied, so with `g = dL/dy` the gradient of entry `C[v, j]` is the sum of
//! `g` over every place that copied it: `dC[ids[i], :] += g_row_i`, a scatter-add. A
//! character that appears twice in a batch collects both (the lecture's loop `dC[ix] += demb`).

use crate::array::{Array, Float};

/// A `[vocabulary, width]` table of learnt rows.
pub struct Embedding<T: Float> {
    /// `[vocabulary, width]`.
    pub table: Array<T>,
    /// d(loss)/d(table) from the last `backward`.
    pub table_grad: Array<T>,
    ids: Option<Array<usize>>,
}

impl<T: Float> Embedding<T> {
    /// A lookup into `table` (`[vocabulary, width]`).
    pub fn new(table: Array<T>) -> Self {
        assert!(
            table.ndim() == 2,
            "Embedding: the table must be [vocabulary, width], not {:?}",
            table.shape()
        );
        let table_grad = Array::zeros(table.shape());
        Embedding {
            table,
            table_grad,
            ids: None,
        }
    }

    /// The rows of `contexts` (`batch` rows of `context` ids), each example's side by side:
    /// `[batch, context * width]`.
    pub fn forward(&mut self, contexts: &[usize], batch: usize) -> Array<T> {
        let context = contexts.len() / batch.max(1);
        let ids = Array::from_vec(contexts.to_vec(), &[batch, context]);
        let rows = self.table.take_rows(&ids);
        self.ids = Some(ids);
        rows.reshape(&[batch, context * self.table.shape()[1]])
    }

    /// Keeps d(loss)/d(table) from `grad_output` (`[batch, context * width]`); the ids are
    /// data, so nothing flows further back.
    pub fn backward(&mut self, grad_output: &Array<T>) {
        let ids = self
            .ids
            .as_ref()
            .expect("Embedding: backward called before forward");
        let width = self.table.shape()[1];
        let mut shape = ids.shape().to_vec();
        shape.push(width);
        // dC[ids[i]] += g[i]: every copy's gradient goes back to the row it was copied from
        self.table_grad = Array::add_rows(self.table.shape()[0], ids, &grad_output.reshape(&shape));
    }
}
