//! Decoding clip spans of video files through the system's FFmpeg libraries (`ffmpeg-next`), several
//! spans of one file in one pass (`../shared/RESEARCH.md` §6-7: users score many clips per source video).
//!
//! * **Which frames a span holds.** Frames are identified by presentation time (pts), measured from the
//!   video stream's first frame. A frame belongs to `[start, end)` when `start <= t < end`
//!   ([`ClipSpan`]); its index is its position among those frames in display order, the index the
//!   reference (`cv2.VideoCapture` / decord over the cut clip) would give it.
//! * **Accurate seek.** Each group of nearby spans is read from the last keyframe at or before its start
//!   (verified after the seek, see `demux`), never from wherever the demuxer happened to land.
//! * **Only the work the sampling needs.** The packets of a group are read first (demuxing is cheap), so
//!   each span's frame count and the sampled frames' pts are known before decoding; then only those
//!   frames are converted to RGB, decoding stops after the last one, GOPs without a sampled frame are
//!   skipped and non-reference frames that are not sampled are discarded (H.264/HEVC/VP8/VP9).
//! * **RGB.** swscale with the bicubic flag at the native size, as OpenCV's FFmpeg backend does it.
//!
//! Missing or unreadable files, no video stream, truncated data, bad or empty spans and too few frames
//! are [`Error::Decode`] / [`Error::Span`] / [`Error::Sampling`] naming the file and span; one bad span
//! does not affect the others.

mod decode;
mod demux;
mod span;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Once;

use ffmpeg_next as ff;

pub use span::{format_timestamp, parse_timestamp, ClipSpan};

use crate::preprocess::{FrameSampling, RgbFrame};
use crate::{Error, Result};
use decode::Decoder;
use demux::Source;

/// Decoder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Decoder threads per file: 0 lets FFmpeg choose (all cores), 1 decodes on the calling thread
    /// (best when many files are decoded in parallel, as [`crate::pipeline`] does).
    pub threads: usize,
    /// Skip decoding work that no sampled frame depends on (see the module docs). Off only to check
    /// that skipping changes nothing.
    pub skip_unneeded: bool,
    /// Spans of one file closer than this (microseconds) are read in one pass instead of seeking.
    pub merge_gap_us: i64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            threads: 0,
            skip_unneeded: true,
            merge_gap_us: 5_000_000,
        }
    }
}

