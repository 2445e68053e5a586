//! The streaming scorer: `(clip, caption)` items in, one score per item out, lazily and in input
//! order, however long the input is. The library face of `viclip score`.
//!
//! For each item it gives the CLIP-SIM (the dot product of the L2-normalised video and caption
//! embeddings; InternVid's own `UMT_Score` column was computed with another model, see
//! docs/reference/datasets.md), the clip's frames and colour
//! information and, with an [`AestheticScorer`], its aesthetic score from the same decode (the
//! engine's [`AestheticRule`]). An item that fails
//! (missing file, span out of range, too few frames, an empty caption) yields its typed error in its place; the others
//! go on.
//!
//! How it runs: on the [clip engine](crate::engine::ClipEngine), which reads the item iterator only
//! as far as decoding has got (a few jobs ahead plus the queued decoded batches), so it is never
//! collected and decoding never stalls at a chunk edge. Videos go to the model in batches of
//! the model's batch size as they are decoded; captions wait until a text batch (the model's text
//! batch size) is full or the front item needs its score. Memory is bounded by those batches, not by
//! the length of the input.
//!
//! ```no_run
//! # #[cfg(feature = "video")]
//! # fn main() -> viclip::Result<()> {
//! use viclip::pipeline::ClipSource;
//! use viclip::stream::{score_stream, StreamOptions};
//! use viclip::video::ClipSpan;
//! use viclip::{LoadOptions, ViClip, ViClipConfig};
//!
//! let model = ViClip::from_files("ViClip-InternVid-10M-FLT.pth", &ViClipConfig::viclip_l14(), LoadOptions::default())?;
//! // Any iterator: lines of a file, rows of a table, a channel. It must be `Send + 'static`.
//! let items = (0..1000).map(|i| {
//!     let clip = ClipSource::Video {
//!         path: format!("videos/{i}.mp4").into(),
//!         spans: vec![ClipSpan::from_secs(0.0, 4.0)],
//!     };
//!     (clip, format!("caption of video {i}"))
//! });
//! for (i, scored) in score_stream(&model, None, items, &StreamOptions::default())?.enumerate() {
//!     match scored {
//!         Ok(s) => println!("{i}: clip-sim {:.4}, frames {:?}", s.sim, s.info.frame_indices),
//!         Err(e) => eprintln!("{i}: {e}"),
//!     }
//! }
//! # Ok(()) }
//! # #[cfg(not(feature = "video"))]
//! # fn main() {}
//! ```

use std::collections::VecDeque;
use std::sync::mpsc;

use crate::aesthetic::AestheticScorer;
use crate::clips::model_batch_sizes;
use crate::engine::{missing, AestheticRule, ClipEngine, ClipResult, EngineOptions};
use crate::pipeline::{ClipInfo, ClipSource};
use crate::{Error, Result, Setting, ViClip};

mod options;

pub use options::StreamOptions;

/// One item's scores.
#[derive(Debug)]
pub struct ScoredClip {
    /// CLIP-SIM: the dot product of the unit video embedding `[E]` and unit caption embedding `[E]`
    /// (their cosine, in `[-1, 1]`).
    pub sim: f32,
    /// With an aesthetic scorer: the clip's aesthetic score, or why it has none (e.g. fewer frames
    /// than [`StreamOptions::aesthetic_frames`]; the CLIP-SIM is still valid). `None` without one.
    pub aesthetic: Option<Result<f32>>,
    /// The clip's source, span, sampled frames, colour conversion and any decode warning;
    /// `clip_index` and `source_index` are the item's position in the input.
    pub info: ClipInfo,
}

/// What the pipeline thread learnt of an item before its clip went to decoding: its caption, or
/// why it cannot be scored (its clip then goes through as an empty placeholder, so every item holds
/// exactly one pipeline clip and memory stays bounded by the pipeline's).
type Meta = Result<String>;

/// An item between decoding and its result.
enum Slot {
    Done(Result<ScoredClip>),
    /// Embedded video, caption still to embed.
    Text {
        caption: String,
        video: Vec<f32>,
        aesthetic: Option<Result<f32>>,
        info: ClipInfo,
    },
}

