//! Where arrays' memory goes when they are dropped, and where new arrays find it: while a
//! [`KeepingBuffers`] lives (a language model's training, `train_lm`), the large buffers of
//! dropped arrays are kept, and a new array of the same size takes one back instead of asking
//! the allocator. A training step makes the same arrays each time, so from the second step on
//! its large arrays (activations, gradients, products) reuse the buffers of the step before:
//! a Shakespeare GPT step asks for 2.4 MB instead of 100 MB on 1 thread (`cargo bench -p
//! scratchgrad --bench allocations`). Elsewhere nothing is kept (evaluation inside training
//! runs [`without_keeping`]): sampling's sizes change from call to call, and the image
//! networks' epochs measured 1.4% (MLP) and 3.6-3.9% (`cnn`) slower with
//! it, since the allocator hands back the memory freed last, of any size, which is more often
//! still in the caches than the last buffer of one size (docs/BENCHMARKS.md).
//!
//! Each thread keeps its own: a buffer goes back to the thread that drops it, whose core's
//! caches last held it, and no lock is taken. A buffer is taken back only with the exact size
//! and alignment it was made with, so it is handed back to the allocator the way it came, and
//! only while buffers of its size handed out here are still out: an array made elsewhere
//! (a batch read from the data set) would otherwise pile up unused while its maker kept
//! asking the allocator for fresh, cold memory (that made an MNIST epoch 17% slower). It is
//! handed out empty (length 0): what an earlier array left in it can never be read. Buffers
//! under [`SMALLEST`] bytes are left to the allocator (small ones are cheap there), and a
//! thread keeps at most [`MOST_KEPT`] bytes: a buffer that would pass it goes back to the
//! allocator (a step that makes more than that reuses that much of it).

use std::alloc::{dealloc, Layout};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::mem::size_of;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use super::threads::{for_each_helper, with_setting};

/// The smallest buffer kept, in bytes.
pub const SMALLEST: usize = 4096;

/// The most bytes a thread keeps at once.
pub const MOST_KEPT: usize = 64 << 20;

/// A thread's buffers by their layout's (size in bytes, alignment).
struct Kept {
    by_layout: BTreeMap<(usize, usize), Buffers>,
    /// The bytes of every `free` buffer.
    bytes: usize,
}

/// The buffers of one layout.
#[derive(Default)]
struct Buffers {
    /// Kept buffers' addresses, ready to hand out.
    free: Vec<usize>,
    /// How many handed out here are not back yet: at most that many are taken back.
    out: usize,
}

thread_local! {
    static KEPT: RefCell<Kept> = const {
        RefCell::new(Kept {
            by_layout: BTreeMap::new(),
            bytes: 0,
        })
    };
}

thread_local! {
    /// Whether this thread keeps buffers: how many [`KeepingBuffers`] it holds, or 1 while it
    /// runs a task for a thread that holds one ([`keeping_as`]).
    static KEEPING: Cell<usize> = const { Cell::new(0) };
}

/// While one of these lives, the thread that made it keeps dropped arrays' large buffers for
/// new arrays of their size, and so do the helper threads while they run its tasks
/// ([`crate::array::run_tasks`]: a training step's parts). `train_lm` holds one. Other
/// threads keep nothing. When the last one a thread holds is dropped, the kept buffers of that
/// thread and of every helper go back to the allocator.
///
/// ```
/// use scratchgrad::array::{kept_bytes, Array, KeepingBuffers};
/// let keeping = KeepingBuffers::new();
/// drop(Array::<f32>::zeros(&[4096]));
/// assert_eq!(kept_bytes(), 4096 * 4);
/// drop(keeping); // the last one: this thread's buffers go back
/// assert_eq!(kept_bytes(), 0);
/// drop(Array::<f32>::zeros(&[4096]));
/// assert_eq!(kept_bytes(), 0); // not kept
/// ```
pub struct KeepingBuffers {
    /// Dropped on the thread that made it (it counts for that thread).
    _here: PhantomData<*const ()>,
}

impl KeepingBuffers {
    /// Starts keeping buffers on this thread until the value is dropped.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        KEEPING.with(|k| k.set(k.get() + 1));
        KeepingBuffers { _here: PhantomData }
    }
}

impl Drop for KeepingBuffers {
    fn drop(&mut self) {
        let left = KEEPING.with(|k| {
            k.set(k.get() - 1);
            k.get()
        });
        if left == 0 {
            hand_back();
            // The helpers keep what the tasks they ran for this thread dropped.
            for_each_helper(hand_back);
        }
    }
}

/// Whether this thread keeps buffers now.
pub(crate) fn keeping() -> bool {
    KEEPING.with(|k| k.get() > 0)
}

/// Runs `work` keeping buffers or not, as `keep` says (a helper running a task takes the
/// choice of the thread it runs it for), then puts this thread's choice back. What is kept
/// meanwhile stays kept, for the next such task.
pub(crate) fn keeping_as<R>(keep: bool, work: impl FnOnce() -> R) -> R {
    with_setting(&KEEPING, usize::from(keep), work)
}

/// Runs `work` (an evaluation inside a training run, whose sizes are not a step's) with
/// nothing taken from or added to this thread's kept buffers, which wait for the next step.
pub fn without_keeping<R>(work: impl FnOnce() -> R) -> R {
    keeping_as(false, work)
}

/// Hands this thread's kept buffers back to the allocator and forgets what is out.
fn hand_back() {
    let _ = KEPT.try_with(|kept| kept.borrow_mut().reset());
}

/// This thread's store, if it keeps buffers now.
fn with_store<R>(f: impl FnOnce(&mut Kept) -> R) -> Option<R> {
    if !keeping() {
        return None;
    }
    // (Err once the thread's store is gone, as the thread ends.)
    KEPT.try_with(|kept| f(&mut kept.borrow_mut())).ok()
}

