//! `Array<T>`: numpy's role. A contiguous, row-major, n-dimensional block of numbers.
//!
//! Arrays know nothing of gradients: they are the values that the autograd engine
//! ([`crate::autograd`]) and the hand-derived layers ([`crate::manual`]) compute with.
//! Every operation returns a new array; shape mismatches panic with the operation's name and
//! both shapes, e.g. `matmul: cannot multiply [64, 784] by [100, 10]`.
//!
//! ```
//! use scratchgrad::array::Array;
//! let a = Array::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
//! let row = Array::from_vec(vec![10.0, 20.0, 30.0], &[3]);
//! let b = a.add(&row); // broadcasts the row over both rows of `a`
//! assert_eq!(b.data(), &[11.0, 22.0, 33.0, 14.0, 25.0, 36.0]);
//! assert_eq!(b.sum(&[0], false).data(), &[25.0, 47.0, 69.0]);
//! ```

mod attention;
mod buffers;
mod channels_last;
mod conv;
mod conv_path;
mod direct_conv;
mod display;
mod elementwise;
mod float;
mod matmul;
mod pool;
mod random;
mod reduce;
mod register_tile;
mod rows;
mod shape;
mod shape_ops;
mod simd;
mod storage;
mod switches;
mod threads;
mod transpose;
mod vector_math;
mod waiting_helpers;
mod wide_sums;
mod window;
mod zero_skipping;

pub use buffers::{kept_bytes, without_keeping, KeepingBuffers};
pub use conv_path::{ConvPath, SavedInput};
pub use float::Float;
pub use random::Rng;
pub use reduce::LONG_SUM;
pub use rows::RowStats;
pub use shape::{broadcast_shapes, strides_of, try_broadcast_shapes, Dims};
pub use simd::Isa;
pub(crate) use threads::for_each_part;
pub use threads::{num_threads, run_tasks, set_num_threads, with_threads};
pub use window::Window;

use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

use storage::Storage;

/// An n-dimensional array stored contiguously in row-major (C) order.
///
/// `T` is any `Copy` element for storage and shape operations (`usize` indices, `u8` pixels);
/// arithmetic needs `T: Float` (`f32` or `f64`).
#[derive(Clone, PartialEq)]
pub struct Array<T> {
    data: Storage<T>,
    shape: Dims,
}

impl<T: Copy> Array<T> {
    /// Wraps `data` (row-major) with `shape`.
    ///
    /// Panics if the number of values is not the product of the shape.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        let expected: usize = shape.iter().product();
        assert!(
            data.len() == expected,
            "from_vec: {} values cannot fill shape {:?} ({} needed)",
            data.len(),
            shape,
            expected
        );
        Array {
            data: data.into(),
            shape: Dims::from_slice(shape),
        }
    }

    /// An array over memory another owner lends (the Python package lends numpy's): read in
    /// place, never written (the first write copies it), kept alive by `owner`.
    ///
    /// # Safety
    /// `ptr` must point to the `shape`'s product of initialised, aligned elements in
    /// row-major order that stay valid while `owner` lives, and nothing may write them while
    /// this array or a clone of it may read them.
    pub unsafe fn from_lent(
        ptr: NonNull<T>,
        shape: &[usize],
        owner: Arc<dyn Any + Send + Sync>,
    ) -> Self {
        let len = shape.iter().product();
        Array {
            // SAFETY: the caller's promise is the storage's.
            data: unsafe { Storage::lent(ptr, len, owner) },
            shape: Dims::from_slice(shape),
        }
    }

    /// Whether the elements are memory lent by another owner ([`Array::from_lent`]) rather
    /// than the array's own.
    pub fn is_lent(&self) -> bool {
        self.data.is_lent()
    }

    /// An array of `shape` with every element equal to `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Array {
            data: buffers::filled(shape.iter().product(), value).into(),
            shape: Dims::from_slice(shape),
        }
    }

    /// A 0-dimensional array holding one value.
    pub fn scalar(value: T) -> Self {
        Array {
            data: vec![value].into(),
            shape: Dims::new(),
        }
    }

    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the array holds no element (some dimension is 0).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements in row-major order, for in-place updates.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Gives up the elements in row-major order.
    pub fn into_vec(self) -> Vec<T> {
        self.data.into_vec()
    }

    /// The only element of a one-element array (any shape), as PyTorch's `item()`.
    pub fn item(&self) -> T {
        assert!(
            self.data.len() == 1,
            "item: array of shape {:?} holds {} elements, not 1",
            self.shape,
            self.data.len()
        );
        self.data[0]
    }

    /// The element at a full multi-index.
    pub fn at(&self, index: &[usize]) -> T {
        assert!(
            index.len() == self.ndim() && index.iter().zip(&self.shape).all(|(i, n)| i < n),
            "at: index {:?} is out of bounds for shape {:?}",
            index,
            self.shape
        );
        let offset: usize = index
            .iter()
            .zip(strides_of(&self.shape))
            .map(|(i, s)| i * s)
            .sum();
        self.data[offset]
    }

    /// Applies `f` to every element, giving an array of the same shape.
    pub fn map<U: Copy>(&self, mut f: impl FnMut(T) -> U) -> Array<U> {
        Array {
            data: self.data.iter().map(|&x| f(x)).collect::<Vec<_>>().into(),
            shape: self.shape.clone(),
        }
    }
}

impl<T: Float> Array<T> {
    /// This array as an `Array<f32>`, when `T` is `f32`: the operands of the kernels written
    /// for `f32` alone (the direct convolution, the zero-skipping products).
    pub(crate) fn as_f32(&self) -> Option<&Array<f32>> {
        (self as &dyn Any).downcast_ref()
    }

    /// An `Array<f32>` as an `Array<T>`, when `T` is `f32` (those kernels' results).
    pub(crate) fn from_f32(a: Array<f32>) -> Option<Self> {
        let a: Box<dyn Any> = Box::new(a);
        a.downcast().ok().map(|a| *a)
    }

    /// An array of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::ZERO)
    }

    /// An array of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::ONE)
    }

    /// `[0, 1, ..., n-1]` as a 1-D array.
    pub fn arange(n: usize) -> Self {
        Array {
            data: (0..n).map(T::from_usize).collect::<Vec<_>>().into(),
            shape: smallvec::smallvec![n],
        }
    }

    /// Converts every element to another float type.
    pub fn cast<U: Float>(&self) -> Array<U> {
        self.map(|x| U::from_f64(x.to_f64()))
    }

    /// True when both arrays have the same shape and every pair of elements is within
    /// `atol + rtol * |b|`, as numpy's `allclose`.
    pub fn allclose(&self, other: &Array<T>, rtol: f64, atol: f64) -> bool {
        self.shape == other.shape
            && self.data.iter().zip(&other.data).all(|(&a, &b)| {
                let (a, b) = (a.to_f64(), b.to_f64());
                (a - b).abs() <= atol + rtol * b.abs()
            })
    }
}