/// Scores `(clip, caption)` items lazily, in input order; see the [module docs](self).
///
/// A clip is one [`ClipSource`]: a video file with one span (none: the whole file), a frame
/// directory, or frames in memory; a video source with several spans is that item's error. The
/// iterator runs on the pipeline's thread, hence `Send + 'static`.
///
/// # Errors
/// Only bad options ([`StreamOptions`] values of 0) or no thread to decode on fail the call; every
/// item's own problem is that item's `Err`. Once [`StreamOptions::cancel`] is set, the stream
/// yields [`Error::Interrupted`] at the next video batch and ends.
///
/// # Shapes
/// Per item: video `[T, 3, S, S]` → `[E]`, caption → `[E]`, their dot product → one `f32`.
pub fn score_stream<'a, I>(
    model: &'a ViClip,
    aesthetic: Option<&'a AestheticScorer>,
    items: I,
    opts: &StreamOptions,
) -> Result<ScoreStream<'a>>
where
    I: IntoIterator<Item = (ClipSource, String)>,
    I::IntoIter: Send + 'static,
{
    Error::positive(Setting::TextBatchSize, opts.text_batch_size)?;
    crate::limits::check_aesthetic_frames(opts.aesthetic_frames)?;
    let popts = opts.clips.pipeline(model)?;
    let video_batch = popts.batch_size;
    let text_batch = opts.text_batch_size.unwrap_or(model_batch_sizes(model).1);
    let rule = aesthetic.map(|scorer| AestheticRule {
        scorer,
        frames: opts.aesthetic_frames,
        reduce: opts.aesthetic_reduce,
    });
    let (meta_tx, metas) = mpsc::channel::<Meta>();
    let sources = items
        .into_iter()
        .enumerate()
        .map(move |(i, (clip, caption))| {
            let (meta, clip) =
                match one_clip(i, clip).and_then(|c| checked_caption(i, caption).map(|t| (t, c))) {
                    Ok((caption, clip)) => (Ok(caption), clip),
                    Err(e) => (Err(e), placeholder(i)),
                };
            // The receiver outlives every batch; if it is gone nobody wants the result.
            let _ = meta_tx.send(meta);
            clip
        });
    let engine = ClipEngine::start(
        model,
        sources,
        EngineOptions::new(popts)
            .with_aesthetic(rule)
            .with_cancel(opts.cancel.clone()),
    )?;
    Ok(ScoreStream {
        model,
        engine: Some(engine),
        metas,
        slots: VecDeque::new(),
        awaiting_text: 0,
        text_batch,
        // Room for a full text batch behind failed items, and for the batch being unpacked.
        max_slots: text_batch.saturating_mul(2).saturating_add(video_batch),
        next_item: 0,
    })
}

/// The running scorer: an iterator of one result per input item, in input order.
pub struct ScoreStream<'a> {
    model: &'a ViClip,
    /// `None` once every clip has come.
    engine: Option<ClipEngine<'a>>,
    metas: mpsc::Receiver<Meta>,
    slots: VecDeque<Slot>,
    /// `Slot::Text` entries in `slots`.
    awaiting_text: usize,
    text_batch: usize,
    max_slots: usize,
    /// Input position of the next item to get a slot.
    next_item: usize,
}

impl Iterator for ScoreStream<'_> {
    type Item = Result<ScoredClip>;

    fn next(&mut self) -> Option<Result<ScoredClip>> {
        loop {
            if let Some(Slot::Done(_)) = self.slots.front() {
                if let Some(Slot::Done(r)) = self.slots.pop_front() {
                    return Some(r);
                }
            }
            let room = self.awaiting_text < self.text_batch && self.slots.len() < self.max_slots;
            if self.slots.is_empty() || (room && self.engine.is_some()) {
                match self.engine.as_mut().map(Iterator::next) {
                    Some(Some(Ok(clip))) => self.take(clip),
                    // Cancelled: the engine's only error. The items not yet handed out are
                    // dropped, so with no engine and no slots the next call ends the stream.
                    Some(Some(Err(e))) => {
                        self.engine = None;
                        self.slots.clear();
                        self.awaiting_text = 0;
                        return Some(Err(e));
                    }
                    Some(None) => {
                        self.engine = None;
                        self.drain_metas();
                    }
                    None if self.slots.is_empty() => return None,
                    None => self.embed_captions(),
                }
            } else {
                // The front item waits for its caption: a full text batch, or nothing more to add.
                self.embed_captions();
            }
        }
    }
}

