//! Decoding and preprocessing on a rayon pool while the model consumes batches: a bounded channel of
//! `(B, T, 3, S, S)` batches, in input order, with bounded memory.
//!
//! Work is split into jobs (a video file with up to `batch_size` of its spans, decoded in one pass; a
//! frame directory; a raw frame stack). At most `2 x workers` jobs are outstanding (running or finished
//! but waiting for an earlier one), and at most `queue_batches` finished batches wait for the model, so
//! memory stays bounded however long the input is. A clip that fails is reported in the batch where it
//! would have been, with its error; the other clips go on.
//!
//! ```no_run
//! use viclip::pipeline::{ClipSource, Pipeline, PipelineOptions};
//! use viclip::preprocess::Preprocess;
//! # fn main() -> viclip::Result<()> {
//! let opts = PipelineOptions::new(Preprocess::new(8, 224));
//! let sources = vec![ClipSource::FramesDir("frames/clip0".into())];
//! for batch in Pipeline::spawn(sources, opts)? {
//!     if let Some(videos) = &batch.videos { /* model.embed_videos(videos)? */ let _ = videos; }
//!     for f in &batch.failures { eprintln!("clip {}: {}", f.clip_index, f.error); }
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use candle_core::{Device, Tensor};
use serde::Serialize;

use crate::preprocess::{ColorInfo, FrameSampling, Preprocess, ResizeFilter, RgbFrame};
#[cfg(feature = "video")]
use crate::video::{ClipSpan, DecodeOptions};
use crate::{Error, Result, Setting};

mod jobs;

/// Where clips come from. `#[non_exhaustive]`: the `Video` variant exists only with the `video`
/// feature, and other sources may come.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClipSource {
    /// Spans of a video file (no spans: the whole file), one clip per span; all spans of the file are
    /// decoded in one pass.
    #[cfg(feature = "video")]
    Video {
        /// The video file.
        path: PathBuf,
        /// The clips, in output order; empty for the whole file.
        spans: Vec<ClipSpan>,
    },
    /// A directory of frame images, one clip.
    FramesDir(PathBuf),
    /// Decoded frames in memory, one clip; `name` labels it in output rows.
    Frames {
        /// The clip's label in output rows and errors.
        name: String,
        /// The clip's frames, in order (any size; resized here).
        frames: Vec<RgbFrame>,
    },
}

/// Pipeline settings: [`PipelineOptions::new`] and the `with_…` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PipelineOptions {
    /// Frames per clip `T`, input size `S`, sampling and resize: batches are `(B, T, 3, S, S)`.
    pub preprocess: Preprocess,
    /// Clips per model batch, 1..=[`crate::limits::MAX_BATCH_SIZE`] (checked when the pipeline starts).
    pub batch_size: usize,
    /// Finished batches that may wait for the model before decoding pauses (>= 1).
    pub queue_batches: usize,
    /// Decode/preprocess threads (>= 1); `None`: one per core.
    pub workers: Option<usize>,
    /// Decoder settings; `threads` defaults to 1 here since files are decoded in parallel, and an
    /// unset `conversion` follows the resize filter (`RgbConversion::for_resize`).
    #[cfg(feature = "video")]
    pub decode: DecodeOptions,
    /// Also hand over this many uniformly sampled frames of each clip at native size
    /// ([`ClipBatch::extra_frames`], e.g. the aesthetic scorer's 4), from the same decode; 0 for none.
    pub extra_frames: usize,
    /// With `Some(n)`, video clips' extra frames come as CLIP's `Resize(n)` + `CenterCrop(n)` of the
    /// native frame (`n x n`, what the aesthetic scorer at image size `n` makes of it, and leaves
    /// unchanged) instead of at native size: set it to the scorer's image size to keep an 8K frame
    /// from being held at 200 MB. `None` (default): native size.
    pub extra_frame_size: Option<u32>,
}

impl PipelineOptions {
    /// `preprocess` with 8 clips per batch, 2 queued batches, one decode thread per core, no extra
    /// frames.
    pub fn new(preprocess: Preprocess) -> Self {
        PipelineOptions {
            preprocess,
            batch_size: 8,
            queue_batches: 2,
            workers: None,
            #[cfg(feature = "video")]
            decode: DecodeOptions::default().with_threads(1),
            extra_frames: 0,
            extra_frame_size: None,
        }
    }

