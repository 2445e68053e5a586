//! [`StreamOptions`], the settings of the streaming scorer.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::aesthetic::Reduce;
use crate::clips::ClipOptions;

/// Settings of [`score_stream`](super::score_stream): the clip options, the caption batch size and the aesthetic
/// sampling. Build with `default()` / [`StreamOptions::new`] and the `with_…` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StreamOptions {
    /// Sampling, resize, video batch size and decode threads ([`ClipOptions`]).
    pub clips: ClipOptions,
    /// Captions per text batch; `None`: the model's text batch size ([`crate::LoadOptions`]).
    pub text_batch_size: Option<usize>,
    /// Frames per clip the aesthetic scorer sees, `round(linspace(0, n - 1, k))` (InternVid: 4).
    pub aesthetic_frames: usize,
    /// How the frames' aesthetic scores become the clip's (InternVid: the maximum).
    pub aesthetic_reduce: Reduce,
    /// Set (e.g. by a signal handler, or when the consumer goes away) to stop between two video
    /// batches: the stream then yields [`Error::Interrupted`](crate::Error::Interrupted) once and
    /// ends, dropping the items not yet handed out. `None`: it runs to the end of the input.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            clips: ClipOptions::default(),
            text_batch_size: None,
            aesthetic_frames: 4,
            aesthetic_reduce: Reduce::Max,
            cancel: None,
        }
    }
}

impl StreamOptions {
    /// The defaults: [`ClipOptions::default`], the model's text batch size, InternVid's aesthetic
    /// rule (4 uniform frames, maximum).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the clip options.
    pub fn with_clips(mut self, clips: ClipOptions) -> Self {
        self.clips = clips;
        self
    }

    /// Sets the captions per text batch (>= 1).
    pub fn with_text_batch_size(mut self, captions: usize) -> Self {
        self.text_batch_size = Some(captions);
        self
    }

    /// Sets the aesthetic frames per clip (>= 1) and their reduction.
    pub fn with_aesthetic(mut self, frames: usize, reduce: Reduce) -> Self {
        self.aesthetic_frames = frames;
        self.aesthetic_reduce = reduce;
        self
    }

    /// Stops between video batches once `flag` is set.
    pub fn with_cancel(mut self, flag: impl Into<Option<Arc<AtomicBool>>>) -> Self {
        self.cancel = flag.into();
        self
    }
}
