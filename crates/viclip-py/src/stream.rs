//! `ViClip.score_stream`: the core's streaming scorer (`viclip::score_stream`) as a Python iterator.
//!
//! The scorer borrows the model, so it runs on a thread of its own that owns a clone of the model
//! (the weights are shared, not copied) and hands each result over a rendezvous channel: it scores
//! at most one item ahead of the consumer, and stops when the iterator is dropped. The Python items
//! are pulled lazily by the decode pipeline's own thread (not a rayon worker), which attaches to
//! the interpreter for each item; `__next__` waits without the GIL and checks for Ctrl-C while it
//! waits. Ctrl-C there, `close()` or dropping the iterator sets the scorer's cancel flag, so the
//! scoring thread stops at its next video batch instead of finishing the one it is on and more.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use viclip::aesthetic::AestheticScorer;
use viclip::pipeline::ClipSource;
use viclip::{ScoredClip, StreamOptions};

use crate::aesthetic::PyAestheticScorer;
use crate::clips::{info_dict, one_source, span, Settings};
use crate::errors::{invalid, to_instance, to_py};
use crate::guard::enter;
use crate::model::PyViClip;

/// What the scoring thread hands over: an item's result, or the run failing as a whole (bad
/// options, no thread to decode on).
enum Message {
    Item(viclip::Result<ScoredClip>),
    Failed(viclip::Error),
}

/// A Python exception raised by the item iterable (or by an item that is not a valid item): the
/// stream ends there and raises it after the items before it.
type Pending = Arc<Mutex<Option<PyErr>>>;

