//! How many threads work may use, and how it is shared between them: the calling thread takes
//! a block of each large product and the helpers (`waiting_helpers.rs`) the rest, the caller's
//! share learnt from how long the blocks took (see [`CallerShare`]); the ranges of a loop
//! ([`for_each_range`]) and the parts of an array built on it ([`for_each_part`]) share the
//! same helpers, and the parts of a batch ([`run_tasks`]) run on a pool of their own.

use std::cell::Cell;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use super::buffers::{keeping, keeping_as};
use super::waiting_helpers::{helper_count, run_with_helpers};

/// 0 means "not set": use every core the machine reports.
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's own count, set by [`with_threads`] (0: the process's).
    static SCOPED_THREADS: Cell<usize> = const { Cell::new(0) };
}

/// Sets how many threads a large matrix product may use by default, in the whole process
/// (1 = never spawn). A training run sets its own with [`with_threads`] instead.
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// How many threads a large matrix product may use: the count [`with_threads`] set for
/// this thread, else the process's.
pub fn num_threads() -> usize {
    match SCOPED_THREADS.with(|t| t.get()) {
        0 => match NUM_THREADS.load(Ordering::Relaxed) {
            0 => machine_cores(),
            n => n,
        },
        n => n,
    }
}

/// [`num_threads`], but no more than the calling thread and the helpers can run at once; the
/// helpers are only started (by asking their count) when more than one thread may be used.
pub(super) fn usable_threads() -> usize {
    match num_threads() {
        1 => 1,
        asked => asked.min(helper_count() + 1),
    }
}

/// The cores this process may use, asked once: the standard library reads the cgroup's files
/// on every call (about 25 us, more than a 64 x 64 x 32 product takes), and products ask for
/// every one.
pub(super) fn machine_cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `work` with products computed on this thread using at most `threads` threads (at
/// least 1), whatever other threads use: a training run's own setting, not the process's.
///
/// ```
/// use scratchgrad::array::{num_threads, with_threads};
/// assert_eq!(with_threads(1, num_threads), 1);
/// ```
pub fn with_threads<R>(threads: usize, work: impl FnOnce() -> R) -> R {
    with_setting(&SCOPED_THREADS, threads.max(1), work)
}

/// Runs `work` with this thread's `setting` at `value`, then puts the one before back (on
/// every way out, a panic included).
pub(super) fn with_setting<R>(
    setting: &'static LocalKey<Cell<usize>>,
    value: usize,
    work: impl FnOnce() -> R,
) -> R {
    struct Restore(&'static LocalKey<Cell<usize>>, usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            self.0.with(|s| s.set(self.1));
        }
    }
    let _restore = Restore(setting, setting.with(|s| s.replace(value)));
    work()
}

/// The helper threads, made the first time a task or product needs one.
static HELPERS: OnceLock<rayon::ThreadPool> = OnceLock::new();

/// The threads that run the other tasks of [`run_tasks`] while the calling thread runs the
/// first: one fewer than the machine's cores, so that together with the caller they never ask
/// for more cores than there are. (A task is a whole part of a batch, so these may sleep
/// between tasks; split products and [`for_each_part`] use the helpers of
/// `waiting_helpers.rs`, which wait awake.)
pub(super) fn helpers() -> &'static rayon::ThreadPool {
    HELPERS.get_or_init(|| {
        let cores = machine_cores();
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("scratchgrad-task-{i}"))
            .build()
            .expect("a thread pool of a few threads can be created")
    })
}

/// Runs `work(start, part)` over `data` cut into one part per thread at multiples of `unit`
/// elements ([`for_each_range`] over the units; the last part also takes any elements after
/// the last whole unit); on one thread (or for less than `min_len` elements), once over
/// everything. Each part sees the offset of its first element, so every element is computed
/// exactly as in the one-call case.
pub(crate) fn for_each_part<T: Send>(
    data: &mut [T],
    unit: usize,
    min_len: usize,
    work: impl Fn(usize, &mut [T]) + Sync,
) {
    let (len, unit) = (data.len(), unit.max(1));
    let units = len / unit;
    if data.len() < min_len || units < 2 {
        return work(0, data);
    }
    let whole = SharedPtr(data.as_mut_ptr());
    for_each_range(units, |range| {
        let start = range.start * unit;
        let end = if range.end == units {
            len
        } else {
            range.end * unit
        };
        // SAFETY: the ranges `for_each_range` hands out are disjoint and each is handed out
        // once, so no two parts overlap; every part lies inside `data`, which is borrowed
        // mutably until all of them are done.
        let part = unsafe { std::slice::from_raw_parts_mut(whole.at(start), end - start) };
        work(start, part)
    });
}

