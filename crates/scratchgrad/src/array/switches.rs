//! Environment variables that switch a hand-written path off, to compare it with the general
//! one in one build (`SCRATCHGRAD_CONV=gemm`, `SCRATCHGRAD_MATMUL=dense`).

/// Whether the environment variable `name` is set to `value`. Any other value is named in
/// one line on stderr and ignored; callers keep the answer (a `OnceLock`), so it is said once.
pub(crate) fn switched(name: &str, value: &str) -> bool {
    match std::env::var(name) {
        Ok(v) if v == value => true,
        Ok(v) => {
            eprintln!("scratchgrad: {name}={v:?} is ignored: the only value is {value}");
            false
        }
        Err(_) => false,
    }
}
