//! Every rule of the scalar engine in one place: what each operation computes (`forward`)
//! and its derivative with respect to each input (`local_grads`). Both engines, the graph of
//! `Value`s and the `Tape`, run these same two functions.

/// An operation, without its inputs. The number in `Powf` is a constant exponent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Op {
    /// An input, parameter or constant: made directly, not computed.
    Leaf,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Powf(f64),
    Neg,
    Exp,
    Log,
    Sqrt,
    Tanh,
    Sigmoid,
    Relu,
    Sin,
    Cos,
    Abs,
}

impl Op {
    /// How many values the operation reads (0, 1 or 2).
    pub(crate) fn arity(self) -> usize {
        use Op::*;
        match self {
            Leaf => 0,
            Add | Sub | Mul | Div | Pow => 2,
            _ => 1,
        }
    }

    /// A short symbol for pictures of the graph.
    pub(crate) fn symbol(self) -> String {
        use Op::*;
        match self {
            Leaf => String::new(),
            Add => "+".into(),
            Sub => "-".into(),
            Mul => "*".into(),
            Div => "/".into(),
            Pow => "**".into(),
            Powf(e) => format!("**{e}"),
            Neg => "neg".into(),
            Exp => "exp".into(),
            Log => "log".into(),
            Sqrt => "sqrt".into(),
            Tanh => "tanh".into(),
            Sigmoid => "sigmoid".into(),
            Relu => "relu".into(),
            Sin => "sin".into(),
            Cos => "cos".into(),
            Abs => "abs".into(),
        }
    }
}

/// Calls `$callback! { /// doc  name => Variant; ... }` with every one-input function of the
/// scalar engines: the one list from which `Value` and `Var` get their methods and
/// `Op::function` its names.
macro_rules! with_functions {
    ($callback:ident) => {
        $callback! {
            /// e^x.
            exp => Exp;
            /// Natural logarithm.
            log => Log;
            /// Square root.
            sqrt => Sqrt;
            /// Hyperbolic tangent.
            tanh => Tanh;
            /// 1 / (1 + e^-x).
            sigmoid => Sigmoid;
            /// max(x, 0).
            relu => Relu;
            /// Sine.
            sin => Sin;
            /// Cosine.
            cos => Cos;
            /// |x|.
            abs => Abs;
        }
    };
}
pub(crate) use with_functions;

macro_rules! function_by_name {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {
        /// The names of the one-input functions, as expressions spell them.
        pub(crate) const FUNCTION_NAMES: &[&str] = &[$(stringify!($name)),*];

        impl Op {
            /// The one-input function called `name` (`"exp"`, `"tanh"`, ...), if there is one.
            pub(crate) fn function(name: &str) -> Option<Op> {
                match name {
                    $(stringify!($name) => Some(Op::$variant),)*
                    _ => None,
                }
            }
        }
    };
}
with_functions!(function_by_name);

/// The value of `op` on inputs `a` and `b` (`b` is ignored by one-input operations).
pub(crate) fn forward(op: Op, a: f64, b: f64) -> f64 {
    use Op::*;
    match op {
        Leaf => unreachable!("a leaf has no operation to run"),
        Add => a + b,
        Sub => a - b,
        Mul => a * b,
        Div => a / b,
        Pow => a.powf(b),
        Powf(e) => a.powf(e),
        Neg => -a,
        Exp => a.exp(),
        Log => a.ln(),
        Sqrt => a.sqrt(),
        Tanh => a.tanh(),
        Sigmoid => sigmoid(a),
        Relu => a.max(0.0),
        Sin => a.sin(),
        Cos => a.cos(),
        Abs => a.abs(),
    }
}

