//! Clips in, embeddings out, in one call: a video file and its clip spans (or any [`ClipSource`]s)
//! become one L2-normalised embedding per clip, or that clip's typed error, in clip order.
//!
//! It runs on the [clip engine](crate::engine::ClipEngine): decoding and preprocessing run on the decode
//! pipeline (a pool of decode threads), so the next batch
//! is being decoded while the model embeds the current one. A clip that cannot be embedded does not
//! stop the others: a missing or corrupt file is an [`Error::Decode`], a span outside the video an
//! [`Error::Span`], a clip with too few frames for the sampling an [`Error::Sampling`].
//!
//! ```no_run
//! # #[cfg(feature = "video")]
//! # fn main() -> viclip::Result<()> {
//! use viclip::video::ClipSpan;
//! use viclip::{ClipOptions, LoadOptions, ViClip, ViClipConfig};
//!
//! let model = ViClip::from_files("ViClip-InternVid-10M-FLT.pth", &ViClipConfig::viclip_l14(), LoadOptions::default())?;
//! let spans = [ClipSpan::from_secs(0.0, 4.0), ClipSpan::parse("00:01:10", Some("00:01:14.5"))?];
//! let opts = ClipOptions::default().with_batch_size(4);
//! for (span, clip) in spans.iter().zip(model.embed_video_clips("video.mp4", &spans, &opts)?) {
//!     match clip {
//!         // `embedding`: E = 768 floats, unit length; `info`: the frames it saw, their colour.
//!         Ok(c) => println!("{span}: frames {:?}, {} dims", c.info.frame_indices, c.embedding.len()),
//!         Err(e) => eprintln!("{span}: {e}"),
//!     }
//! }
//! # Ok(()) }
//! # #[cfg(not(feature = "video"))]
//! # fn main() {}
//! ```

#[cfg(feature = "video")]
use std::path::Path;

use crate::engine::{ClipEngine, EngineOptions};
use crate::pipeline::{ClipInfo, ClipSource, PipelineOptions};
use crate::preprocess::{FrameSampling, Preprocess, ResizeFilter};
#[cfg(feature = "video")]
use crate::video::{ClipSpan, DecodeOptions};
use crate::{Error, Result, ViClip};

/// How clips are sampled, resized and batched. The model fixes `T` frames of `S x S` pixels; this
/// says which frames and how they are resized, and how the work is spread.
///
/// Build it with [`ClipOptions::new`] (or `default()`) and the `with_…` methods; unset (`None`)
/// settings follow the model or the machine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClipOptions {
    /// Which `T` frames of each clip the model sees (default: `middle`, the evaluation pipeline's).
    pub sampling: FrameSampling,
    /// How frames are resized to `S x S` (default: bicubic, the evaluation pipeline's).
    pub resize: ResizeFilter,
    /// Clips per model batch; `None`: the model's video batch size ([`crate::LoadOptions`]).
    pub batch_size: Option<usize>,
    /// Decode threads; `None`: one per core.
    pub workers: Option<usize>,
    /// Decoded batches that may wait for the model before decoding pauses; `None`: 2.
    pub queue_batches: Option<usize>,
    /// Decoder settings (threads per file, colour conversion); the default decodes each file on one
    /// thread, files in parallel, converting colours as the resize filter's reference reader does.
    #[cfg(feature = "video")]
    pub decode: DecodeOptions,
}

// Not derived: the decoder default differs (one thread per file, files in parallel) and exists only
// with `video`.
#[cfg_attr(not(feature = "video"), allow(clippy::derivable_impls))]
impl Default for ClipOptions {
    fn default() -> Self {
        ClipOptions {
            sampling: FrameSampling::default(),
            resize: ResizeFilter::default(),
            batch_size: None,
            workers: None,
            queue_batches: None,
            #[cfg(feature = "video")]
            decode: DecodeOptions::default().with_threads(1),
        }
    }
}

