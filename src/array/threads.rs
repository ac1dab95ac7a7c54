//! The threads that large matrix products are split across, and how the work is shared
//! between them: the calling thread takes a block of each product and a pool of helpers the
//! rest, the caller's share learnt from how long the blocks took (see [`CallerShare`]).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// 0 means "not set": use every core the machine reports.
static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads a large matrix product may use (1 = never spawn).
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// How many threads a large matrix product may use.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// The threads that compute the other blocks of a split product while the calling thread
/// computes the first: one fewer than the machine's cores, so that together with the caller
/// they never ask for more cores than there are (an idle helper sleeps rather than competing
/// with the calling thread's elementwise work).
pub(super) fn helpers() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores.saturating_sub(1).max(1))
            .thread_name(|i| format!("scratchgrad-matmul-{i}"))
            .build()
            .expect("a thread pool of a few threads can be created")
    })
}

/// Where `len` rows (or columns) are cut into `threads` blocks of at least `min_block`: the
/// first, the calling thread's, gets about `share` of them; the helpers split the rest evenly.
/// When `len` is too short for that, the blocks are even, whatever the share.
pub(super) fn split_points(len: usize, threads: usize, share: f64, min_block: usize) -> Vec<usize> {
    let even = || (0..=threads).map(|t| len * t / threads).collect();
    if len < threads * min_block.max(1) {
        return even();
    }
    let largest = len - (threads - 1) * min_block;
    let first = ((len as f64 * share).round() as usize).clamp(min_block.max(1), largest);
    let (rest, helpers) = (len - first, threads - 1);
    std::iter::once(0)
        .chain((0..=helpers).map(|h| first + rest * h / helpers))
        .collect()
}

/// The share of a split product that the calling thread takes, learnt from the products
/// before. Even on an idle machine a helper starts late (it must be woken); with another
/// process busy on its core it may not run for a scheduler time slice. An even split then
/// makes the caller wait. This gives the caller the share that would have made the last split
/// finish on both sides at once, smoothed over products. When that share passes
/// [`CallerShare::SPLIT_LIMIT`] splitting does not pay: products run on the calling thread
/// alone, and now and then one is still split to notice when the helpers are back (after
/// 16 unsplit products, then 32, ... up to 1,024 while they stay slow).
pub(super) struct CallerShare {
    /// The share's f64 bits; 0 until the first split.
    share: AtomicU64,
    /// Products run unsplit since the last split.
    unsplit: AtomicUsize,
    /// How many unsplit products to run before splitting one again to measure.
    probe_after: AtomicUsize,
}

pub(super) static CALLER_SHARE: CallerShare = CallerShare::new();

impl CallerShare {
    const SMOOTHING: f64 = 0.2;
    const SPLIT_LIMIT: f64 = 0.9;
    const FIRST_PROBE: usize = 16;
    const LAST_PROBE: usize = 1024;

    const fn new() -> Self {
        CallerShare {
            share: AtomicU64::new(0),
            unsplit: AtomicUsize::new(0),
            probe_after: AtomicUsize::new(Self::FIRST_PROBE),
        }
    }

    /// The caller's share for the next product, or `None` to run it unsplit.
    pub(super) fn for_next_product(&self) -> Option<f64> {
        let share = match self.share.load(Ordering::Relaxed) {
            0 => 1.0 / num_threads() as f64,
            bits => f64::from_bits(bits),
        };
        if share <= Self::SPLIT_LIMIT {
            self.unsplit.store(0, Ordering::Relaxed);
            self.probe_after.store(Self::FIRST_PROBE, Ordering::Relaxed);
            return Some(share);
        }
        let unsplit = self.unsplit.fetch_add(1, Ordering::Relaxed) + 1;
        let probe_after = self.probe_after.load(Ordering::Relaxed);
        if unsplit < probe_after {
            return None;
        }
        // A probe that finds the helpers still slow costs their wake-up: probe half as often.
        self.unsplit.store(0, Ordering::Relaxed);
        let later = (probe_after * 2).min(Self::LAST_PROBE);
        self.probe_after.store(later, Ordering::Relaxed);
        Some(Self::SPLIT_LIMIT)
    }

    /// Updates the share after a product in which the caller took `share` and finished its
    /// block `own` after the start, the last helper its block `helpers` after the start.
    pub(super) fn learn(&self, share: f64, own: Duration, helpers: Duration) {
        let (own, helpers) = (own.as_secs_f64().max(1e-9), helpers.as_secs_f64().max(1e-9));
        // Speeds in "product per second": the caller did `share` in `own`, the helpers the
        // rest in `helpers` (waking included). Balanced, each side's share is proportional to
        // its speed.
        let (caller, helper) = (share / own, (1.0 - share) / helpers);
        let balanced = caller / (caller + helper);
        let next = share + Self::SMOOTHING * (balanced - share);
        self.share
            .store(next.clamp(0.1, 1.0).to_bits(), Ordering::Relaxed);
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
        // ...and when there is not room for that, the blocks are even.
        assert_eq!(split_points(100, 2, 0.9, 65), vec![0, 50, 100]);
    }

    #[test]
    fn the_share_follows_the_speeds_and_stops_splitting_when_helpers_stall() {
        let secs = Duration::from_secs_f64;
        let share = CallerShare::new();
        // A helper half as fast as the caller: balanced, the caller takes 2/3.
        for _ in 0..100 {
            let s = share.for_next_product().expect("splits while it pays");
            // The caller's block takes s * 10 ms, the helper's (1 - s) * 20 ms.
            share.learn(s, secs(s * 0.010), secs((1.0 - s) * 0.020));
        }
        let s = share.for_next_product().expect("splits while it pays");
        assert!((s - 2.0 / 3.0).abs() < 0.01, "share {s}");
        // A helper that does not run for 50 ms: not worth splitting.
        for _ in 0..20 {
            if let Some(s) = share.for_next_product() {
                share.learn(s, secs(s * 0.010), secs(0.050));
            }
        }
        let unsplit = (0..15)
            .filter(|_| share.for_next_product().is_none())
            .count();
        assert!(unsplit >= 14, "{unsplit} of 15 unsplit");
        // The helper is back: a probe sees it and splitting resumes.
        let probe = (0..2000)
            .find_map(|_| share.for_next_product())
            .expect("a probe");
        assert_eq!(probe, CallerShare::SPLIT_LIMIT);
        share.learn(probe, secs(probe * 0.010), secs((1.0 - probe) * 0.010));
        assert!(share.for_next_product().is_some());
    }
}
