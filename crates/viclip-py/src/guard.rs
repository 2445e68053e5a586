//! Being a good citizen of the interpreter: the fork check and calls that Ctrl-C can interrupt.
//!
//! viclip's work runs on rayon pools (the decode pipeline's, candle's and the aesthetic scorer's)
//! whose threads do not exist in a `fork()` child: a child that used them would wait for ever. The
//! first call that may start them records the process id; a call from another process (a fork
//! child) is refused with `viclip.ForkError`, which tells to start workers with `spawn`.

use std::sync::atomic::{AtomicU32, Ordering};

use pyo3::prelude::*;

use crate::errors::{new_err, Kind};

/// The process in which viclip's thread pools started; 0 before the first call.
static POOLS_PID: AtomicU32 = AtomicU32::new(0);

/// Records that this process starts viclip's thread pools, or refuses when they were started by the
/// parent of this `fork()` child.
pub fn enter(py: Python<'_>) -> PyResult<()> {
    let me = std::process::id();
    match POOLS_PID.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => Ok(()),
        Err(pid) if pid == me => Ok(()),
        Err(pid) => Err(new_err(
            py,
            Kind::Fork,
            format!(
                "this process was fork()ed from process {pid} after viclip started its thread \
                 pools there; those threads do not exist here, so viclip cannot run in this \
                 process. Start worker processes with `spawn` \
                 (multiprocessing.get_context(\"spawn\"), or DataLoader(..., \
                 multiprocessing_context=\"spawn\")), or load and use the model only in the workers"
            ),
        )),
    }
}

/// The process in which viclip's thread pools started, if any (for the at-fork warning).
#[pyfunction]
pub fn _pools_started_in() -> Option<u32> {
    match POOLS_PID.load(Ordering::SeqCst) {
        0 => None,
        pid => Some(pid),
    }
}

/// Runs `step` (without the GIL) over the ranges `0..n` split into chunks of `chunk`, checking for
/// Ctrl-C between two chunks: a pending signal's exception (`KeyboardInterrupt`) ends the call.
pub fn chunked<T, F>(py: Python<'_>, n: usize, chunk: usize, step: F) -> PyResult<Vec<T>>
where
    T: Send,
    F: Fn(std::ops::Range<usize>) -> viclip::Result<T> + Send + Sync,
{
    use crate::errors::IntoPy;
    let chunk = chunk.max(1);
    let mut out = Vec::with_capacity(n.div_ceil(chunk));
    let mut start = 0;
    loop {
        let end = (start + chunk).min(n);
        out.push(py.detach(|| step(start..end)).py_err(py)?);
        start = end;
        if start >= n {
            return Ok(out);
        }
        py.check_signals()?;
    }
}