impl ClipOptions {
    /// The defaults: `middle` sampling, bicubic resize, the model's batch size, one thread per core.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the frame sampling ([`FrameSampling::Demo`] reproduces the demo's frames).
    pub fn with_sampling(mut self, sampling: FrameSampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// Sets the resize filter ([`ResizeFilter::Cv2Linear`] reproduces the demo's pixels).
    pub fn with_resize(mut self, resize: ResizeFilter) -> Self {
        self.resize = resize;
        self
    }

    /// Sets the clips per model batch (>= 1).
    pub fn with_batch_size(mut self, clips: usize) -> Self {
        self.batch_size = Some(clips);
        self
    }

    /// Sets the number of decode threads (>= 1).
    pub fn with_workers(mut self, threads: usize) -> Self {
        self.workers = Some(threads);
        self
    }

    /// Sets how many decoded batches may wait for the model (>= 1).
    pub fn with_queue_batches(mut self, batches: usize) -> Self {
        self.queue_batches = Some(batches);
        self
    }

    /// Sets the decoder settings.
    #[cfg(feature = "video")]
    pub fn with_decode(mut self, decode: DecodeOptions) -> Self {
        self.decode = decode;
        self
    }

    /// The preprocessing these options give a model of `cfg`: its `T` frames of `S x S`, this
    /// sampling and resize.
    pub fn preprocess(&self, cfg: &crate::ViClipConfig) -> Preprocess {
        Preprocess::for_config(cfg)
            .with_sampling(self.sampling)
            .with_resize(self.resize)
    }

    /// The decode pipeline's options for `model`: its preprocessing, and unset counts resolved (the
    /// model's video batch size, one decode thread per core, 2 queued batches).
    ///
    /// # Errors
    /// A count set to 0 ([`Error::Setting`]); a sampling whose frames per clip the model does not
    /// take (`uniform(k)` with `k` neither its `T` nor 1: [`Error::InvalidInput`]).
    pub fn pipeline(&self, model: &ViClip) -> Result<PipelineOptions> {
        use crate::Setting;
        let positive = Error::positive;
        let preprocess = self.preprocess(model.config());
        let (f, t) = (
            preprocess.frames_per_clip(),
            model.config().vision.num_frames,
        );
        if f != t && f != 1 {
            // Caught here, once, rather than as every clip's model error after decoding.
            return Err(Error::InvalidInput(format!(
                "{} sampling gives {f} frames per clip, but the model takes {t} (or 1); use \
                 uniform({t}), middle or demo",
                self.sampling
            )));
        }
        let mut p = PipelineOptions::new(preprocess);
        p.batch_size = positive(Setting::VideoBatchSize, self.batch_size)?
            .unwrap_or(model_batch_sizes(model).0);
        p.workers = positive(Setting::DecodeThreads, self.workers)?;
        p.queue_batches = positive(Setting::QueueBatches, self.queue_batches)?.unwrap_or(2);
        #[cfg(feature = "video")]
        {
            p.decode = self.decode.clone();
        }
        Ok(p)
    }
}

/// The model's (video, text) batch sizes, at least 1 each, as resolved when it was loaded.
pub(crate) fn model_batch_sizes(model: &ViClip) -> (usize, usize) {
    (model.batch_size(), model.text_batch_size())
}

/// One clip's embedding and what it was computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipEmbedding {
    /// The L2-normalised video embedding (`get_vid_features`), `E` floats (768 for ViCLIP-L/14).
    pub embedding: Vec<f32>,
    /// The clip's source, span, sampled frame indices and times, colour conversion and any decode
    /// warning.
    pub info: ClipInfo,
}

impl ViClip {
    /// Embeds clips `spans` of the video file `path` (no spans: the whole file as one clip), decoding
    /// the file once for all of them; one result per clip, in span order.
    ///
    /// # Errors
    /// The outer `Err` is for the run as a whole: invalid options, no thread to decode on, or the
    /// model failing on a batch. Each clip's own problem is its inner `Err` ([`Error::Decode`],
    /// [`Error::Span`], [`Error::Sampling`]); the other clips are still embedded.
    ///
    /// # Shapes
    /// `spans.len()` clips (1 when empty) → as many `[E]` embeddings.
    #[cfg(feature = "video")]
    pub fn embed_video_clips(
        &self,
        path: impl AsRef<Path>,
        spans: &[ClipSpan],
        opts: &ClipOptions,
    ) -> Result<Vec<Result<ClipEmbedding>>> {
        let source = ClipSource::Video {
            path: path.as_ref().to_path_buf(),
            spans: spans.to_vec(),
        };
        self.embed_clip_sources(vec![source], opts)
    }

    /// `embed_video_clips` over any clip sources (video files with their
    /// spans, frame directories, frames in memory): one result per clip, sources in order and each
    /// source's spans in order.
    ///
    /// # Shapes
    /// `N` clips → `N` results, each an `[E]` embedding.
    pub fn embed_clip_sources(
        &self,
        sources: Vec<ClipSource>,
        opts: &ClipOptions,
    ) -> Result<Vec<Result<ClipEmbedding>>> {
        let engine = ClipEngine::start(self, sources, EngineOptions::new(opts.pipeline(self)?))?;
        engine
            .map(|r| {
                Ok(r?.outcome.map(|c| ClipEmbedding {
                    embedding: c.embedding,
                    info: c.info,
                }))
            })
            .collect()
    }
}