/// The start of a buffer shared with threads that each write (and may read back) only their
/// own disjoint part of it.
pub(super) struct SharedPtr<T>(pub(super) *mut T);

impl<T> SharedPtr<T> {
    /// The address of element `i` (a method, so that closures capture the whole wrapper).
    pub(super) fn at(&self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }
}

// SAFETY: its users only touch disjoint parts through it from different threads (see
// `for_each_part`), and the elements are `Send`.
unsafe impl<T: Send> Sync for SharedPtr<T> {}

/// A range of [`for_each_range`]'s, until a thread takes it.
type RangeSlot = Mutex<Option<Range<usize>>>;

/// Runs `work(range)` over `0..units` cut into one range per thread, the first on the calling
/// thread and the others on the helpers that wait awake between jobs (`waiting_helpers.rs`;
/// such work is short), or on the caller when no helper has started them by then; on one
/// thread, or for fewer than 2 units, once over everything (not at all for none). The
/// caller's range is sized by [`PART_SHARE`], learnt as split products learn theirs; while
/// splits do not pay (a helper's core busy with another process), everything runs on the
/// caller.
///
/// What callers that write through raw pointers rely on: the ranges are disjoint, not empty,
/// and cover `0..units`; each runs exactly once, on one thread; all have finished when this
/// returns (also when one panicked, whose panic then goes on here). Whenever there is a
/// split, the first range is the caller's: a caller that cuts two passes over the same data
/// the same way finds its part of the first pass's results in its own core's caches.
pub(crate) fn for_each_range(units: usize, work: impl Fn(Range<usize>) + Sync) {
    if units == 0 {
        return;
    }
    if num_threads() <= 1 || units < 2 {
        return work(0..units);
    }
    let threads = usable_threads().min(units);
    let Some(share) = PART_SHARE.for_next_product(threads) else {
        return work(0..units);
    };
    let cuts = split_points(units, threads, share, 1);
    // Each range is taken out of its slot by whichever thread runs it, so it runs once.
    let slots: Vec<RangeSlot> = cuts
        .windows(2)
        .map(|w| Mutex::new(Some(w[0]..w[1])))
        .collect();
    let run = |slot: &RangeSlot| {
        let range = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(range) = range {
            work(range);
        }
    };
    let started = Instant::now();
    // When the last of the other parts was done, in nanoseconds from the start.
    let others_done = AtomicU64::new(0);
    let jobs: Vec<_> = slots[1..]
        .iter()
        .map(|slot| {
            let others_done = &others_done;
            move || {
                run(slot);
                others_done.fetch_max(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            }
        })
        .collect();
    let mut own = Duration::ZERO;
    let own_part = || {
        run(&slots[0]);
        own = started.elapsed();
    };
    if !run_with_helpers(own_part, &jobs) {
        // The helpers are busy with another thread's work: every part runs here.
        slots.iter().for_each(run);
        return;
    }
    let others = Duration::from_nanos(others_done.load(Ordering::Relaxed));
    PART_SHARE.learn(threads, cuts[1] as f64 / units as f64, own, others);
}

/// Runs `f` once on every helper thread, if there are any yet (and waits for them).
pub(super) fn for_each_helper(f: impl Fn() + Sync) {
    if let Some(pool) = HELPERS.get() {
        pool.broadcast(|_| f());
    }
}

/// Runs `task(i)` for each `i` in `0..n` and returns the results in that order. The calling
/// thread and the helpers each take the next task not yet started until none is left, so a
/// thread slowed by another process takes fewer. A task's products run unsplit on the thread
/// that runs it: it computes the same bits wherever it runs, and the results do not depend
/// on the number of threads.
///
/// ```
/// use scratchgrad::array::{run_tasks, with_threads};
/// let squares = with_threads(2, || run_tasks(4, |i| i * i));
/// assert_eq!(squares, vec![0, 1, 4, 9]);
/// ```
pub fn run_tasks<R: Send>(n: usize, task: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let threads = num_threads().min(n);
    if threads <= 1 {
        return (0..n).map(|i| with_threads(1, || task(i))).collect();
    }
    let slots: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    // A helper keeps buffers for the tasks of a caller that keeps them (`buffers.rs`).
    let keep = keeping();
    let drain = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        let result = keeping_as(keep, || with_threads(1, || task(i)));
        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
    };
    helpers().in_place_scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|_| drain());
        }
        drain();
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .expect("every task ran")
        })
        .collect()
}