/// The iterator `ViClip.score_stream` returns: one `Scored` per item, in order.
#[pyclass(name = "ScoreStream", module = "viclip", frozen)]
pub struct PyScoreStream {
    rx: Mutex<Option<Receiver<Message>>>,
    pending: Pending,
    /// Items handed out so far.
    count: AtomicUsize,
    /// The scorer's cancel flag: set when the stream is closed, interrupted or dropped.
    cancel: Arc<AtomicBool>,
    /// The scoring thread, joined by `close()`.
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Drop for PyScoreStream {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// One item's result.
#[pyclass(name = "Scored", module = "viclip", frozen, get_all)]
pub struct PyScored {
    /// Position of the item in the input.
    pub index: usize,
    /// CLIP-SIM: the cosine of the clip's and the caption's unit embeddings; `None` on error.
    pub sim: Option<f32>,
    /// The clip's aesthetic score (with a scorer); `None` without one or when it has none.
    pub aesthetic: Option<f32>,
    /// Why the clip has no aesthetic score, as a `viclip.Error`.
    pub aesthetic_error: Option<Py<PyAny>>,
    /// The clip's source, span, sampled frames and colour information (a dict); `None` on error.
    pub info: Option<Py<PyAny>>,
    /// Why the item failed, as a `viclip.Error` instance (not raised); `None` when it did not.
    pub error: Option<Py<PyAny>>,
}

#[pymethods]
impl PyScored {
    /// Whether the item was scored.
    #[getter]
    fn ok(&self) -> bool {
        self.error.is_none()
    }

    fn __repr__(&self) -> String {
        match (self.sim, self.aesthetic) {
            (Some(s), Some(a)) => format!("Scored({}: sim={s:.4}, aesthetic={a:.4})", self.index),
            (Some(s), None) => format!("Scored({}: sim={s:.4})", self.index),
            _ => format!("Scored({}: error)", self.index),
        }
    }
}

#[pymethods]
impl PyScoreStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Stops scoring and waits until the scoring thread has ended (at its next video batch).
    /// Iterating afterwards raises `StopIteration`. Also what `with ... as stream:` does on exit.
    fn close(&self, py: Python<'_>) {
        self.stop();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = thread {
            // Without the GIL: the thread may be waiting for it to pull the next item.
            let _ = py.detach(|| t.join());
        }
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc: Option<&Bound<'_, PyAny>>,
        tb: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        // Whatever ended the block, the stream is closed and the exception (if any) goes on.
        let _ = (exc_type, exc, tb);
        self.close(py);
        false
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<PyScored> {
        loop {
            // The lock is taken without the GIL, so a second thread waiting here never holds it.
            let got = py.detach(|| {
                let guard = self.rx.lock().unwrap_or_else(|p| p.into_inner());
                match guard.as_ref() {
                    Some(rx) => rx.recv_timeout(Duration::from_millis(50)),
                    None => Err(RecvTimeoutError::Disconnected),
                }
            });
            match got {
                Ok(Message::Item(s)) => {
                    let index = self.count.fetch_add(1, Ordering::Relaxed);
                    return scored(py, index, s);
                }
                Ok(Message::Failed(e)) => return Err(to_py(py, e)),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        // Like a generator an exception left: the stream is over.
                        self.stop();
                        return Err(interrupt);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    *self.rx.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    let pending = self
                        .pending
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .take();
                    return Err(pending.unwrap_or_else(|| PyStopIteration::new_err(())));
                }
            }
        }
    }
}

impl PyScoreStream {
    /// Sets the cancel flag and lets go of the results: the scoring thread ends at its next video
    /// batch, or at its next hand-over, whichever comes first.
    fn stop(&self) {
        self.cancel.store(true, Ordering::SeqCst);
        *self.rx.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Starts the scoring thread for `items`.
pub fn start(
    model: &Bound<'_, PyViClip>,
    items: &Bound<'_, PyAny>,
    aesthetic: Option<&Bound<'_, PyAestheticScorer>>,
    s: &Settings<'_>,
    text_batch_size: Option<usize>,
) -> PyResult<PyScoreStream> {
    let py = model.py();
    enter(py)?;
    let inner = model.get().inner.clone();
    let scorer: Option<AestheticScorer> = aesthetic.map(|a| a.get().inner.clone());
    let clips = s.clip_options(py)?;
    let cancel = Arc::new(AtomicBool::new(false));
    let mut opts = StreamOptions::new()
        .with_clips(clips)
        .with_aesthetic(s.aesthetic_frames, s.reduce(py)?)
        .with_cancel(cancel.clone());
    if let Some(n) = text_batch_size {
        opts = opts.with_text_batch_size(n);
    }
    let iter = items.try_iter()?.into_any().unbind();
    let pending: Pending = Arc::new(Mutex::new(None));
    let feed = Feed {
        iter,
        pending: pending.clone(),
        index: 0,
    };
    let (tx, rx) = mpsc::sync_channel::<Message>(0);
    let thread = std::thread::Builder::new()
        .name("viclip-score-stream".into())
        .spawn(move || produce(inner, scorer, feed, opts, tx))
        .map_err(|e| invalid(py, format!("cannot start the scoring thread: {e}")))?;
    Ok(PyScoreStream {
        rx: Mutex::new(Some(rx)),
        pending,
        count: AtomicUsize::new(0),
        cancel,
        thread: Mutex::new(Some(thread)),
    })
}

/// The scoring thread: runs the core's streaming scorer and hands its results over one by one.
fn produce(
    model: viclip::ViClip,
    scorer: Option<AestheticScorer>,
    feed: Feed,
    opts: StreamOptions,
    tx: SyncSender<Message>,
) {
    match viclip::score_stream(&model, scorer.as_ref(), feed, &opts) {
        Err(e) => {
            let _ = tx.send(Message::Failed(e));
        }
        Ok(stream) => {
            for r in stream {
                if matches!(r, Err(viclip::Error::Interrupted)) {
                    return; // cancelled: the consumer is gone or has raised KeyboardInterrupt
                }
                if tx.send(Message::Item(r)).is_err() {
                    return; // the Python iterator is gone
                }
            }
        }
    }
}

/// The Python items as `(clip, caption)` pairs, pulled with the GIL on the pipeline's thread.
struct Feed {
    iter: Py<PyAny>,
    pending: Pending,
    index: usize,
}

impl Iterator for Feed {
    type Item = (ClipSource, String);

    fn next(&mut self) -> Option<(ClipSource, String)> {
        Python::attach(|py| {
            let stop = |e: PyErr| {
                *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                None
            };
            let item = match self.iter.bind(py).call_method0("__next__") {
                Ok(item) => item,
                Err(e) if e.is_instance_of::<PyStopIteration>(py) => return None,
                Err(e) => return stop(e),
            };
            let i = self.index;
            self.index += 1;
            match item_of(py, &item, i) {
                Ok(pair) => Some(pair),
                Err(e) => stop(e),
            }
        })
    }
}

/// `(source, caption)` or `(path, span, caption)`.
fn item_of(py: Python<'_>, item: &Bound<'_, PyAny>, i: usize) -> PyResult<(ClipSource, String)> {
    let bad = || {
        invalid(
            py,
            format!(
                "item {i}: expected (path, caption), (path, (start, end), caption) or (frames, caption)"
            ),
        )
    };
    let t = item.cast::<PyTuple>().map_err(|_| bad())?;
    match t.len() {
        2 => {
            let caption: String = t.get_item(1)?.extract().map_err(|_| bad())?;
            Ok((one_source(py, &t.get_item(0)?, i)?, caption))
        }
        3 => {
            let path: std::path::PathBuf = t.get_item(0)?.extract().map_err(|_| bad())?;
            let caption: String = t.get_item(2)?.extract().map_err(|_| bad())?;
            let spans = vec![span(py, &t.get_item(1)?)?];
            Ok((ClipSource::Video { path, spans }, caption))
        }
        _ => Err(bad()),
    }
}

fn scored(py: Python<'_>, index: usize, s: viclip::Result<ScoredClip>) -> PyResult<PyScored> {
    let mut out = PyScored {
        index,
        sim: None,
        aesthetic: None,
        aesthetic_error: None,
        info: None,
        error: None,
    };
    match s {
        Err(e) => out.error = Some(to_instance(py, e)),
        Ok(s) => {
            out.sim = Some(s.sim);
            out.info = Some(info_dict(py, &s.info)?);
            match s.aesthetic {
                Some(Ok(a)) => out.aesthetic = Some(a),
                Some(Err(e)) => out.aesthetic_error = Some(to_instance(py, e)),
                None => {}
            }
        }
    }
    Ok(out)
}
