//! Printing arrays the way numpy does: nested brackets, one row per line.

use std::fmt;

use super::Array;

impl<T: Copy + fmt::Display> Array<T> {
    fn write_nested(
        &self,
        f: &mut fmt::Formatter<'_>,
        dim: usize,
        offset: usize,
        precision: usize,
    ) -> fmt::Result {
        if dim == self.ndim() {
            return write!(f, "{:.*}", precision, self.data[offset]);
        }
        let step: usize = self.shape[dim + 1..].iter().product();
        write!(f, "[")?;
        for i in 0..self.shape[dim] {
            if i > 0 {
                if dim + 1 == self.ndim() {
                    write!(f, " ")?;
                } else {
                    // A blank line between blocks of 3-D and higher, a newline between rows.
                    let blank_lines = self.ndim() - dim - 1;
                    write!(f, "{}", "\n".repeat(blank_lines))?;
                    write!(f, "{}", " ".repeat(dim + 1))?;
                }
            }
            self.write_nested(f, dim + 1, offset + i * step, precision)?;
        }
        write!(f, "]")
    }
}

/// `{}` prints the values with 4 decimals (`{:.8}` chooses another count).
impl<T: Copy + fmt::Display> fmt::Display for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_nested(f, 0, 0, f.precision().unwrap_or(4))
    }
}

impl<T: Copy + fmt::Display> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Array(shape={:?}, ", self.shape)?;
        self.write_nested(f, 0, 0, f.precision().unwrap_or(4))?;
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_numpy() {
        let a = Array::from_vec(vec![1.0, 2.5, -3.0, 4.0], &[2, 2]);
        assert_eq!(format!("{a:.1}"), "[[1.0 2.5]\n [-3.0 4.0]]");
        assert_eq!(format!("{}", Array::scalar(0.5)), "0.5000");
    }
}
