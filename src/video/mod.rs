//! Decoding clip spans of video files through the system's FFmpeg libraries (`ffmpeg-next`), several
//! spans of one file in one pass (users score many clips per source video).
//!
//! * **Which frames a span holds.** Frames are identified by presentation time (pts), measured from the
//!   video stream's first frame. A frame belongs to `[start, end)` when `start <= t < end`
//!   ([`ClipSpan`]); its index is its position among those frames in display order, the index the
//!   reference (`cv2.VideoCapture` / decord over the cut clip) would give it.
//! * **Accurate seek.** Each group of nearby spans is read from the last keyframe at or before its start
//!   (verified after the seek, see `demux`), never from wherever the demuxer happened to land.
//!   An end past the end of the video keeps the frames up to the last one (and
//!   [`DecodedClip::past_end`] says by how much); a start past it is an error.
//! * **Only the work the sampling needs.** A group's packets are scanned first (demuxing is cheap; only
//!   their timestamps are kept, so memory does not grow with the span), so each span's frame count and
//!   the sampled frames' pts are known before decoding. The packets are then read again and decoded:
//!   only sampled frames are converted to RGB, each GOP stops after its last sampled frame (GOPs without
//!   one are skipped), and non-reference frames that are not sampled are discarded
//!   (H.264/HEVC/VP8/VP9). Streams without pts (AVI, raw H.264) are decoded twice in full instead and
//!   their frames numbered in output order.
//! * **RGB.** swscale at the native size, set up as the chosen reference reader does it
//!   ([`RgbConversion`]): the frame's own colour matrix and range, per frame; then the stream's
//!   display-matrix rotation. See `docs/video.md`.
//! * **Bounded memory.** Each converted frame is brought at once to the size its consumer needs
//!   ([`FrameShape`]: [`crate::pipeline`] asks for the model's input size), so a group holds small
//!   frames, never native ones it does not hand over. A read holds at most [`MAX_GROUP_SPANS`] spans
//!   and [`MAX_GROUP_PACKETS`] packets (24 bytes each); frames over [`MAX_FRAME_PIXELS`] pixels are
//!   refused before the decoder allocates them, and frame threads are capped by frame size. Limits
//!   are typed errors of the spans concerned (docs/limits.md, "Video decoding").
//! * **Only files.** [`check_video_path`] refuses FIFOs, devices and directories before FFmpeg sees
//!   them; FFmpeg may use only its `file` protocol and demuxers of video containers.
//!
//! Missing or unreadable files, no video stream, truncated data, bad or empty spans and too few frames
//! are [`Error::Decode`] / [`Error::Span`] / [`Error::Sampling`] naming the file and span; one bad span
//! does not affect the others.

mod assemble;
mod convert;
mod decode;
mod demux;
mod group;
mod open;
mod plan;
mod span;

use std::path::{Path, PathBuf};
use std::sync::Once;

use ffmpeg_next as ff;

pub use crate::preprocess::{ColorInfo, ColorMatrix, RgbConversion};
pub use open::{check_video_path, VIDEO_FORMATS};
pub use span::{format_timestamp, parse_timestamp, ClipSpan};

use crate::limits::{MAX_FRAME_PIXELS, MAX_GROUP_PACKETS, MAX_GROUP_SPANS};
use crate::preprocess::{FrameSampling, ResizeFilter, RgbFrame};
use crate::{Error, Result};
use demux::Source;

/// Decoder settings: `DecodeOptions::default()` and the `with_…` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Decoder threads per file: `None` lets FFmpeg choose (all cores), `Some(1)` decodes on the
    /// calling thread (best when many files are decoded in parallel, as [`crate::pipeline`] does).
    /// `Some(0)` is taken as `None`.
    pub threads: Option<usize>,
    /// Skip decoding work that no sampled frame depends on (see the module docs). Off only to check
    /// that skipping changes nothing.
    pub skip_unneeded: bool,
    /// Spans of one file closer than this (microseconds) are read in one pass instead of seeking.
    pub merge_gap_us: i64,
    /// Whose YUV -> RGB conversion to reproduce. `None`: OpenCV's here; [`crate::pipeline`] picks the
    /// one that belongs to its resize filter (OpenCV for `cv2-linear`, decord for `bicubic`).
    pub conversion: Option<RgbConversion>,
    /// Frames with more pixels are the clip's [`Error::Decode`]; default and ceiling
    /// [`MAX_FRAME_PIXELS`] (a larger value counts as the ceiling).
    pub max_frame_pixels: usize,
    /// Most video packets one read of nearby spans may index; a span needing more is its
    /// [`Error::Span`]. Default and ceiling [`MAX_GROUP_PACKETS`].
    pub max_group_packets: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            threads: None,
            skip_unneeded: true,
            merge_gap_us: 5_000_000,
            conversion: None,
            max_frame_pixels: MAX_FRAME_PIXELS,
            max_group_packets: MAX_GROUP_PACKETS,
        }
    }
}