impl ScoreStream<'_> {
    /// Gives a clip's result its item's slot: failures in place, embedded clips waiting for their
    /// caption's embedding.
    fn take(&mut self, clip: ClipResult) {
        let meta = self.metas.try_recv().unwrap_or_else(|_| {
            Err(Error::Internal(format!(
                "item {}: the clip came back without its caption",
                self.next_item
            )))
        });
        self.next_item += 1;
        let slot = match (meta, clip.outcome) {
            (Err(e), _) | (Ok(_), Err(e)) => Slot::Done(Err(e)),
            (Ok(caption), Ok(c)) => {
                self.awaiting_text += 1;
                Slot::Text {
                    caption,
                    video: c.embedding,
                    aesthetic: c.aesthetic.map(|a| a.map(|s| s.score)),
                    info: c.info,
                }
            }
        };
        self.slots.push_back(slot);
    }

    /// Once the pipeline has ended: the items it never returned (its thread stopped, e.g. the item
    /// iterator panicked) get an error each.
    fn drain_metas(&mut self) {
        while let Ok(meta) = self.metas.try_recv() {
            let i = self.next_item;
            self.next_item += 1;
            let e = meta.err().unwrap_or_else(|| {
                Error::InvalidInput(format!(
                    "item {i}: the pipeline stopped before this clip was decoded (did the item \
                     iterator panic?)"
                ))
            });
            self.slots.push_back(Slot::Done(Err(e)));
        }
    }

    /// Embeds the captions of up to `text_batch` waiting items, oldest first, and finishes them.
    fn embed_captions(&mut self) {
        let waiting: Vec<usize> = (0..self.slots.len())
            .filter(|&i| matches!(self.slots[i], Slot::Text { .. }))
            .take(self.text_batch)
            .collect();
        let captions: Vec<&str> = waiting
            .iter()
            .filter_map(|&i| match &self.slots[i] {
                Slot::Text { caption, .. } => Some(caption.as_str()),
                Slot::Done(_) => None,
            })
            .collect();
        let texts = self
            .model
            .embed_texts(&captions)
            .and_then(|e| e.to_vec2())
            .map_err(|e| e.to_string());
        for (n, &i) in waiting.iter().enumerate() {
            let placeholder = Slot::Done(Err(Error::InvalidInput(String::new())));
            let Slot::Text {
                video,
                aesthetic,
                info,
                ..
            } = std::mem::replace(&mut self.slots[i], placeholder)
            else {
                continue;
            };
            self.awaiting_text -= 1;
            let r = match &texts {
                Ok(t) => match t.get(n) {
                    Some(t) => Ok(ScoredClip {
                        sim: crate::clip_sim(&video, t),
                        aesthetic,
                        info,
                    }),
                    None => Err(missing(&info)),
                },
                Err(e) => Err(model_error("text", e)),
            };
            self.slots[i] = Slot::Done(r);
        }
    }
}

/// Item `i`'s clip as one pipeline source; several spans of a video are the item's error.
#[cfg_attr(not(feature = "video"), allow(unused_variables))]
fn one_clip(i: usize, clip: ClipSource) -> Result<ClipSource> {
    match clip {
        #[cfg(feature = "video")]
        ClipSource::Video { path, spans } if spans.len() > 1 => Err(Error::InvalidInput(format!(
            "item {i}: {} gives {} spans, but an item is one clip scored against one caption; give \
             one span (or none for the whole file) per item",
            path.display(),
            spans.len()
        ))),
        c => Ok(c),
    }
}

/// Item `i`'s caption. An empty (or blank) one is the item's error, as it is a row's `bad_caption`
/// in the `score` job: a similarity with no text says nothing about the clip.
fn checked_caption(i: usize, caption: String) -> Result<String> {
    if caption.trim().is_empty() {
        return Err(Error::InvalidInput(format!(
            "item {i}: empty caption; CLIP-SIM compares the clip with a caption, so give one"
        )));
    }
    Ok(caption)
}

/// What goes to the pipeline for an item that already failed: nothing to decode.
fn placeholder(i: usize) -> ClipSource {
    ClipSource::Frames {
        name: format!("item {i}"),
        frames: Vec::new(),
    }
}

/// The error of a batch the model failed on, for each of its items.
fn model_error(tower: &str, e: &str) -> Error {
    Error::Candle(candle_core::Error::Msg(format!(
        "the {tower} tower failed on the batch holding this item: {e}"
    )))
}