/// An empty `Vec` with room for exactly `len` elements: a kept buffer of that size if there
/// is one, otherwise a new one.
///
/// ```
/// use scratchgrad::array::{Array, KeepingBuffers};
/// let _keeping = KeepingBuffers::new();
/// let a = Array::<f32>::full(&[2048], 1.0); // 8 KiB from here: kept when dropped
/// let at = a.data().as_ptr();
/// drop(a);
/// let b = Array::<f32>::full(&[2048], 0.5); // the same size: the same memory
/// assert_eq!(b.data().as_ptr(), at);
/// ```
pub(crate) fn vec_with_capacity<T>(len: usize) -> Vec<T> {
    take(len).unwrap_or_else(|| Vec::with_capacity(len))
}

/// `len` copies of `value`, in a kept buffer if there is one (otherwise as `vec!` makes
/// them, which asks the allocator for zeroed memory when `value` is 0: fresh pages from the
/// system need no fill).
pub(crate) fn filled<T: Copy>(len: usize, value: T) -> Vec<T> {
    match take(len) {
        Some(mut v) => {
            v.resize(len, value);
            v
        }
        None => vec![value; len],
    }
}

/// A kept buffer with room for exactly `len` elements, empty, if there is one. While buffers
/// are kept, it counts one of that size as out either way: the caller makes it otherwise.
fn take<T>(len: usize) -> Option<Vec<T>> {
    let layout = kept_layout::<T>(len)?;
    let key = (layout.size(), layout.align());
    let address = with_store(|store| {
        let buffers = store.by_layout.entry(key).or_default();
        buffers.out += 1;
        let address = buffers.free.pop()?;
        store.bytes -= layout.size();
        Some(address)
    })
    .flatten()?;
    // SAFETY: `address` was allocated by the global allocator with the layout of `len`
    // elements of `T` (size and alignment equal), and nothing else owns it now.
    Some(unsafe { Vec::from_raw_parts(address as *mut T, 0, len) })
}

/// Keeps `v`'s buffer for a later [`vec_with_capacity`], or frees it if it is too small.
pub(crate) fn recycle<T>(v: Vec<T>) {
    let Some(layout) = kept_layout::<T>(v.capacity()) else {
        return; // dropped as usual
    };
    let address = v.as_ptr() as usize;
    let kept = with_store(|store| {
        let key = (layout.size(), layout.align());
        let buffers = store.by_layout.get_mut(&key).filter(|b| b.out > 0)?;
        buffers.out -= 1;
        if store.bytes + layout.size() > MOST_KEPT {
            return None; // full: this one goes back to the allocator
        }
        buffers.free.push(address);
        store.bytes += layout.size();
        Some(())
    });
    if kept.flatten().is_some() {
        // The store owns the buffer now; its elements need no drop (`kept_layout`).
        std::mem::forget(v);
    }
    // Otherwise (not keeping, none of its size out, the store full, or the thread ending)
    // it goes back to the allocator as usual.
}

/// The layout of `capacity` elements of `T` when such a buffer is kept: large enough, and
/// elements that need no dropping.
fn kept_layout<T>(capacity: usize) -> Option<Layout> {
    let layout = Layout::array::<T>(capacity).ok()?;
    let plain = !std::mem::needs_drop::<T>() && size_of::<T>() > 0;
    (plain && layout.size() >= SMALLEST).then_some(layout)
}

impl Kept {
    /// Hands every kept buffer back to the allocator and forgets what is out.
    fn reset(&mut self) {
        for ((size, align), buffers) in std::mem::take(&mut self.by_layout) {
            // SAFETY: keys are the layouts of valid `Vec` buffers (`kept_layout`).
            let layout = unsafe { Layout::from_size_align_unchecked(size, align) };
            for address in buffers.free {
                // SAFETY: the buffer came from the global allocator with this layout and is
                // owned by the store alone.
                unsafe { dealloc(address as *mut u8, layout) };
            }
        }
        self.bytes = 0;
    }
}

impl Drop for Kept {
    /// A thread that ends hands its buffers back.
    fn drop(&mut self) {
        self.reset();
    }
}

/// The bytes kept now by this thread and by the helper threads (for tests and measurements;
/// it waits for the helpers to be free).
pub fn kept_bytes() -> usize {
    let here = || KEPT.try_with(|kept| kept.borrow().bytes).unwrap_or(0);
    let helpers = AtomicUsize::new(0);
    for_each_helper(|| {
        helpers.fetch_add(here(), Relaxed);
    });
    here() + helpers.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_comes_back_only_at_its_own_size_and_empty() {
        let keeping = KeepingBuffers::new();
        let mut v: Vec<f64> = vec_with_capacity(1237);
        v.extend((0..1237).map(f64::from));
        let at = v.as_ptr();
        recycle(v);
        let other: Vec<f64> = vec_with_capacity(1238);
        assert_ne!(other.as_ptr(), at, "another size is another buffer");
        let again: Vec<f64> = vec_with_capacity(1237);
        assert_eq!(
            (again.as_ptr(), again.len(), again.capacity()),
            (at, 0, 1237)
        );
        drop(keeping);
    }

    #[test]
    fn small_buffers_are_left_to_the_allocator() {
        assert!(kept_layout::<f32>(SMALLEST / 4 - 1).is_none());
        assert!(kept_layout::<f32>(SMALLEST / 4).is_some());
        assert!(
            kept_layout::<String>(SMALLEST).is_none(),
            "elements that need dropping"
        );
        assert!(kept_layout::<()>(SMALLEST).is_none(), "elements of no size");
    }
}