/// Where `len` rows (or columns) are cut into `threads` blocks of at least `min_block` (1 or
/// more; `len` must hold `threads` of them): the first, the calling thread's, gets about
/// `share` of them; the helpers split the rest evenly.
pub(super) fn split_points(len: usize, threads: usize, share: f64, min_block: usize) -> Vec<usize> {
    assert!(
        len >= threads * min_block,
        "split_points: {len} cannot hold {threads} blocks of {min_block}"
    );
    let largest = len - (threads - 1) * min_block;
    let first = ((len as f64 * share).round() as usize).clamp(min_block, largest);
    let (rest, helpers) = (len - first, threads - 1);
    std::iter::once(0)
        .chain((0..=helpers).map(|h| first + rest * h / helpers))
        .collect()
}

/// The share of a split product that the calling thread takes, learnt from the products
/// before. Even on an idle machine a helper starts late (it must be woken); with another
/// process busy on its core it may not run for a whole scheduler time slice. An even split
/// then makes the caller wait.
///
/// Two running averages are kept. The share: the one that would have made the last split
/// finish on both sides at once. The cost: how long split products took against the caller
/// doing all of it alone (0.5 is a perfect split in two, 1 no gain). While the cost stays
/// above [`CallerShare::WORTH_IT`], products run unsplit, and now and then one is still split
/// to see whether the helpers are back (after 16 unsplit products, then 32, ... up to 1,024
/// while they stay slow); the first such probe that pays resumes splitting.
pub(super) struct CallerShare {
    /// The share's f64 bits; 0 before the first split.
    share: AtomicU64,
    /// The cost's f64 bits; 0 before the first split (taken as a perfect split).
    cost: AtomicU64,
    /// Products run unsplit since the last split.
    unsplit: AtomicUsize,
    /// How many unsplit products to run before splitting one again to measure.
    probe_after: AtomicUsize,
}

pub(super) static CALLER_SHARE: CallerShare = CallerShare::new();

/// The same, learnt from [`for_each_range`]'s splits (elementwise work and the hand-written
/// kernels, whose parts are shorter than most split products): kept apart so that neither
/// kind's timings move the other's share.
static PART_SHARE: CallerShare = CallerShare::new();

impl CallerShare {
    /// How far each product moves the averages.
    const SMOOTHING: f64 = 0.1;
    /// Splitting goes on while split products take less than this of the time alone.
    const WORTH_IT: f64 = 0.95;
    /// A product's cost counts at most this much: one long stall must not stop splitting.
    const WORST_COST: f64 = 2.0;
    const FIRST_PROBE: usize = 16;
    const LAST_PROBE: usize = 1024;

    const fn new() -> Self {
        CallerShare {
            share: AtomicU64::new(0),
            cost: AtomicU64::new(0),
            unsplit: AtomicUsize::new(0),
            probe_after: AtomicUsize::new(Self::FIRST_PROBE),
        }
    }

    fn load(value: &AtomicU64, before_any: f64) -> f64 {
        match value.load(Ordering::Relaxed) {
            0 => before_any,
            bits => f64::from_bits(bits),
        }
    }

    /// The caller's share for the next product split across `threads`, or `None` to run it
    /// unsplit.
    pub(super) fn for_next_product(&self, threads: usize) -> Option<f64> {
        let share = Self::load(&self.share, 1.0 / threads as f64);
        if Self::load(&self.cost, 0.0) <= Self::WORTH_IT {
            self.unsplit.store(0, Ordering::Relaxed);
            return Some(share);
        }
        let unsplit = self.unsplit.fetch_add(1, Ordering::Relaxed) + 1;
        if unsplit < self.probe_after.load(Ordering::Relaxed) {
            return None;
        }
        self.unsplit.store(0, Ordering::Relaxed);
        Some(share)
    }

