//! Where an array's numbers live: a `Vec` the array owns, or memory lent by another owner (a
//! numpy array handed to the Python package), read in place and copied into a `Vec` the first
//! time the array is written (copy on write). Everything else sees a plain slice.

use std::any::Any;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;

/// An array's elements in row-major order.
pub(crate) enum Storage<T> {
    /// Memory the array owns.
    Owned(Vec<T>),
    /// `len` elements at `ptr`, kept alive by `owner` and never written through here.
    Lent {
        ptr: NonNull<T>,
        len: usize,
        owner: Arc<dyn Any + Send + Sync>,
    },
}

// SAFETY: an owned `Vec<T>` is Send and Sync when `T` is. Lent memory is only read through
// `&self` (a write first copies it into a `Vec`), its owner is Send and Sync, and
// `Array::from_lent`'s caller promises that nothing writes the memory while the array may
// read it; so sharing or sending the pointer is as safe as sharing or sending a `&[T]`.
unsafe impl<T: Send + Sync> Send for Storage<T> {}
// SAFETY: as for Send above.
unsafe impl<T: Send + Sync> Sync for Storage<T> {}

impl<T: Copy> Storage<T> {
    /// Storage over lent memory.
    ///
    /// # Safety
    /// `ptr` must point to `len` initialised, aligned elements that stay valid while `owner`
    /// lives and that nothing writes while this storage (or a clone of it) may read them.
    pub(crate) unsafe fn lent(
        ptr: NonNull<T>,
        len: usize,
        owner: Arc<dyn Any + Send + Sync>,
    ) -> Self {
        Storage::Lent { ptr, len, owner }
    }

    /// The elements as a `Vec` (a copy when they are lent).
    pub(crate) fn into_vec(mut self) -> Vec<T> {
        match &mut self {
            Storage::Owned(v) => std::mem::take(v),
            lent => lent.to_vec(),
        }
    }

    /// Whether the elements are lent memory rather than the array's own.
    pub(crate) fn is_lent(&self) -> bool {
        matches!(self, Storage::Lent { .. })
    }
}

impl<T> Drop for Storage<T> {
    /// An owned buffer goes to the store of buffers for reuse (`buffers.rs`).
    fn drop(&mut self) {
        if let Storage::Owned(v) = self {
            super::buffers::recycle(std::mem::take(v));
        }
    }
}

impl<T> From<Vec<T>> for Storage<T> {
    fn from(v: Vec<T>) -> Self {
        Storage::Owned(v)
    }
}

impl<T> Deref for Storage<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match self {
            Storage::Owned(v) => v,
            // SAFETY: `Storage::lent`'s contract: `len` valid elements, not written meanwhile.
            Storage::Lent { ptr, len, .. } => unsafe {
                std::slice::from_raw_parts(ptr.as_ptr(), *len)
            },
        }
    }
}

impl<T: Copy> DerefMut for Storage<T> {
    /// Writing lent memory would change its owner's numbers: copy them first.
    fn deref_mut(&mut self) -> &mut [T] {
        if self.is_lent() {
            *self = Storage::Owned(self.to_vec());
        }
        match self {
            Storage::Owned(v) => v,
            Storage::Lent { .. } => unreachable!("copied just above"),
        }
    }
}

impl<T: Clone> Clone for Storage<T> {
    /// A clone of lent storage shares the lent memory (and keeps its owner alive).
    fn clone(&self) -> Self {
        match self {
            Storage::Owned(v) => {
                let mut copy = super::buffers::vec_with_capacity(v.len());
                copy.extend_from_slice(v);
                Storage::Owned(copy)
            }
            Storage::Lent { ptr, len, owner } => Storage::Lent {
                ptr: *ptr,
                len: *len,
                owner: Arc::clone(owner),
            },
        }
    }
}

impl<T: PartialEq> PartialEq for Storage<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<'a, T> IntoIterator for &'a Storage<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T: Copy> IntoIterator for &'a mut Storage<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::Array;

    /// An array over a `Vec` another owner keeps, as the Python package lends numpy's memory.
    fn lent(values: Vec<f64>, shape: &[usize]) -> (Array<f64>, Arc<Vec<f64>>) {
        let owner = Arc::new(values);
        let ptr = NonNull::new(owner.as_ptr().cast_mut()).expect("a Vec's pointer is not null");
        // SAFETY: the Vec lives as long as `owner` (kept by the array), and nothing writes it.
        let array = unsafe { Array::from_lent(ptr, shape, owner.clone()) };
        (array, owner)
    }

    #[test]
    fn lent_memory_is_read_in_place_and_copied_on_the_first_write() {
        let (mut a, owner) = lent(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        assert!(a.is_lent());
        assert_eq!(a.data().as_ptr(), owner.as_ptr());
        assert_eq!(a.sum(&[0], false).data(), &[4.0, 6.0]);
        let reshaped = a.reshape(&[4]);
        assert!(reshaped.is_lent() && reshaped.data().as_ptr() == owner.as_ptr());
        a.data_mut()[0] = 10.0;
        assert!(!a.is_lent());
        assert_eq!(a.data(), &[10.0, 2.0, 3.0, 4.0]);
        assert_eq!(owner.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(reshaped.into_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn the_owner_lives_as_long_as_an_array_over_its_memory() {
        let (a, owner) = lent(vec![5.0; 3], &[3]);
        let copy = a.clone();
        drop(a);
        assert_eq!(Arc::strong_count(&owner), 2);
        drop(copy);
        assert_eq!(Arc::strong_count(&owner), 1);
    }
}
