//! Panics that the library turns into errors, told apart from those it does not.
//!
//! A few places catch a panic on purpose and turn it into a typed error of one item: a decode job
//! (FFmpeg glue on a hostile file) and the parquet reader (its decoders assert on some corrupt
//! data). Everywhere else a panic is a bug, and in a program that holds file locks (the `score` job)
//! the safe answer is to end the process, which releases its locks, rather than to unwind into
//! threads that wait on each other. [`catch`] marks a thread as inside such a deliberate catch, so a
//! panic hook (the `viclip` CLI installs one) can let those through and end the process on any
//! other panic, in any thread.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static CAUGHT: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f`, returning `Err` with the panic's payload when it panics (like
/// [`std::panic::catch_unwind`]), and marks this thread as inside a deliberate catch while `f` runs
/// (see [`is_caught`]).
pub fn catch<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    CAUGHT.with(|c| c.set(c.get() + 1));
    let r = catch_unwind(AssertUnwindSafe(f));
    CAUGHT.with(|c| c.set(c.get().saturating_sub(1)));
    r
}

/// Whether the calling thread is inside [`catch`]: a panic hook called now is seeing a panic that
/// will become an error of one item.
pub fn is_caught() -> bool {
    CAUGHT.with(|c| c.get() > 0)
}

/// Installs a panic hook that prints the panic as the default hook does and then, unless the panic
/// is inside [`catch`], ends the process with exit code 101 at once. Locks held through the
/// process's open files (`flock`) are released by the exit; temporary directories are left for the
/// next run to sweep. For programs, not libraries: it replaces the process's hook.
pub fn exit_on_uncaught_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if is_caught() {
            return;
        }
        default(info);
        eprintln!(
            "viclip: internal error (a panic in thread {:?}); the process ends now so that its \
             locks are released; a rerun resumes. Please report it with the message above.",
            std::thread::current().name().unwrap_or("unnamed")
        );
        std::process::exit(101);
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_marks_the_thread_only_while_it_runs() {
        assert!(!is_caught());
        let r = catch(|| {
            assert!(is_caught());
            let inner = catch(|| -> u32 { panic!("inner") });
            assert!(inner.is_err());
            assert!(is_caught(), "still inside the outer catch");
            7
        });
        assert_eq!(r.ok(), Some(7));
        assert!(!is_caught());
    }
}
