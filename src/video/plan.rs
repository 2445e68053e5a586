//! Which frames each span of a group takes: the span's frames among those the group's read found,
//! the sampled ones, or the span's error (no keyframe, a truncated file, an empty span, too few
//! frames for the sampling).

use std::path::Path;

use super::demux::{Range, Source};
use super::{decode_err, span_err, ClipSpan, DecodedClip, FrameRequest};
use crate::preprocess::sample_indices;
use crate::{Error, Result};

/// What one span asks of the decoder.
pub(super) struct Plan {
    pub(super) span_index: usize,
    /// Pts of the span's frames in display order.
    pub(super) pts: Vec<i64>,
    pub(super) indices: Vec<usize>,
    /// The extra uniformly sampled indices (empty when none were asked for).
    pub(super) extra: Vec<usize>,
    /// `(span end, last frame)` in seconds when the span ends well past the video's last frame.
    pub(super) past_end: Option<(f64, f64)>,
}

/// The plans of the spans of `group` that have frames to decode, and the errors of the others,
/// in the group's order. `stamps`: the sorted timestamps of the frames `range` holds.
pub(super) fn plan_spans(
    src: &Source,
    path: &Path,
    spans: &[ClipSpan],
    group: &[(usize, i64, i64)],
    range: &Range,
    stamps: &[i64],
    req: &FrameRequest,
) -> (Vec<Plan>, Vec<(usize, Result<DecodedClip>)>) {
    let mut out = Vec::new();
    // How far the read got: with a read error, spans ending before this point are still complete.
    let reached = range
        .packets
        .iter()
        .filter_map(|p| p.dts().or(p.pts()))
        .max();
    let truncated_at = truncation(src, range, stamps);
    // The demuxer hands on packets from the first keyframe on: none at all through to the end of the
    // file means no keyframe to start decoding from (not a truncated download).
    let no_keyframe = range.packets.is_empty() && range.eof && range.error.is_none();
    let mut plans = Vec::new();
    for &(i, s, e) in group {
        let span = &spans[i];
        if no_keyframe {
            let msg = "the video stream has no keyframe from where reading started to the end of the \
                       file, so no frame can be decoded (every frame depends on a keyframe); re-encode \
                       the file, e.g. ffmpeg -i in.mp4 -c:v libx264 out.mp4";
            out.push((i, Err(decode_err(path, span, msg))));
            continue;
        }
        if let Some((last, declared, tol)) = truncated_at {
            if span.end_secs().is_none_or(|end| end > last + tol) {
                let msg = format!(
                    "the frames stop at {last:.3} s but the file declares {declared:.3} s of video: it looks \
                     truncated; download it again or end the span before {last:.3} s"
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
            out.push((i, Err(empty_span_error(src, path, span, range, stamps, s))));
            continue;
        }
        match sample(req, pts.len(), path, &span.to_string()) {
            Ok((indices, extra)) => plans.push(Plan {
                span_index: i,
                pts,
                indices,
                extra,
                past_end: past_end(src, range, stamps, span),
            }),
            Err(err) => out.push((i, Err(err))),
        }
    }
    (plans, out)
}

/// The sampled indices among a span's `n` frames, and the extra uniformly sampled ones.
fn sample(
    req: &FrameRequest,
    n: usize,
    path: &Path,
    label: &str,
) -> Result<(Vec<usize>, Vec<usize>)> {
    sample_indices(req.sampling, req.num_frames, n, path, label).and_then(|idx| {
        // The extra frames need as many frames as they are (uniform sampling refuses fewer).
        let extra = match req.extra_uniform {
            0 => Vec::new(),
            k if n < k => Vec::new(),
            k => sample_indices(
                crate::preprocess::FrameSampling::Uniform(k),
                k,
                n,
                path,
                label,
            )?,
        };
        Ok((idx, extra))
    })
}

/// `(span end, last frame)` in seconds when the read reached the end of the file and `span` ends more
/// than two frame intervals (at least 0.5 s) after the video's last frame: the clip is then the frames
/// up to the end, and its row says so rather than passing for the span asked.
fn past_end(src: &Source, range: &Range, stamps: &[i64], span: &ClipSpan) -> Option<(f64, f64)> {
    let end = span.end_secs()?;
    if !range.eof {
        return None;
    }
    stamps.last()?;
    let (last, tol) = end_of_frames(src, stamps);
    (end - last > tol).then_some((end, last))
}

/// The last frame's time in seconds (0 without frames) and how far past it a time still counts as
/// the end of the video: two frame intervals, at least 0.5 s.
fn end_of_frames(src: &Source, stamps: &[i64]) -> (f64, f64) {
    let last = stamps.last().map_or(0.0, |&p| src.ts_to_secs(p));
    let gap = match stamps {
        [.., a, b] => src.ts_to_secs(*b) - src.ts_to_secs(*a),
        _ => 0.0,
    };
    (last, (2.0 * gap).max(0.5))
}

/// `(last frame time, declared duration, tolerance)` when the read hit the end of the file well before
/// the video stream's declared duration. Tolerance: 0.5 s or two frame intervals, whichever is larger.
fn truncation(src: &Source, range: &Range, stamps: &[i64]) -> Option<(f64, f64, f64)> {
    let declared = src.info.stream_duration_s?;
    if !range.eof {
        return None;
    }
    let (last, tol) = end_of_frames(src, stamps);
    (declared - last > tol).then_some((last, declared, tol))
}

fn empty_span_error(
    src: &Source,
    path: &Path,
    span: &ClipSpan,
    range: &Range,
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
    if stamps.is_empty() {
        decode_err(
            path,
            span,
            "no frame could be read; the file may be truncated or corrupt",
        )
    } else if range.eof && after_all {
        span_err(path, span, &format!(
            "the span starts after the last frame (video length {len}, last frame at {}); pick a start inside the video",
            last.map_or("none".into(), |l| format!("{l:.3} s"))
        ))
    } else {
        span_err(path, span, "no frame has a presentation time inside the span; widen it (it may be shorter than one frame interval)")
    }
}