/// The sampled frames of one clip span.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedClip {
    pub span: ClipSpan,
    /// Frames inside the span (before sampling).
    pub num_frames: usize,
    /// Indices of the sampled frames among the span's frames, in output order.
    pub indices: Vec<usize>,
    /// Presentation times of the sampled frames, seconds from the stream's first frame.
    pub timestamps: Vec<f64>,
    /// The sampled frames, RGB, at the video's own size.
    pub frames: Vec<RgbFrame>,
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
    let path = path.as_ref();
    init();
    let mut src = match Source::open(path) {
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
        // One group: spans starting before the current end (+ gap) are read together.
        let (start, mut end) = (todo[k].1, todo[k].2);
        let mut j = k + 1;
        while j < todo.len() && todo[j].1 <= end.saturating_add(gap) {
            end = end.max(todo[j].2);
            j += 1;
        }
        let group = &todo[k..j];
        for (i, r) in decode_group(
            &mut src, path, spans, group, start, end, sampling, num_frames, opts,
        ) {
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

/// What one span asks of the decoder.
struct Plan {
    span_index: usize,
    /// Pts of the span's frames in display order.
    pts: Vec<i64>,
    indices: Vec<usize>,
}

#[allow(clippy::too_many_arguments)]
fn decode_group(
    src: &mut Source,
    path: &Path,
    spans: &[ClipSpan],
    group: &[(usize, i64, i64)],
    start: i64,
    end: i64,
    sampling: FrameSampling,
    t: usize,
    opts: &DecodeOptions,
) -> Vec<(usize, Result<DecodedClip>)> {
    let range = src.read_range(start, end);
    let mut out = Vec::new();
    let all_pts: Option<Vec<i64>> = range.packets.iter().map(|p| p.pts()).collect();
    let unique = all_pts
        .as_ref()
        .is_some_and(|v| v.iter().collect::<BTreeSet<_>>().len() == v.len());
    let mut dec = match Decoder::new(src.info.parameters.clone(), opts.threads) {
        Ok(d) => d,
        Err(msg) => {
            return group
                .iter()
                .map(|g| (g.0, Err(decode_err(path, &spans[g.0], &msg))))
                .collect()
        }
    };
    // Mode A identifies frames by packet pts; mode B (no or duplicate pts) by decoding everything once.
    let (mut stamps, by_order) = match all_pts.filter(|_| unique) {
        Some(pts) => (pts, None),
        None => {
            let (order, _) = dec.decode_all(&range.packets, &BTreeSet::new());
            (order.iter().flatten().copied().collect(), Some(order))
        }
    };
    stamps.sort_unstable();
    // How far the read got: with a read error, spans ending before this point are still complete.
    let reached = range
        .packets
        .iter()
        .filter_map(|p| p.dts().or(p.pts()))
        .max();
    let truncated_at = truncation(src, &range, &stamps);
    let mut plans = Vec::new();
    for &(i, s, e) in group {
        let span = &spans[i];
        if let Some((last, declared, tol)) = truncated_at {
            if span.end_secs().is_none_or(|end| end > last + tol) {
                let msg = format!(
                    "the frames stop at {last:.3} s but the file declares {declared:.3} s of video: it looks truncated; \
                     download it again or end the span before {last:.3} s"
                );
                out.push((i, Err(decode_err(path, span, &msg))));
                continue;
            }
        }
        let pts: Vec<i64> = stamps
            .iter()
            .copied()
            .filter(|&p| p >= s && p < e)
            .collect();
        let complete = range.error.is_none() || reached.is_some_and(|r| r >= e);
        if pts.is_empty() || !complete {
            out.push((
                i,
                Err(empty_span_error(src, path, span, &range, &stamps, s)),
            ));
            continue;
        }
        match crate::preprocess::sample_indices(sampling, t, pts.len(), path, &span.to_string()) {
            Ok(indices) => plans.push(Plan {
                span_index: i,
                pts,
                indices,
            }),
            Err(err) => out.push((i, Err(err))),
        }
    }
    let targets: BTreeSet<i64> = plans
        .iter()
        .flat_map(|p| p.indices.iter().map(|&k| p.pts[k]))
        .collect();
    let mut got = match &by_order {
        None => dec.decode_targets(&range.packets, &targets, opts.skip_unneeded),
        Some(order) => mode_b(src, &range.packets, order, &targets, opts),
    };
    if got.frames.len() < targets.len() && opts.skip_unneeded && by_order.is_none() {
        // Something in the stream defeated the skipping (e.g. an open GOP); decode everything instead.
        if let Ok(mut full) = Decoder::new(src.info.parameters.clone(), opts.threads) {
            got = full.decode_targets(&range.packets, &targets, false);
        }
    }
    for plan in plans {
        let span = spans[plan.span_index];
        let mut frames = Vec::with_capacity(plan.indices.len());
        let mut missing = None;
        for &k in &plan.indices {
            match got.frames.get(&plan.pts[k]) {
                Some(f) => frames.push(f.clone()),
                None => missing = missing.or(Some(plan.pts[k])),
            }
        }
        let r = match missing {
            Some(p) => Err(decode_err(
                path,
                &span,
                &format!(
                    "the frame at {:.3} s could not be decoded ({}); the file may be corrupt",
                    src.ts_to_secs(p),
                    got.error.as_deref().unwrap_or("no picture came out")
                ),
            )),
            None => Ok(DecodedClip {
                span,
                num_frames: plan.pts.len(),
                timestamps: plan
                    .indices
                    .iter()
                    .map(|&k| src.ts_to_secs(plan.pts[k]))
                    .collect(),
                indices: plan.indices,
                frames,
            }),
        };
        out.push((plan.span_index, r));
    }
    out
}

/// Mode B: decode the packets again, keeping the output ordinals whose timestamps are targets.
fn mode_b(
    src: &Source,
    packets: &[ff::codec::packet::Packet],
    order: &[Option<i64>],
    targets: &BTreeSet<i64>,
    opts: &DecodeOptions,
) -> decode::Output<i64> {
    let want: BTreeSet<usize> = (0..order.len())
        .filter(|&o| order[o].is_some_and(|t| targets.contains(&t)))
        .collect();
    let mut out = decode::Output {
        frames: Default::default(),
        error: None,
    };
    match Decoder::new(src.info.parameters.clone(), opts.threads) {
        Ok(mut d) => {
            let (_, got) = d.decode_all(packets, &want);
            out.error = got.error;
            for (o, f) in got.frames {
                if let Some(t) = order[o] {
                    out.frames.insert(t, f);
                }
            }
        }
        Err(e) => out.error = Some(e),
    }
    out
}

/// `(last frame time, declared duration, tolerance)` when the read hit the end of the file well before
/// the video stream's declared duration. Tolerance: 0.5 s or two frame intervals, whichever is larger.
fn truncation(src: &Source, range: &demux::Range, stamps: &[i64]) -> Option<(f64, f64, f64)> {
    let declared = src.info.stream_duration_s?;
    if !range.eof {
        return None;
    }
    let last = stamps.last().map_or(0.0, |&p| src.ts_to_secs(p));
    let gap = match stamps {
        [.., a, b] => src.ts_to_secs(*b) - src.ts_to_secs(*a),
        _ => 0.0,
    };
    let tol = (2.0 * gap).max(0.5);
    (declared - last > tol).then_some((last, declared, tol))
}

fn empty_span_error(
    src: &Source,
    path: &Path,
    span: &ClipSpan,
    range: &demux::Range,
    stamps: &[i64],
    s: i64,
) -> Error {
    let last = stamps.iter().max().map(|&p| src.ts_to_secs(p));
    if let Some(err) = &range.error {
        return decode_err(path, span, &format!("reading stopped with an error ({err}) before the span was complete; the file looks truncated or corrupt"));
    }
    let after_all = stamps.iter().all(|&p| p < s);
    let len = src
        .info
        .duration_s
        .or(last)
        .map_or("unknown".into(), |d| format!("{d:.3} s"));
    if range.eof && after_all {
        span_err(path, span, &format!(
            "the span starts after the last frame (video length {len}, last frame at {}); pick a start inside the video",
            last.map_or("none".into(), |l| format!("{l:.3} s"))
        ))
    } else if stamps.is_empty() {
        decode_err(
            path,
            span,
            "no frame could be read; the file may be truncated or corrupt",
        )
    } else {
        span_err(path, span, "no frame has a presentation time inside the span; widen it (it may be shorter than one frame interval)")
    }
}

fn decode_err(path: &Path, span: &ClipSpan, msg: &str) -> Error {
    Error::Decode {
        path: PathBuf::from(path),
        span: span.to_string(),
        msg: msg.to_string(),
    }
}

fn span_err(path: &Path, span: &ClipSpan, msg: &str) -> Error {
    Error::Span {
        path: PathBuf::from(path),
        span: span.to_string(),
        msg: msg.to_string(),
    }
}