/// d(out)/da and d(out)/db for `out = op(a, b)`. Unused slots are 0.
pub(crate) fn local_grads(op: Op, a: f64, b: f64, out: f64) -> [f64; 2] {
    use Op::*;
    match op {
        Leaf => [0.0, 0.0],
        // d(a+b)/da = 1, d(a+b)/db = 1
        Add => [1.0, 1.0],
        // d(a-b)/da = 1, d(a-b)/db = -1
        Sub => [1.0, -1.0],
        // d(a*b)/da = b, d(a*b)/db = a
        Mul => [b, a],
        // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        Div => [1.0 / b, -a / (b * b)],
        // d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln(a); as PyTorch, 0 where b = 0 and where
        // a = 0 <= b (the limits there, instead of 0 * inf)
        Pow => [
            pow_base_grad(a, b),
            if a == 0.0 && b >= 0.0 {
                0.0
            } else {
                out * a.ln()
            },
        ],
        // d(a^e)/da = e a^(e-1) (0 where e = 0)
        Powf(e) => [pow_base_grad(a, e), 0.0],
        // d(-a)/da = -1
        Neg => [-1.0, 0.0],
        // d e^a/da = e^a
        Exp => [out, 0.0],
        // d ln(a)/da = 1/a
        Log => [1.0 / a, 0.0],
        // d sqrt(a)/da = 1 / (2 sqrt(a))
        Sqrt => [0.5 / out, 0.0],
        // d tanh(a)/da = 1 - tanh(a)^2
        Tanh => [1.0 - out * out, 0.0],
        // d sigmoid(a)/da = sigmoid(a) (1 - sigmoid(a))
        Sigmoid => [out * (1.0 - out), 0.0],
        // d relu(a)/da = 1 if a > 0 else 0
        Relu => [if a > 0.0 { 1.0 } else { 0.0 }, 0.0],
        // d sin(a)/da = cos(a)
        Sin => [a.cos(), 0.0],
        // d cos(a)/da = -sin(a)
        Cos => [-a.sin(), 0.0],
        // d|a|/da = sign(a), 0 at 0 (as PyTorch)
        Abs => [sign(a), 0.0],
    }
}

/// The rule behind `local_grads`, written for people: the operation as a formula of its
/// inputs `{a}` and `{b}`, and its derivative with respect to each input, in terms of `{a}`,
/// `{b}` and `{out}` (the operation's value). A page puts the values' names in the braces:
/// `d tanh(n)/dn = 1 - o²`.
pub(crate) fn rule_text(op: Op) -> (String, [String; 2]) {
    use Op::*;
    let (formula, da, db) = match op {
        Leaf => ("", "", ""),
        Add => ("{a} + {b}", "1", "1"),
        Sub => ("{a} − {b}", "1", "−1"),
        Mul => ("{a}·{b}", "{b}", "{a}"),
        Div => ("{a}/{b}", "1/{b}", "−{a}/{b}²"),
        Pow => ("{a}^{b}", "{b}·{a}^({b}−1)", "{out}·ln({a})"),
        Powf(e) => {
            let da = format!("{e}·{{a}}^{}", e - 1.0);
            return (format!("{{a}}^{e}"), [da, String::new()]);
        }
        Neg => ("−{a}", "−1", ""),
        Exp => ("exp({a})", "exp({a}) = {out}", ""),
        Log => ("ln({a})", "1/{a}", ""),
        Sqrt => ("sqrt({a})", "1/(2·sqrt({a}))", ""),
        Tanh => ("tanh({a})", "1 − {out}²", ""),
        Sigmoid => ("sigmoid({a})", "{out}·(1 − {out})", ""),
        Relu => ("relu({a})", "1 if {a} > 0, else 0", ""),
        Sin => ("sin({a})", "cos({a})", ""),
        Cos => ("cos({a})", "−sin({a})", ""),
        Abs => ("|{a}|", "sign({a})", ""),
    };
    (formula.to_string(), [da.to_string(), db.to_string()])
}

/// d(a^b)/da = b a^(b-1), taken as 0 where b = 0 (a^0 is 1 everywhere), as PyTorch does.
fn pow_base_grad(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        b * a.powf(b - 1.0)
    }
}

/// 1 / (1 + e^-x), without overflow for large |x|.
fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