    /// Clips per model batch (>= 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Finished batches that may wait for the model (>= 1).
    pub fn with_queue_batches(mut self, queue_batches: usize) -> Self {
        self.queue_batches = queue_batches;
        self
    }

    /// Decode/preprocess threads (`None`: one per core).
    pub fn with_workers(mut self, workers: impl Into<Option<usize>>) -> Self {
        self.workers = workers.into();
        self
    }

    /// Decoder settings.
    #[cfg(feature = "video")]
    pub fn with_decode(mut self, decode: DecodeOptions) -> Self {
        self.decode = decode;
        self
    }

    /// Uniformly sampled native-size frames handed over per clip (0 for none).
    pub fn with_extra_frames(mut self, extra_frames: usize) -> Self {
        self.extra_frames = extra_frames;
        self
    }

    /// Extra frames of video clips as CLIP's `n x n` resize and centre crop (`None`: native size).
    pub fn with_extra_frame_size(mut self, n: impl Into<Option<u32>>) -> Self {
        self.extra_frame_size = n.into();
        self
    }
}

/// What an output row records about its clip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipInfo {
    /// Position of the clip among all clips of the run (sources in order, spans in order).
    pub clip_index: usize,
    /// Position of the clip's source among the sources of the run.
    pub source_index: usize,
    /// The video file or frame directory (for in-memory frames, their name).
    pub source: PathBuf,
    /// `span [HH:MM:SS.mmm, HH:MM:SS.mmm)`, `whole file` or `all frames`.
    pub span: String,
    /// The frame sampling the clip was embedded with.
    pub sampling: FrameSampling,
    /// The resize filter the clip was embedded with.
    pub resize: ResizeFilter,
    /// Frames the clip had before sampling.
    pub num_source_frames: usize,
    /// Sampled frame indices among them.
    pub frame_indices: Vec<usize>,
    /// Presentation times of the sampled frames in seconds (video sources only).
    pub frame_times: Option<Vec<f64>>,
    /// Colour matrix, range and rotation the frames were converted with (video sources only).
    pub color: Option<ColorInfo>,
    /// Set when the clip decoded but not cleanly, e.g. `"12.5% of the decoded frames were damaged or
    /// undecodable (bit rot?)"`: the embedding may be off.
    pub warning: Option<String>,
}

/// A clip that could not be turned into model input.
#[derive(Debug)]
pub struct ClipFailure {
    /// As [`ClipInfo::clip_index`].
    pub clip_index: usize,
    /// As [`ClipInfo::source_index`].
    pub source_index: usize,
    /// As [`ClipInfo::source`].
    pub source: PathBuf,
    /// As [`ClipInfo::span`].
    pub span: String,
    /// Why: [`Error::Decode`], [`Error::Span`], [`Error::Sampling`], ...
    pub error: Error,
}

/// One model batch.
#[derive(Debug)]
pub struct ClipBatch {
    /// `(B, T, 3, S, S)` f32 on the CPU; `None` when every clip of this stretch failed.
    pub videos: Option<Tensor>,
    /// One entry per row of `videos`, same order.
    pub clips: Vec<ClipInfo>,
    /// Clips that failed, in input order, after the previous batch's clips and before the next
    /// batch's (a batch spans at most `max(4 x batch_size, 64)` clips, so a long run of failures
    /// comes in batches without `videos`).
    pub failures: Vec<ClipFailure>,
    /// With [`PipelineOptions::extra_frames`] `k > 0`: per row of `clips`, its `k` uniformly sampled
    /// frames, native-size or as [`PipelineOptions::extra_frame_size`] says (empty for a clip with
    /// fewer than `k` frames); otherwise empty.
    pub extra_frames: Vec<Vec<RgbFrame>>,
}

/// A clip ready for the model: its row, its pixels, its extra frames.
type Ready = (ClipInfo, Vec<f32>, Vec<RgbFrame>);

/// Boxed failure: `Error` is large and outcomes sit in queues.
type Outcome = std::result::Result<Ready, Box<ClipFailure>>;