    /// Learns from a product split across `threads` in which the caller took `share` and
    /// finished its block `own` after the start, the last helper its block `helpers` after the
    /// start.
    pub(super) fn learn(&self, threads: usize, share: f64, own: Duration, helpers: Duration) {
        let (own, helpers) = (own.as_secs_f64().max(1e-9), helpers.as_secs_f64().max(1e-9));
        // Speeds in "products per second": the caller did `share` in `own`, the helpers the
        // rest in `helpers` (waking included). Balanced, each side's share is proportional to
        // its speed.
        let (caller, helper) = (share / own, (1.0 - share) / helpers);
        let balanced = caller / (caller + helper);
        let old_share = Self::load(&self.share, share);
        let new_share = old_share + Self::SMOOTHING * (balanced - old_share);
        self.share
            .store(new_share.clamp(0.1, 0.9).to_bits(), Ordering::Relaxed);
        // Alone, the caller would have taken own / share for the whole product.
        let cost = (own.max(helpers) / (own / share)).min(Self::WORST_COST);
        let old_cost = Self::load(&self.cost, 1.0 / threads as f64);
        // A probe that paid resumes splitting at once: on a shared machine helpers stall now
        // and then, and climbing back from a few stalls by small steps kept most products
        // unsplit long after the helpers were back (1,860 of 2,036 in one epoch).
        let new_cost = if old_cost > Self::WORTH_IT && cost <= Self::WORTH_IT {
            cost
        } else {
            old_cost + Self::SMOOTHING * (cost - old_cost)
        };
        self.cost.store(new_cost.to_bits(), Ordering::Relaxed);
        // Probe again soon after a split that paid, rarely after one that did not.
        let probe_after = if cost <= Self::WORTH_IT {
            Self::FIRST_PROBE
        } else {
            (self.probe_after.load(Ordering::Relaxed) * 2).min(Self::LAST_PROBE)
        };
        self.probe_after.store(probe_after, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_everything_once() {
        assert_eq!(split_points(256, 2, 0.5, 1), vec![0, 128, 256]);
        assert_eq!(split_points(256, 2, 0.7, 1), vec![0, 179, 256]);
        assert_eq!(split_points(10, 3, 0.2, 1), vec![0, 2, 6, 10]);
        // Every block keeps its minimum, whatever the share...
        assert_eq!(split_points(256, 2, 0.1, 65), vec![0, 65, 256]);
        assert_eq!(split_points(256, 2, 0.9, 65), vec![0, 191, 256]);
        assert_eq!(split_points(3, 2, 0.0, 1), vec![0, 1, 3]);
    }

    #[test]
    fn the_share_follows_the_speeds_and_splitting_stops_while_it_does_not_pay() {
        let secs = Duration::from_secs_f64;
        let share = CallerShare::new();
        // A helper half as fast as the caller: balanced, the caller takes 2/3.
        for _ in 0..200 {
            let s = share.for_next_product(2).expect("splits while it pays");
            // The caller's block takes s * 10 ms, the helper's (1 - s) * 20 ms.
            share.learn(2, s, secs(s * 0.010), secs((1.0 - s) * 0.020));
        }
        let s = share.for_next_product(2).expect("splits while it pays");
        assert!((s - 2.0 / 3.0).abs() < 0.01, "share {s}");
        // One long stall does not stop splitting...
        share.learn(2, s, secs(s * 0.010), secs(0.050));
        assert!(share.for_next_product(2).is_some());
        // ...helpers that keep stalling do.
        for _ in 0..50 {
            if let Some(s) = share.for_next_product(2) {
                share.learn(2, s, secs(s * 0.010), secs(0.050));
            }
        }
        let unsplit = (0..15)
            .filter(|_| share.for_next_product(2).is_none())
            .count();
        assert!(unsplit >= 14, "{unsplit} of 15 unsplit");
        // The helper is back: the first probe that pays resumes splitting.
        let s = (0..=CallerShare::LAST_PROBE)
            .find_map(|_| share.for_next_product(2))
            .expect("a probe comes within the longest wait");
        share.learn(2, s, secs(s * 0.010), secs((1.0 - s) * 0.010));
        let split = (0..15)
            .filter(|_| share.for_next_product(2).is_some())
            .count();
        assert_eq!(split, 15);
    }
}
