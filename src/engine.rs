//! The clip engine: clip sources in, one result per clip out, in input order. Every face that turns
//! clips into embeddings or scores (`ViClip::embed_clip_sources`, the streaming scorer, the `score`
//! job, the evaluation, the CLI) runs on it, so decoding, batching, failure handling, ordering and
//! the aesthetic score from the decode's own frames exist once.
//!
//! How it runs: the sources are pulled lazily by the decode [`Pipeline`] (an endless iterator is
//! fine), which decodes and preprocesses on its workers while the model embeds the previous batch.
//! Each batch that comes back is unpacked here, the only place a [`ClipBatch`] is taken apart: its
//! videos `(B, T, 3, S, S)` go through the video tower, its failures keep their typed errors, the
//! aesthetic scorer (when asked) scores the clips' uniformly sampled frames from the same decode, and
//! the results are handed out one clip at a time in input order. A cancel flag is honoured between
//! batches.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::Tensor;

use crate::aesthetic::{uniform_indices, AestheticScorer, ClipScore, Reduce};
use crate::pipeline::{ClipBatch, ClipInfo, ClipSource, Pipeline, PipelineOptions};
use crate::preprocess::RgbFrame;
use crate::{Error, Result, ViClip};

/// How the engine scores aesthetics: the scorer, the frames per clip (`round(linspace(0, n - 1,
/// k))` of the clip's frames; InternVid: 4) and how their scores become the clip's (InternVid: max).
#[derive(Debug, Clone, Copy)]
pub struct AestheticRule<'a> {
    /// The CLIP image tower and LAION head.
    pub scorer: &'a AestheticScorer,
    /// Frames per clip (>= 1).
    pub frames: usize,
    /// How frame scores become the clip's.
    pub reduce: Reduce,
}

/// What the engine runs with besides the model and the sources.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineOptions<'a> {
    /// Decoding, preprocessing and batching (its `extra_frames` and `extra_frame_size` are set from
    /// [`EngineOptions::aesthetic`]).
    pub pipeline: PipelineOptions,
    /// Also score each clip's aesthetics from the same decode; `None`: no aesthetic score.
    pub aesthetic: Option<AestheticRule<'a>>,
    /// Set (e.g. by a signal handler) to stop between two batches: the engine then yields
    /// [`Error::Interrupted`] once and ends.
    pub cancel: Option<Arc<AtomicBool>>,
    /// The thread pool the aesthetic scorer's parallel parts run on; `None`: rayon's global pool.
    pub pool: Option<&'a rayon::ThreadPool>,
    /// Keep each clip's model input `(T, 3, S, S)` in its result ([`EmbeddedClip::pixels`]).
    pub keep_pixels: bool,
    /// Keep each clip's extra frames in its result ([`EmbeddedClip::frames`]): the aesthetic rule's
    /// frames when there is one, otherwise the pipeline's own `extra_frames`.
    pub keep_frames: bool,
}

impl<'a> EngineOptions<'a> {
    /// `pipeline` with no aesthetic score, no cancel flag and the global pool.
    pub fn new(pipeline: PipelineOptions) -> Self {
        EngineOptions {
            pipeline,
            aesthetic: None,
            cancel: None,
            pool: None,
            keep_pixels: false,
            keep_frames: false,
        }
    }

    /// Keeps each clip's model input and extra frames in its result (for decode-only runs).
    pub fn keeping_inputs(mut self) -> Self {
        self.keep_pixels = true;
        self.keep_frames = true;
        self
    }

    /// Also scores aesthetics with `rule`.
    pub fn with_aesthetic(mut self, rule: impl Into<Option<AestheticRule<'a>>>) -> Self {
        self.aesthetic = rule.into();
        self
    }

    /// Stops between batches once `flag` is set.
    pub fn with_cancel(mut self, flag: impl Into<Option<Arc<AtomicBool>>>) -> Self {
        self.cancel = flag.into();
        self
    }

    /// Runs the aesthetic scorer on `pool`.
    pub fn with_pool(mut self, pool: &'a rayon::ThreadPool) -> Self {
        self.pool = Some(pool);
        self
    }
}

/// One clip's result, in input order.
#[derive(Debug)]
pub struct ClipResult {
    /// Position of the clip among all clips of the sources (sources in order, spans in order).
    pub clip_index: usize,
    /// Position of the clip's source among the sources.
    pub source_index: usize,
    /// The video file or frame directory (for in-memory frames, their name).
    pub source: std::path::PathBuf,
    /// `span [HH:MM:SS.mmm, HH:MM:SS.mmm)`, `whole file` or `all frames`.
    pub span: String,
    /// The clip embedded, or why it could not be: a decode, span or sampling error of its own, or
    /// the model failing on the batch that held it.
    pub outcome: Result<EmbeddedClip>,
}

