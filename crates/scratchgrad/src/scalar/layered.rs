//! A plain layered layout of a graph of values, for graphs too large for the full layout
//! (`layout-rs`, whose time grows with the edges that span many layers): each value's column
//! is one past its inputs' operation, each operation sits between its inputs and its value,
//! and the rows of a column are ordered by the mean row of what feeds them (one sweep), so
//! most edges run forward without crossing. Linear in the graph's size.

use super::dot::Place;

/// The horizontal room per column and the vertical room per row, in pixels.
const COLUMN: f64 = 190.0;
const ROW: f64 = 70.0;
/// A value's box: its height, and the width of one character of its text.
const BOX_HEIGHT: f64 = 54.0;
const CHAR_WIDTH: f64 = 7.0;
const OP_SIZE: f64 = 26.0;

/// One value to place: the width of its longest line of text, in characters, and the
/// positions (earlier in the list) of its operation's inputs, or `None` for a leaf.
pub struct Node<'a> {
    /// Characters in the box's widest line.
    pub chars: usize,
    /// The operation's inputs, if the value has one.
    pub inputs: Option<&'a [usize]>,
}

/// The columns a layered layout gives: a leaf in column 0, an operation one past its latest
/// input, its value one past the operation. Returns each value's column and each operation's.
pub fn columns(nodes: &[Node<'_>]) -> (Vec<usize>, Vec<Option<usize>>) {
    let mut value_col = Vec::with_capacity(nodes.len());
    let mut op_col = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node.inputs {
            None => {
                value_col.push(0);
                op_col.push(None);
            }
            Some(inputs) => {
                let op = 1 + inputs.iter().map(|&i| value_col[i]).max().unwrap_or(0);
                op_col.push(Some(op));
                value_col.push(op + 1);
            }
        }
    }
    (value_col, op_col)
}

/// How much work a layered layout of these nodes is: the shapes plus, for every edge that
/// skips columns, one stand-in per column skipped (what a full layout routes edges through).
pub fn layout_cost(nodes: &[Node<'_>]) -> usize {
    let (value_col, op_col) = columns(nodes);
    let mut cost = nodes.len() + op_col.iter().flatten().count();
    for (node, op) in nodes.iter().zip(&op_col) {
        if let (Some(inputs), Some(op)) = (node.inputs, op) {
            cost += inputs.iter().map(|&i| op - value_col[i] - 1).sum::<usize>();
        }
    }
    cost
}

/// Places every value's box and its operation's circle.
pub fn place(nodes: &[Node<'_>]) -> Vec<(Place, Option<Place>)> {
    let (value_col, op_col) = columns(nodes);
    let width = 1 + value_col.iter().max().copied().unwrap_or(0);
    // Rows in each column, filled in graph order: inputs come first, so a column's rows can
    // follow the mean row of what feeds them.
    let mut rows_used = vec![0usize; width];
    let mut value_row = vec![0.0f64; nodes.len()];
    let mut wanted: Vec<Vec<(f64, usize)>> = vec![Vec::new(); width];
    for (i, node) in nodes.iter().enumerate() {
        let want = match node.inputs {
            None => rows_used[0] as f64,
            Some(inputs) => {
                inputs.iter().map(|&j| value_row[j]).sum::<f64>() / inputs.len().max(1) as f64
            }
        };
        // Provisional rows in arrival order; sorted by the wanted row below.
        value_row[i] = want;
        wanted[value_col[i]].push((want, i));
        rows_used[value_col[i]] += 1;
    }
    let mut row_of = vec![0usize; nodes.len()];
    for column in &mut wanted {
        column.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for (row, &(_, i)) in column.iter().enumerate() {
            row_of[i] = row;
        }
    }
    let tallest = wanted.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let y_of = |i: usize| {
        let column = &wanted[value_col[i]];
        // Centre short columns against the tallest.
        let offset = (tallest - column.len() as f64) * ROW / 2.0;
        20.0 + offset + row_of[i] as f64 * ROW + ROW / 2.0
    };
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let x = 20.0 + value_col[i] as f64 * COLUMN / 2.0 + COLUMN / 4.0;
            let width = (node.chars as f64 * CHAR_WIDTH + 16.0).min(COLUMN - 10.0);
            let at = Place {
                x: x + width / 2.0 - COLUMN / 4.0,
                y: y_of(i),
                width,
                height: BOX_HEIGHT,
            };
            let op = op_col[i].map(|col| Place {
                x: 20.0 + col as f64 * COLUMN / 2.0 + COLUMN / 4.0,
                y: y_of(i),
                width: OP_SIZE,
                height: OP_SIZE,
            });
            (at, op)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_edges_cost_one_stand_in_per_column_skipped() {
        // x, y; a = x + y; b = a * x: the edge from x to b's operation skips columns 1 and 2.
        let add = [0, 1];
        let mul = [2, 0];
        let nodes = [
            Node {
                chars: 1,
                inputs: None,
            },
            Node {
                chars: 1,
                inputs: None,
            },
            Node {
                chars: 5,
                inputs: Some(&add),
            },
            Node {
                chars: 9,
                inputs: Some(&mul),
            },
        ];
        assert_eq!(
            columns(&nodes),
            (vec![0, 0, 2, 4], vec![None, None, Some(1), Some(3)])
        );
        assert_eq!(layout_cost(&nodes), 4 + 2 + 2);
        let places = place(&nodes);
        // Every operation lies between its inputs and its value; no two boxes overlap.
        for (i, (at, op)) in places.iter().enumerate() {
            if let (Some(op), Some(inputs)) = (op, nodes[i].inputs) {
                assert!(op.x < at.x - at.width / 2.0 + 1.0);
                for &j in inputs {
                    assert!(places[j].0.x < op.x);
                }
            }
        }
        for a in 0..places.len() {
            for b in a + 1..places.len() {
                let (p, q) = (places[a].0, places[b].0);
                let apart = (p.x - q.x).abs() * 2.0 >= p.width + q.width
                    || (p.y - q.y).abs() * 2.0 >= p.height + q.height;
                assert!(apart, "{a} and {b} overlap");
            }
        }
    }
}
