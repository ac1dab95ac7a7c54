//! Building expressions: methods for functions, and operators with `Value`s or plain numbers
//! on either side (`&x * 2.0`, `1.0 - &y`).

use std::ops;

use super::backward::{with_functions, Op};
use super::value::Value;

impl Value {
    /// `self ** exponent` for another value (both get gradients).
    pub fn pow(&self, exponent: &Value) -> Value {
        Value::binary(Op::Pow, self.clone(), exponent.clone())
    }

    /// `self ** e` for a number.
    pub fn powf(&self, e: f64) -> Value {
        Value::unary(Op::Powf(e), self.clone())
    }

    /// The one-input function called `name` (`"exp"`, `"tanh"`, ... as the `grad` command
    /// spells them) applied to `self`, or `None` for an unknown name.
    pub fn call(&self, name: &str) -> Option<Value> {
        Op::function(name).map(|op| Value::unary(op, self.clone()))
    }
}

macro_rules! value_methods {
    ($($(#[$doc:meta])* $name:ident => $variant:ident;)*) => {
        impl Value {$(
            $(#[$doc])*
            pub fn $name(&self) -> Value {
                Value::unary(Op::$variant, self.clone())
            }
        )*}
    };
}
with_functions!(value_methods);

/// Implements one binary operator for every pairing of `Value`, `&Value` and `f64`
/// (numbers become constant leaves).
macro_rules! operator {
    ($trait:ident, $method:ident, $variant:ident) => {
        impl ops::$trait<&Value> for &Value {
            type Output = Value;
            fn $method(self, other: &Value) -> Value {
                Value::binary(Op::$variant, self.clone(), other.clone())
            }
        }
        impl ops::$trait<Value> for Value {
            type Output = Value;
            fn $method(self, other: Value) -> Value {
                Value::binary(Op::$variant, self, other)
            }
        }
        impl ops::$trait<&Value> for Value {
            type Output = Value;
            fn $method(self, other: &Value) -> Value {
                Value::binary(Op::$variant, self, other.clone())
            }
        }
        impl ops::$trait<Value> for &Value {
            type Output = Value;
            fn $method(self, other: Value) -> Value {
                Value::binary(Op::$variant, self.clone(), other)
            }
        }
        impl ops::$trait<f64> for &Value {
            type Output = Value;
            fn $method(self, other: f64) -> Value {
                Value::binary(Op::$variant, self.clone(), Value::new(other))
            }
        }
        impl ops::$trait<f64> for Value {
            type Output = Value;
            fn $method(self, other: f64) -> Value {
                Value::binary(Op::$variant, self, Value::new(other))
            }
        }
        impl ops::$trait<&Value> for f64 {
            type Output = Value;
            fn $method(self, other: &Value) -> Value {
                Value::binary(Op::$variant, Value::new(self), other.clone())
            }
        }
        impl ops::$trait<Value> for f64 {
            type Output = Value;
            fn $method(self, other: Value) -> Value {
                Value::binary(Op::$variant, Value::new(self), other)
            }
        }
    };
}

operator!(Add, add, Add);
operator!(Sub, sub, Sub);
operator!(Mul, mul, Mul);
operator!(Div, div, Div);

impl ops::Neg for &Value {
    type Output = Value;
    fn neg(self) -> Value {
        Value::unary(Op::Neg, self.clone())
    }
}

impl ops::Neg for Value {
    type Output = Value;
    fn neg(self) -> Value {
        Value::unary(Op::Neg, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_on_either_side() {
        let x = Value::new(3.0);
        let y = 2.0 * &x - 1.0 / &x + &x / 4.0 - 1.0; // 6 - 1/3 + 3/4 - 1
        y.backward();
        assert!((y.data() - (6.0 - 1.0 / 3.0 + 0.75 - 1.0)).abs() < 1e-15);
        // dy/dx = 2 + 1/x^2 + 1/4
        assert!((x.grad() - (2.0 + 1.0 / 9.0 + 0.25)).abs() < 1e-15);
    }

    #[test]
    fn used_twice_sums_and_leaves_accumulate() {
        let a = Value::new(-3.0);
        let f = &a * &a + &a; // df/da = 2a + 1 = -5
        f.backward();
        assert_eq!(a.grad(), -5.0);
        f.backward();
        assert_eq!(a.grad(), -10.0, "leaves accumulate across backward calls");
        a.zero_grad();
        f.backward();
        assert_eq!(a.grad(), -5.0);
    }
}
