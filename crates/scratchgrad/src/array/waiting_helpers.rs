//! The helper threads that compute the other blocks of a split matrix product (and the other
//! ranges of `for_each_range`'s work: elementwise parts, bands of a hand-written product),
//! kept awake between jobs.
//!
//! A thread that sleeps must be woken by the operating system, and on these virtual machines
//! that took 29-79 us (a rayon pool's helper, from the spawn to the job's start; 0.1 us for a
//! thread already checking for work), while half of an MLP's largest product takes about 60.
//! So a helper, after each job, keeps checking for the next one: for [`SPIN`] in a tight loop,
//! then until [`AWAKE`] giving its core away between checks (so that another process on it
//! loses little), and only then sleeps. OpenMP runtimes do the same (Intel's waits 200 ms by
//! default). A job that no helper has started by the time the caller has done its own share
//! is taken back and run by the caller, so a helper whose core another process holds (or
//! that is still waking) delays nothing. docs/BENCHMARKS.md has the measurements.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock, PoisonError, TryLockError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::threads::machine_cores;

/// How long a helper checks for work in a tight loop after its last job.
const SPIN: Duration = Duration::from_micros(50);
/// How long it stays awake in all, yielding its core between checks after [`SPIN`].
const AWAKE: Duration = Duration::from_millis(1);

/// A slot's states: empty, a job posted for the helper, taken by the helper, done. A job
/// still POSTED when the caller has finished its own share is taken back (POSTED to EMPTY)
/// and run by the caller: a helper whose core is busy with another process, or not yet
/// awake, then costs nothing.
const EMPTY: u8 = 0;
const POSTED: u8 = 1;
const TAKEN: u8 = 2;
const DONE: u8 = 3;

/// A job, its lifetime erased: [`run_with_helpers`] waits until it is done (or takes it back
/// unstarted) before the borrow it was made from ends.
type Job = *const (dyn Fn() + Sync + 'static);

/// Where the caller hands one helper its job.
struct Slot {
    state: AtomicU8,
    job: UnsafeCell<Option<Job>>,
    /// What a job's panic carried, handed to the caller to go on with.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    sleeping: AtomicBool,
    thread: OnceLock<Thread>,
}

// SAFETY: `job` is written by the caller holding the pool's lock while the slot is EMPTY (a
// post, or clearing a job it took back), and taken by the helper only after its own
// POSTED-to-TAKEN exchange (the state orders the two); the job it points to is `Sync`, so
// running it on the helper is sound.
unsafe impl Sync for Slot {}
// SAFETY: as above; the slot owns nothing that is tied to a thread.
unsafe impl Send for Slot {}

struct Pool {
    slots: Vec<Slot>,
    /// Held by the one caller whose product the helpers are computing.
    busy: Mutex<()>,
}

/// The pool, its threads started at first use: one fewer than the machine's cores (one on a
/// machine of one core, for a count of threads set above it).
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    let pool = POOL.get_or_init(|| Pool {
        slots: (1..machine_cores().max(2))
            .map(|_| Slot {
                state: AtomicU8::new(EMPTY),
                job: UnsafeCell::new(None),
                panic: Mutex::new(None),
                sleeping: AtomicBool::new(false),
                thread: OnceLock::new(),
            })
            .collect(),
        busy: Mutex::new(()),
    });
    for (i, slot) in pool.slots.iter().enumerate() {
        slot.thread.get_or_init(|| {
            let slot: &'static Slot = slot;
            std::thread::Builder::new()
                .name(format!("scratchgrad-helper-{i}"))
                .spawn(move || serve(slot))
                .expect("a helper thread can be started")
                .thread()
                .clone()
        });
    }
    pool
}

/// How many helpers there are beside the calling thread.
pub(super) fn helper_count() -> usize {
    pool().slots.len()
}

