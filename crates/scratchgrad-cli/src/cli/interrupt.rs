//! Ctrl-C and SIGTERM: the first asks the work under way to stop cleanly (a training run
//! finishes its step and any write, a download kills `npm` and removes its temporary
//! folder); a second one ends the process at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The process's interrupt flag, set by the first SIGINT or SIGTERM once this has been
/// called (the handlers are registered on the first call).
pub fn flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    Arc::clone(FLAG.get_or_init(|| {
        let interrupted = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registration fails only for signals that may not be caught; these may.
            let _ = signal_hook::flag::register_conditional_shutdown(
                signal,
                130,
                Arc::clone(&interrupted),
            );
            let _ = signal_hook::flag::register(signal, Arc::clone(&interrupted));
        }
        interrupted
    }))
}

/// True once Ctrl-C or SIGTERM has arrived (after [`flag`] was first called).
pub fn requested() -> bool {
    flag().load(Ordering::Relaxed)
}