impl DecodeOptions {
    /// Lower bounds than the documented ones (docs/limits.md): pixels per frame, packets per read.
    /// Values above [`MAX_FRAME_PIXELS`] / [`MAX_GROUP_PACKETS`] count as those.
    pub fn with_limits(mut self, max_frame_pixels: usize, max_group_packets: usize) -> Self {
        self.max_frame_pixels = max_frame_pixels;
        self.max_group_packets = max_group_packets;
        self
    }

    /// The pixel bound in force: [`DecodeOptions::max_frame_pixels`], at most [`MAX_FRAME_PIXELS`].
    pub(crate) fn max_frame_pixels(&self) -> usize {
        self.max_frame_pixels.min(MAX_FRAME_PIXELS)
    }

    /// The packet bound in force, at least 1 and at most [`MAX_GROUP_PACKETS`].
    pub(crate) fn max_group_packets(&self) -> usize {
        self.max_group_packets.clamp(1, MAX_GROUP_PACKETS)
    }

    /// Decoder threads per file (`None`: FFmpeg chooses).
    pub fn with_threads(mut self, threads: impl Into<Option<usize>>) -> Self {
        self.threads = threads.into();
        self
    }

    /// Whether to skip decoding work no sampled frame depends on (default on).
    pub fn with_skip_unneeded(mut self, skip: bool) -> Self {
        self.skip_unneeded = skip;
        self
    }

    /// Spans closer than this many microseconds are read in one pass (default 5 s).
    pub fn with_merge_gap_us(mut self, gap_us: i64) -> Self {
        self.merge_gap_us = gap_us;
        self
    }

    /// Whose YUV -> RGB conversion to reproduce (`None`: see [`DecodeOptions::conversion`]).
    pub fn with_conversion(mut self, conversion: impl Into<Option<RgbConversion>>) -> Self {
        self.conversion = conversion.into();
        self
    }
}

/// The sampled frames of one clip span.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedClip {
    /// The span asked for.
    pub span: ClipSpan,
    /// Frames inside the span (before sampling).
    pub num_frames: usize,
    /// Indices of the sampled frames among the span's frames, in output order.
    pub indices: Vec<usize>,
    /// Presentation times of the sampled frames, seconds from the stream's first frame.
    pub timestamps: Vec<f64>,
    /// The sampled frames, RGB, at the video's own size (after the display rotation), or as
    /// [`FrameRequest::shape`] asked.
    pub frames: Vec<RgbFrame>,
    /// How the frames were converted (matrix and range of the first sampled frame, rotation);
    /// `None` only when no frame was sampled.
    pub color: Option<ColorInfo>,
    /// Fraction (0..=1) of the packets decoded for this file's group of spans that the decoder
    /// refused or returned as damaged frames: above 0 the file has bit rot, and the frames of this
    /// clip may carry concealment artefacts even though they decoded.
    pub frames_lost: f64,
    /// Indices of the extra frames ([`FrameRequest::extra_uniform`]) among the span's frames.
    pub extra_indices: Vec<usize>,
    /// The extra frames, RGB at the video's own size or as [`FrameRequest::extra_shape`] asked; empty
    /// when none were asked for or the span has fewer frames than asked.
    pub extra_frames: Vec<RgbFrame>,
    /// `(span end, last frame)` in seconds when the span ends well past the video's last frame (more
    /// than two frame intervals, at least 0.5 s): the clip holds the frames up to the end.
    pub past_end: Option<(f64, f64)>,
}

/// The size a decoded frame is brought to as soon as it is converted to RGB, so that a group of spans
/// holds frames of the size their consumer needs rather than the video's own (an 8K frame is 200 MB
/// of RGB, the model's 224 x 224 input 150 kB). The result is exactly what the consumer would have
/// made of the native frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameShape {
    /// The video's own size (after the display rotation).
    #[default]
    Native,
    /// `size x size` with `filter`, as [`crate::preprocess::Preprocess`] resizes
    /// ([`ResizeFilter::resize`]).
    Square {
        /// The model's resize filter.
        filter: ResizeFilter,
        /// The model's input side `S`.
        size: usize,
    },
    /// CLIP's `Resize(n)` + `CenterCrop(n)` ([`crate::aesthetic::preprocess::clip_resize_crop`]), the aesthetic
    /// scorer's input before normalisation; the scorer's own preprocessing leaves such a frame as is.
    ClipCrop(u32),
}

impl FrameShape {
    /// `frame` brought to this shape.
    pub fn apply(&self, frame: &RgbFrame) -> Result<RgbFrame> {
        match *self {
            FrameShape::Native => Ok(frame.clone()),
            FrameShape::Square { filter, size } => filter.resize(frame, size),
            FrameShape::ClipCrop(n) => crate::aesthetic::preprocess::clip_resize_crop(frame, n),
        }
    }
}