/// A clip through the engine's towers.
#[derive(Debug)]
pub struct EmbeddedClip {
    /// The L2-normalised video embedding `[E]`; empty when the engine runs without the video tower
    /// ([`ClipEngine::without_model`]).
    pub embedding: Vec<f32>,
    /// Source, span, sampled frames, colour conversion and decode warnings.
    pub info: ClipInfo,
    /// With an [`AestheticRule`]: the clip's aesthetic score with its frame scores and their
    /// positions among the clip's frames, or why it has none (fewer frames than the rule asks; the
    /// embedding is still valid). `None` without one.
    pub aesthetic: Option<Result<ClipScore>>,
    /// With [`EngineOptions::keep_pixels`]: the clip's model input `(T, 3, S, S)`.
    pub pixels: Option<Tensor>,
    /// With [`EngineOptions::keep_frames`]: the clip's extra frames; otherwise empty.
    pub frames: Vec<RgbFrame>,
}

/// The running engine: an iterator of one [`ClipResult`] per clip, in input order; `Err` only for
/// [`Error::Interrupted`], after which it ends.
pub struct ClipEngine<'a> {
    /// `None`: no video tower (decode and, with a rule, aesthetics only).
    model: Option<&'a ViClip>,
    aesthetic: Option<AestheticRule<'a>>,
    pool: Option<&'a rayon::ThreadPool>,
    cancel: Option<Arc<AtomicBool>>,
    keep_pixels: bool,
    keep_frames: bool,
    /// `None` once every batch has come or the run was cancelled.
    pipeline: Option<Pipeline>,
    ready: VecDeque<ClipResult>,
}

impl<'a> ClipEngine<'a> {
    /// Starts decoding `sources` in the background (pulled lazily, on the pipeline's thread).
    ///
    /// # Errors
    /// Bad pipeline options, an aesthetic rule of 0 frames, or no thread to decode on.
    pub fn start<I>(model: &'a ViClip, sources: I, opts: EngineOptions<'a>) -> Result<Self>
    where
        I: IntoIterator<Item = ClipSource>,
        I::IntoIter: Send + 'static,
    {
        Self::run(Some(model), sources, opts)
    }