impl ClipFailure {
    fn new(info: ClipInfo, error: Error) -> Box<Self> {
        Box::new(ClipFailure {
            clip_index: info.clip_index,
            source_index: info.source_index,
            source: info.source,
            span: info.span,
            error,
        })
    }
}

/// The running pipeline; iterate it for batches in input order.
pub struct Pipeline {
    rx: mpsc::Receiver<ClipBatch>,
    _producer: JoinHandle<()>,
}

impl Pipeline {
    /// Starts decoding in the background. Fails only on bad options or when no thread pool can be built.
    pub fn spawn(sources: Vec<ClipSource>, opts: PipelineOptions) -> Result<Self> {
        Self::spawn_iter(sources, opts)
    }

    /// [`spawn`](Self::spawn) over sources pulled one at a time, on the pipeline's thread, only as far
    /// as decoding has got: at most `2 x workers` jobs ahead of the model plus `queue_batches` finished
    /// batches, so an endless iterator is fine. Clip numbers ([`ClipInfo::clip_index`]) count clips in
    /// the order the iterator yields their sources.
    pub fn spawn_iter<I>(sources: I, opts: PipelineOptions) -> Result<Self>
    where
        I: IntoIterator<Item = ClipSource>,
        I::IntoIter: Send + 'static,
    {
        Error::positive(Setting::VideoBatchSize, Some(opts.batch_size))?;
        crate::limits::check_batch_size(opts.batch_size)?;
        Error::positive(Setting::QueueBatches, Some(opts.queue_batches))?;
        // A clip shape beyond the bounds is the run's error, not one per clip after decoding.
        opts.preprocess.check()?;
        let workers = opts.workers.map(crate::limits::check_workers).transpose()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers.unwrap_or(0))
            .thread_name(|i| format!("viclip-decode-{i}"))
            .build()
            .map_err(|e| Error::Resource {
                what: match workers {
                    Some(n) => format!("{n} decode threads"),
                    None => "one decode thread per core".into(),
                },
                msg: format!("{e}; use fewer decode threads"),
            })?;
        let jobs = jobs::Split::new(sources.into_iter(), opts.batch_size);
        let (tx, rx) = mpsc::sync_channel(opts.queue_batches);
        let producer = std::thread::Builder::new()
            .name("viclip-pipeline".into())
            .spawn(move || produce(jobs, &opts, &pool, &tx))
            .map_err(|e| Error::InvalidInput(format!("cannot start the pipeline thread: {e}")))?;
        Ok(Pipeline {
            rx,
            _producer: producer,
        })
    }
}

impl Iterator for Pipeline {
    type Item = ClipBatch;
    fn next(&mut self) -> Option<ClipBatch> {
        self.rx.recv().ok()
    }
}

/// Runs the whole pipeline and gathers every clip into one batch: convenient for a few clips. It
/// runs on the [clip engine](crate::engine::ClipEngine) without a model (which takes the batches
/// apart) and stacks the clips' model inputs back into `videos` `(N, T, 3, S, S)`.
pub fn run_all(sources: Vec<ClipSource>, opts: PipelineOptions) -> Result<ClipBatch> {
    use crate::engine::{ClipEngine, EngineOptions};
    let mut all = ClipBatch {
        videos: None,
        clips: Vec::new(),
        failures: Vec::new(),
        extra_frames: Vec::new(),
    };
    let mut tensors = Vec::new();
    let with_extra = opts.extra_frames > 0;
    for r in ClipEngine::without_model(sources, EngineOptions::new(opts).keeping_inputs())? {
        let r = r?;
        match r.outcome {
            Ok(c) => {
                let pixels = c
                    .pixels
                    .ok_or_else(|| Error::Internal(format!("{}: no model input kept", r.span)))?;
                tensors.push(pixels);
                all.clips.push(c.info);
                if with_extra {
                    all.extra_frames.push(c.frames);
                }
            }
            Err(error) => all.failures.push(ClipFailure {
                clip_index: r.clip_index,
                source_index: r.source_index,
                source: r.source,
                span: r.span,
                error,
            }),
        }
    }
    if !tensors.is_empty() {
        all.videos = Some(Tensor::stack(&tensors, 0)?);
    }
    Ok(all)
}