/// Which frames of each span to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRequest {
    /// Which frames of each span the model sees.
    pub sampling: FrameSampling,
    /// `T`, the frames the sampling picks.
    pub num_frames: usize,
    /// Also hand over this many uniformly sampled frames (`round(linspace(0, n - 1, k))`, the
    /// aesthetic scorer's), from the same decode; 0 for none.
    pub extra_uniform: usize,
    /// The size the sampled frames are handed over at.
    pub shape: FrameShape,
    /// The size the extra frames are handed over at.
    pub extra_shape: FrameShape,
}

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // `init` only registers components and cannot fail on FFmpeg >= 4; stderr noise about
        // recoverable stream errors is replaced by the typed errors below.
        let _ = ff::init();
        ff::util::log::set_level(ff::util::log::Level::Fatal);
    });
}

/// Decodes the sampled frames of `spans` of one video file, reading the file once per group of nearby
/// spans. Returns one result per span, in the order given.
pub fn decode_clips(
    path: impl AsRef<Path>,
    spans: &[ClipSpan],
    sampling: FrameSampling,
    num_frames: usize,
    opts: &DecodeOptions,
) -> Vec<Result<DecodedClip>> {
    let req = FrameRequest {
        sampling,
        num_frames,
        extra_uniform: 0,
        shape: FrameShape::Native,
        extra_shape: FrameShape::Native,
    };
    decode_clips_with(path, spans, &req, opts)
}

/// [`decode_clips`] with extra frames from the same decode ([`FrameRequest::extra_uniform`]).
pub fn decode_clips_with(
    path: impl AsRef<Path>,
    spans: &[ClipSpan],
    req: &FrameRequest,
    opts: &DecodeOptions,
) -> Vec<Result<DecodedClip>> {
    let path = path.as_ref();
    init();
    let mut src = match Source::open(path).and_then(|s| check_pixels(s, opts)) {
        Ok(s) => s,
        Err(msg) => {
            return spans
                .iter()
                .map(|s| Err(decode_err(path, s, &msg)))
                .collect()
        }
    };
    let mut results: Vec<Option<Result<DecodedClip>>> = spans.iter().map(|_| None).collect();
    // Tick ranges; bad spans are answered now.
    let mut todo: Vec<(usize, i64, i64)> = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match s.end_us {
            _ if s.start_us < 0 => {
                results[i] = Some(Err(span_err(path, s, "the start is negative")))
            }
            Some(e) if e <= s.start_us => {
                results[i] = Some(Err(span_err(
                    path,
                    s,
                    "the start is not before the end; give start < end",
                )))
            }
            e => todo.push((
                i,
                src.us_to_ts(s.start_us),
                e.map_or(i64::MAX, |e| src.us_to_ts(e)),
            )),
        }
    }
    todo.sort_by_key(|&(_, s, _)| s);
    let gap = src.us_to_ts(opts.merge_gap_us.max(0)) - src.info.origin;
    let mut k = 0;
    while k < todo.len() {
        // One group: spans starting before the current end (+ gap) are read together, at most
        // MAX_GROUP_SPANS of them (their frames are held until the group is assembled).
        let (start, mut end) = (todo[k].1, todo[k].2);
        let mut j = k + 1;
        while j < todo.len() && j - k < MAX_GROUP_SPANS && todo[j].1 <= end.saturating_add(gap) {
            end = end.max(todo[j].2);
            j += 1;
        }
        let group = &todo[k..j];
        for (i, r) in group::decode_group(&mut src, path, spans, group, start, end, req, opts) {
            results[i] = Some(r);
        }
        k = j;
    }
    results
        .into_iter()
        .zip(spans)
        .map(|(r, s)| {
            r.unwrap_or_else(|| Err(decode_err(path, s, "internal: span left undecoded")))
        })
        .collect()
}

/// Refuses a stream whose declared frame size is over the pixel bound, before any decoder exists.
fn check_pixels(src: Source, opts: &DecodeOptions) -> std::result::Result<Source, String> {
    // SAFETY: the stream's codec parameters, owned by `src`; plain fields.
    let (w, h) = unsafe {
        let p = src.info.parameters.as_ptr();
        ((*p).width.max(0) as usize, (*p).height.max(0) as usize)
    };
    let max = opts.max_frame_pixels();
    if w.saturating_mul(h) > max {
        return Err(decode::pixel_limit_msg(w, h, max));
    }
    Ok(src)
}

/// Decodes one clip span; see [`decode_clips`].
pub fn decode_clip(
    path: impl AsRef<Path>,
    span: ClipSpan,
    sampling: FrameSampling,
    num_frames: usize,
    opts: &DecodeOptions,
) -> Result<DecodedClip> {
    let mut r = decode_clips(path.as_ref(), &[span], sampling, num_frames, opts);
    r.pop()
        .unwrap_or_else(|| Err(decode_err(path.as_ref(), &span, "internal: no result")))
}

pub(crate) fn decode_err(path: &Path, span: &ClipSpan, msg: &str) -> Error {
    Error::Decode {
        path: PathBuf::from(path),
        span: span.to_string(),
        msg: msg.to_string(),
    }
}

pub(crate) fn span_err(path: &Path, span: &ClipSpan, msg: &str) -> Error {
    Error::Span {
        path: PathBuf::from(path),
        span: span.to_string(),
        msg: msg.to_string(),
    }
}