/// Runs `own` on the calling thread and each of `others` on a helper (those beyond the
/// helpers' count, and those no helper has started when `own` is done, on the calling thread
/// after `own`), and returns when all are done. Returns
/// `false`, running nothing, when the helpers are running another call's jobs (another
/// thread's, or this call's own when `own` or a job calls this again): the caller then does
/// the work alone.
///
/// When a helper's job panicked, the panic goes on in the caller after every job finished.
///
/// A process forked while the helpers exist has none in the child (a fork copies only the
/// calling thread), and would wait for them forever: as with any thread pool, fork before
/// the first split product, or exec after.
pub(super) fn run_with_helpers<F: Fn() + Sync>(own: impl FnOnce(), others: &[F]) -> bool {
    let pool = pool();
    let (others, extra) = others.split_at(others.len().min(pool.slots.len()));
    let busy = match pool.busy.try_lock() {
        Ok(guard) => guard,
        // A caller that panicked held it; the slots were left empty all the same (a panic
        // payload left in one is cleared when the slot is next posted to).
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    /// On drop, takes back every job posted so far (the first `.1` slots) that no helper
    /// has taken, and waits for the others to be done, so that none outlives its borrow,
    /// whichever way the caller leaves.
    struct WaitForAll<'a>(&'a [Slot], usize);
    impl Drop for WaitForAll<'_> {
        fn drop(&mut self) {
            for slot in &self.0[..self.1] {
                let started = Instant::now();
                while !slot.take_back() {
                    match slot.state.load(SeqCst) {
                        DONE => {
                            slot.state.store(EMPTY, SeqCst);
                            break;
                        }
                        EMPTY => break,
                        _ => pause(started),
                    }
                }
            }
        }
    }
    let mut wait = WaitForAll(&pool.slots, 0);
    for (slot, job) in pool.slots.iter().zip(others) {
        let job: *const (dyn Fn() + Sync + '_) = job;
        // SAFETY: the lifetime is erased only until `wait` is dropped, which returns (also
        // when `own` panics) only once the helper has finished the job or it was taken back.
        let job: Job = unsafe { std::mem::transmute::<*const (dyn Fn() + Sync + '_), Job>(job) };
        // SAFETY: the slot is EMPTY and this caller holds the lock: no one else touches it.
        unsafe { *slot.job.get() = Some(job) };
        // A payload an earlier call left (it panicked itself before collecting them) is
        // not this call's to raise.
        *slot.panic.lock().unwrap_or_else(PoisonError::into_inner) = None;
        wait.1 += 1;
        slot.state.store(POSTED, SeqCst);
        if slot.sleeping.load(SeqCst) {
            if let Some(thread) = slot.thread.get() {
                thread.unpark();
            }
        }
    }
    own();
    extra.iter().for_each(|job| job());
    // Jobs no helper has started yet run here rather than be waited for.
    for (slot, job) in pool.slots.iter().zip(others) {
        if slot.take_back() {
            job();
        }
    }
    drop(wait);
    // Every slot's panic is taken (so none is left for a later call to raise); the first
    // goes on.
    let panics: Vec<_> = pool.slots[..others.len()]
        .iter()
        .filter_map(|slot| {
            slot.panic
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        })
        .collect();
    let panic = panics.into_iter().next();
    drop(busy);
    if let Some(payload) = panic {
        resume_unwind(payload);
    }
    true
}

impl Slot {
    /// Takes a posted job back from a helper that has not started it: true when it was
    /// still POSTED (it is EMPTY now, and no helper will run it).
    fn take_back(&self) -> bool {
        let taken = self
            .state
            .compare_exchange(POSTED, EMPTY, SeqCst, SeqCst)
            .is_ok();
        if taken {
            // SAFETY: only the caller holding the pool's lock posts and takes back, and an
            // EMPTY slot is not read by its helper.
            unsafe { *self.job.get() = None };
        }
        taken
    }
}

/// A helper's life: wait for a job, run it, say it is done.
fn serve(slot: &'static Slot) {
    loop {
        wait_for_job(slot);
        // SAFETY: the helper moved the slot from POSTED to TAKEN, so the caller's write of
        // the job is visible, and the caller waits for DONE before its borrow ends.
        let job = unsafe { (*slot.job.get()).take() };
        if let Some(job) = job {
            // SAFETY: as above: what the job borrows outlives it.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| unsafe { (*job)() })) {
                // Kept, not dropped here: the caller goes on with it.
                *slot.panic.lock().unwrap_or_else(PoisonError::into_inner) = Some(payload);
            }
        }
        slot.state.store(DONE, SeqCst);
    }
}

/// Returns once the slot holds a job: checking in a loop, then yielding between checks, then
/// asleep until the caller unparks it.
fn wait_for_job(slot: &Slot) {
    let mut started = Instant::now();
    loop {
        if slot.state.load(SeqCst) == POSTED
            && slot
                .state
                .compare_exchange(POSTED, TAKEN, SeqCst, SeqCst)
                .is_ok()
        {
            return;
        }
        if started.elapsed() < AWAKE {
            pause(started);
            continue;
        }
        slot.sleeping.store(true, SeqCst);
        // A job posted after the check above but before `sleeping` was set would not be
        // unparked for: look once more. (An unpark that comes before `park` makes it return
        // at once, so none is lost either way.)
        if slot.state.load(SeqCst) != POSTED {
            std::thread::park();
        }
        slot.sleeping.store(false, SeqCst);
        started = Instant::now();
    }
}

/// One wait between checks: a spin hint for [`SPIN`] after `started`, then a yield of the core
/// (at once on a machine of one core, where spinning would only keep the other thread out).
fn pause(started: Instant) {
    if machine_cores() > 1 && started.elapsed() < SPIN {
        for _ in 0..32 {
            std::hint::spin_loop();
        }
    } else {
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    #[test]
    fn every_job_runs_once_whether_the_helpers_are_awake_or_asleep() {
        let count = AtomicUsize::new(0);
        let job = || {
            count.fetch_add(1, Relaxed);
        };
        for round in 0..50 {
            if round % 10 == 0 {
                // Long enough for the helpers to fall asleep.
                std::thread::sleep(AWAKE * 3);
            }
            let own = || {
                count.fetch_add(1, Relaxed);
            };
            // Other tests' products may hold the helpers: then nothing ran, and it is retried.
            while !run_with_helpers(own, &[&job]) {}
        }
        assert_eq!(count.load(Relaxed), 100);
    }

    #[test]
    fn jobs_beyond_the_helpers_run_on_the_caller() {
        let count = AtomicUsize::new(0);
        let job = || {
            count.fetch_add(1, Relaxed);
        };
        let jobs = vec![&job; helper_count() + 3];
        while !run_with_helpers(|| {}, &jobs) {}
        assert_eq!(count.load(Relaxed), jobs.len());
    }

    #[test]
    fn a_helpers_panic_reaches_the_caller_after_every_job_is_done() {
        let done = AtomicUsize::new(0);
        let result = catch_unwind(AssertUnwindSafe(|| {
            let job = || panic!("the helper's job fails");
            while !run_with_helpers(|| done.store(1, Relaxed), &[&job]) {}
        }));
        let payload = result.expect_err("the helper's panic goes on in the caller");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"the helper's job fails")
        );
        assert_eq!(done.load(Relaxed), 1);
        // The helper lives on for the next product.
        let job = || {
            done.fetch_add(1, Relaxed);
        };
        while !run_with_helpers(|| {}, &[&job]) {}
        assert_eq!(done.load(Relaxed), 2);
    }
}