    /// Starts decoding `sources` with no video tower: each clip's result has an empty embedding and,
    /// as `opts` asks, its aesthetic score, model input and extra frames. The clips' model input is
    /// still made by the pipeline (its `preprocess` decides which frames are decoded and reported).
    ///
    /// # Errors
    /// As [`ClipEngine::start`].
    pub fn without_model<I>(sources: I, opts: EngineOptions<'a>) -> Result<Self>
    where
        I: IntoIterator<Item = ClipSource>,
        I::IntoIter: Send + 'static,
    {
        Self::run(None, sources, opts)
    }

    fn run<I>(model: Option<&'a ViClip>, sources: I, opts: EngineOptions<'a>) -> Result<Self>
    where
        I: IntoIterator<Item = ClipSource>,
        I::IntoIter: Send + 'static,
    {
        let mut p = opts.pipeline;
        if let Some(a) = &opts.aesthetic {
            crate::limits::check_aesthetic_frames(a.frames)?;
            p.extra_frames = a.frames;
            // Extra frames come already as the scorer's crop (it leaves them unchanged), not at
            // native size, so an 8K clip never holds 8K frames.
            p.extra_frame_size = Some(a.scorer.image_size());
        } else if !opts.keep_frames {
            p.extra_frames = 0;
        }
        Ok(ClipEngine {
            model,
            aesthetic: opts.aesthetic,
            pool: opts.pool,
            cancel: opts.cancel,
            keep_pixels: opts.keep_pixels,
            keep_frames: opts.keep_frames,
            pipeline: Some(Pipeline::spawn_iter(sources, p)?),
            ready: VecDeque::new(),
        })
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_deref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Embeds and scores one decoded batch and queues its clips' results in input order.
    fn unpack(&mut self, mut batch: ClipBatch) {
        let n = batch.clips.len();
        let mut embeddings = self.embed(batch.videos.as_ref(), n).into_iter();
        let mut pixels: Vec<Option<Tensor>> = match (&batch.videos, self.keep_pixels) {
            (Some(v), true) => (0..n).map(|k| v.get(k).ok()).collect(),
            _ => vec![None; n],
        };
        let mut extra = std::mem::take(&mut batch.extra_frames);
        let mut scores = self.aesthetic.map(|rule| {
            let run = || score_clip_frames(rule, &batch.clips, &extra);
            let v = match self.pool {
                Some(pool) => pool.install(run),
                None => run(),
            };
            v.into_iter().map(Some).collect::<Vec<_>>()
        });
        if !self.keep_frames {
            extra.clear();
        }
        extra.resize_with(n, Vec::new);
        let mut results: Vec<ClipResult> = Vec::with_capacity(n + batch.failures.len());
        for f in batch.failures.drain(..) {
            results.push(ClipResult {
                clip_index: f.clip_index,
                source_index: f.source_index,
                source: f.source,
                span: f.span,
                outcome: Err(f.error),
            });
        }
        for (k, info) in batch.clips.drain(..).enumerate() {
            // Clips come in batch order, the k-th takes the k-th embedding.
            let embedding = embeddings.next().unwrap_or_else(|| Err(missing(&info)));
            let aesthetic = scores.as_mut().map(|s| {
                s.get_mut(k)
                    .and_then(Option::take)
                    .unwrap_or_else(|| Err(missing(&info)))
            });
            let (pixels, frames) = (pixels[k].take(), std::mem::take(&mut extra[k]));
            results.push(ClipResult {
                clip_index: info.clip_index,
                source_index: info.source_index,
                source: info.source.clone(),
                span: info.span.clone(),
                outcome: embedding.map(|embedding| EmbeddedClip {
                    embedding,
                    info,
                    aesthetic,
                    pixels,
                    frames,
                }),
            });
        }
        results.sort_by_key(|r| r.clip_index);
        self.ready.extend(results);
    }

    /// The video tower's embeddings of a batch's `n` clips `(n, T, 3, S, S)` → `n x [E]`, one
    /// result per clip (the tower failing fails every clip of the batch); without the tower, empty
    /// embeddings.
    fn embed(&self, videos: Option<&Tensor>, n: usize) -> Vec<Result<Vec<f32>>> {
        let Some(model) = self.model else {
            return (0..n).map(|_| Ok(Vec::new())).collect();
        };
        let rows = videos.map(|v| model.embed_videos(v).and_then(|e| e.to_vec2()));
        match rows {
            Some(Ok(rows)) if rows.len() == n => rows.into_iter().map(Ok).collect(),
            Some(Err(e)) => {
                let text = e.to_string();
                (0..n)
                    .map(|_| {
                        Err(Error::Candle(candle_core::Error::Msg(format!(
                            "the video tower failed on the batch holding this clip: {text}"
                        ))))
                    })
                    .collect()
            }
            // No videos for clips, or a row count that differs: reported per clip as missing.
            _ => Vec::new(),
        }
    }
}

impl Iterator for ClipEngine<'_> {
    type Item = Result<ClipResult>;

    fn next(&mut self) -> Option<Result<ClipResult>> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(Ok(r));
            }
            self.pipeline.as_ref()?;
            if self.cancelled() {
                self.pipeline = None;
                return Some(Err(Error::Interrupted));
            }
            match self.pipeline.as_mut().and_then(Iterator::next) {
                Some(batch) => self.unpack(batch),
                None => self.pipeline = None,
            }
        }
    }
}

/// A result that should have come back and did not (a bug, reported rather than panicking).
pub(crate) fn missing(info: &ClipInfo) -> Error {
    Error::Internal(format!(
        "{}, {}: a result of this clip is missing",
        info.source.display(),
        info.span
    ))
}

/// Aesthetic scores of a batch's clips from their uniformly sampled frames (`extra[k]` for clip
/// `k`), one per clip: the only place frames become aesthetic scores. A clip shorter than the rule's
/// frames comes with none (the pipeline hands over no frames then) and is
/// [`Error::TooFewFrames`] naming the clip and its length. A score's `frame_indices` are positions
/// among the clip's own frames (the rule's uniform sample of them).
fn score_clip_frames(
    rule: AestheticRule<'_>,
    clips: &[ClipInfo],
    extra: &[Vec<RgbFrame>],
) -> Vec<Result<ClipScore>> {
    let labels: Vec<String> = clips
        .iter()
        .map(|c| format!("{}, {}", c.source.display(), c.span))
        .collect();
    let empty: &[RgbFrame] = &[];
    let items: Vec<(&str, &[RgbFrame])> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), extra.get(i).map_or(empty, Vec::as_slice)))
        .collect();
    let mut scores = rule
        .scorer
        .score_clips(&items, rule.frames, rule.reduce)
        .into_iter();
    clips
        .iter()
        .zip(&labels)
        .map(|(c, label)| match scores.next() {
            Some(Err(Error::TooFewFrames { needed, .. })) => Err(Error::TooFewFrames {
                clip: label.clone(),
                needed,
                got: c.num_source_frames,
            }),
            Some(r) => r.map(|mut s| {
                let at = uniform_indices(c.num_source_frames, rule.frames);
                for i in &mut s.frame_indices {
                    *i = at.get(*i).copied().unwrap_or(*i);
                }
                s
            }),
            None => Err(missing(c)),
        })
        .collect()
}
