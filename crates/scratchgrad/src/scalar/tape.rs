//! The scalar engine again, as a tape (a Wengert list): every node is appended to one
//! vector as it is computed, so the vector is already a topological order and `backward()`
//! is a single sweep from the end. No reference counts, no sort, no per-node allocation:
//! the fast path beside `Value`, which stays the plain version it is tested against.

use std::cell::RefCell;
use std::ops;

use super::backward::{forward, local_grads, with_functions, Op};

#[derive(Clone, Copy)]
struct Node {
    op: Op,
    /// Positions of the inputs on the tape (unused slots are 0).
    inputs: [usize; 2],
    data: f64,
}

/// A recording of scalar operations. Variables borrow the tape, so they cannot outlive it;
/// `clear` empties it for the next step while keeping its memory.
///
/// The texts' example: f = (x + y) * z at x = -2, y = 5, z = -4.
/// ```
/// use scratchgrad::scalar::Tape;
/// let tape = Tape::new();
/// let (x, y, z) = (tape.var(-2.0), tape.var(5.0), tape.var(-4.0));
/// let f = (x + y) * z;
/// let grads = f.backward();
/// assert_eq!(f.data(), -12.0);
/// assert_eq!((grads[x], grads[y], grads[z]), (-4.0, -4.0, 3.0));
/// ```
#[derive(Default)]
pub struct Tape {
    nodes: RefCell<Vec<Node>>,
}

/// A scalar recorded on a `Tape`: a position on it. Copying is free.
#[derive(Clone, Copy)]
pub struct Var<'t> {
    tape: &'t Tape,
    index: usize,
}

/// d(output)/d(var) for every var recorded before the output; index with the var.
pub struct Gradients(Vec<f64>);

impl Tape {
    /// An empty tape.
    pub fn new() -> Tape {
        Tape::default()
    }

    /// A leaf: an input, parameter or constant.
    pub fn var(&self, data: f64) -> Var<'_> {
        self.push(Op::Leaf, [0, 0], data)
    }

    /// The number of nodes recorded.
    pub fn len(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// True when nothing has been recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every node (keeping the memory for the next recording).
    pub fn clear(&mut self) {
        self.nodes.get_mut().clear();
    }

    fn push(&self, op: Op, inputs: [usize; 2], data: f64) -> Var<'_> {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(Node { op, inputs, data });
        Var {
            tape: self,
            index: nodes.len() - 1,
        }
    }
}

impl<'t> Var<'t> {
    /// The value.
    pub fn data(self) -> f64 {
        self.tape.nodes.borrow()[self.index].data
    }

    /// Backpropagates from this var: the result holds d(self)/d(v) for every var `v`
    /// recorded before it (0 for those it does not depend on).
    pub fn backward(self) -> Gradients {
        let nodes = self.tape.nodes.borrow();
        let mut grads = vec![0.0; self.index + 1];
        // Only nodes `self` depends on pass gradients on, as in `Value::backward`.
        let mut reached = vec![false; self.index + 1];
        grads[self.index] = 1.0;
        reached[self.index] = true;
        for i in (0..=self.index).rev() {
            let node = nodes[i];
            if !reached[i] || node.op == Op::Leaf {
                continue;
            }
            let [a, b] = node.inputs;
            let locals = local_grads(node.op, nodes[a].data, nodes[b].data, node.data);
            for (&input, local) in node.inputs[..node.op.arity()].iter().zip(locals) {
                // Chain rule: d(out)/d(input) += d(out)/d(node) * d(node)/d(input).
                grads[input] += grads[i] * local;
                reached[input] = true;
            }
        }
        Gradients(grads)
    }

    /// `self ** exponent` for another var (both get gradients).
    pub fn pow(self, exponent: Var<'t>) -> Var<'t> {
        self.binary(Op::Pow, exponent)
    }

    /// `self ** e` for a number.
    pub fn powf(self, e: f64) -> Var<'t> {
        self.unary(Op::Powf(e))
    }

    /// The one-input function called `name` (`"exp"`, `"tanh"`, ...) applied to `self`, or
    /// `None` for an unknown name.
    pub fn call(self, name: &str) -> Option<Var<'t>> {
        Op::function(name).map(|op| self.unary(op))
    }

    fn unary(self, op: Op) -> Var<'t> {
        let data = forward(op, self.data(), 0.0);
        self.tape.push(op, [self.index, 0], data)
    }

    fn binary(self, op: Op, other: Var<'t>) -> Var<'t> {
        assert!(
            std::ptr::eq(self.tape, other.tape),
            "both vars of an operation must be on the same tape"
        );
        let data = forward(op, self.data(), other.data());
        self.tape.push(op, [self.index, other.index], data)
    }
}

impl ops::Index<Var<'_>> for Gradients {
    type Output = f64;
    fn index(&self, var: Var<'_>) -> &f64 {
        self.0.get(var.index).unwrap_or(&0.0)
    }
}

macro_rules! var_methods {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {
        impl<'t> Var<'t> {$(
            $(#[$doc])*
            pub fn $name(self) -> Var<'t> {
                self.unary(Op::$variant)
            }
        )*}
    };
}
with_functions!(var_methods);

/// One binary operator between vars, or a var and a number on either side (numbers become
/// constant leaves, as with `Value`).
macro_rules! operator {
    ($trait:ident, $method:ident, $variant:ident) => {
        impl<'t> ops::$trait for Var<'t> {
            type Output = Var<'t>;
            fn $method(self, other: Var<'t>) -> Var<'t> {
                self.binary(Op::$variant, other)
            }
        }
        impl<'t> ops::$trait<f64> for Var<'t> {
            type Output = Var<'t>;
            fn $method(self, other: f64) -> Var<'t> {
                self.binary(Op::$variant, self.tape.var(other))
            }
        }
        impl<'t> ops::$trait<Var<'t>> for f64 {
            type Output = Var<'t>;
            fn $method(self, other: Var<'t>) -> Var<'t> {
                other.tape.var(self).binary(Op::$variant, other)
            }
        }
    };
}

operator!(Add, add, Add);
operator!(Sub, sub, Sub);
operator!(Mul, mul, Mul);
operator!(Div, div, Div);

impl<'t> ops::Neg for Var<'t> {
    type Output = Var<'t>;
    fn neg(self) -> Var<'t> {
        self.unary(Op::Neg)
    }
}

impl std::fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Var(data={}, index={})", self.data(), self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_twice_sums_and_unrelated_vars_get_zero() {
        let tape = Tape::new();
        let a = tape.var(-3.0);
        let unrelated = (a * 0.0).log(); // -inf, recorded but not part of f
        let f = a * a + a; // df/da = 2a + 1 = -5
        let grads = f.backward();
        assert_eq!(grads[a], -5.0);
        assert_eq!(grads[unrelated], 0.0);
    }

    #[test]
    fn a_million_node_chain() {
        let tape = Tape::new();
        let x = tape.var(1.0);
        let y = (0..1_000_000).fold(x, |y, _| y * 1.0);
        assert_eq!(y.backward()[x], 1.0);
    }

    #[test]
    fn clear_keeps_nothing() {
        let mut tape = Tape::new();
        let _ = tape.var(1.0) + 2.0;
        assert_eq!(tape.len(), 3);
        tape.clear();
        assert!(tape.is_empty());
    }
}