/// The producer thread: keeps up to `2 x workers` jobs outstanding, reorders results, emits batches.
///
/// A batch is `batch_size` good clips with the failures among them, or, at most, [`max_span`] clips
/// in all (so a long run of bad inputs does not pile up waiting for good ones). Where batches end
/// depends only on the sequence of outcomes, never on when jobs finish: reruns batch alike.
fn produce(
    mut jobs: impl Iterator<Item = jobs::Numbered>,
    opts: &PipelineOptions,
    pool: &rayon::ThreadPool,
    tx: &mpsc::SyncSender<ClipBatch>,
) {
    let limit = 2 * pool.current_num_threads().max(1);
    let (done_tx, done_rx) = mpsc::channel::<(usize, Vec<Outcome>)>();
    let (mut spawned, mut next, mut exhausted) = (0usize, 0usize, false);
    let mut ready: BTreeMap<usize, Vec<Outcome>> = BTreeMap::new();
    let mut pending: VecDeque<Outcome> = VecDeque::new();
    loop {
        while !exhausted && spawned - next < limit {
            match jobs.next() {
                Some(job) => {
                    let (done_tx, opts, k) = (done_tx.clone(), opts.clone(), spawned);
                    pool.spawn(move || {
                        let _ = done_tx.send((k, jobs::run(job, &opts)));
                    });
                    spawned += 1;
                }
                None => exhausted = true,
            }
        }
        if next == spawned {
            break; // every job is in `pending` and no more will come
        }
        let Ok((k, out)) = done_rx.recv() else { return };
        ready.insert(k, out);
        while let Some(out) = ready.remove(&next) {
            pending.extend(out);
            next += 1;
        }
        while batch_ready(&pending, opts) {
            if tx.send(take_batch(&mut pending, opts)).is_err() {
                return; // the consumer is gone
            }
        }
    }
    while !pending.is_empty() {
        if tx.send(take_batch(&mut pending, opts)).is_err() {
            return;
        }
    }
}

/// Most clips (good and failed) one batch spans: `max(4 x batch_size, 64)`.
fn max_span(opts: &PipelineOptions) -> usize {
    opts.batch_size.saturating_mul(4).max(64)
}

/// Whether the front of `pending` holds a whole batch: `batch_size` good clips within its first
/// [`max_span`] clips, or `max_span` clips.
fn batch_ready(pending: &VecDeque<Outcome>, opts: &PipelineOptions) -> bool {
    let span = max_span(opts);
    pending.len() >= span || pending.iter().filter(|o| o.is_ok()).count() >= opts.batch_size
}

/// Pops up to `batch_size` good clips (and the failures among them), at most [`max_span`] clips in
/// all, off the front of `pending`.
fn take_batch(pending: &mut VecDeque<Outcome>, opts: &PipelineOptions) -> ClipBatch {
    let mut clips = Vec::new();
    let mut failures = Vec::new();
    let mut pixels = Vec::new();
    let mut extra_frames = Vec::new();
    let span = max_span(opts);
    while clips.len() < opts.batch_size && clips.len() + failures.len() < span {
        match pending.pop_front() {
            Some(Ok((info, px, extra))) => {
                clips.push(info);
                pixels.extend_from_slice(&px);
                if opts.extra_frames > 0 {
                    extra_frames.push(extra);
                }
            }
            Some(Err(f)) => failures.push(*f),
            None => break,
        }
    }
    let p = &opts.preprocess;
    let dims = (clips.len(), p.frames_per_clip(), 3, p.size, p.size);
    let videos = match Tensor::from_vec(pixels, dims, &Device::Cpu) {
        Ok(t) if !clips.is_empty() => Some(t),
        Ok(_) => None,
        Err(e) => {
            // Cannot happen (every clip has F x 3 x S x S values); reported rather than panicking.
            for c in clips.drain(..) {
                let msg = format!("cannot build the batch tensor: {e}");
                failures.push(*ClipFailure::new(c, Error::InvalidInput(msg)));
            }
            extra_frames.clear();
            None
        }
    };
    ClipBatch {
        videos,
        clips,
        failures,
        extra_frames,
    }
}
