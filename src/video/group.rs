//! One group of nearby spans of a file: scan its packets, count and sample each span's frames, then
//! decode only what the sampled frames need, reading the packets a second time (so memory does not grow
//! with the length of the group).

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::path::Path;

use ffmpeg_next as ff;

use super::assemble::Take;
use super::decode::{Decoder, Need, Output, Shapes};
use super::demux::{Range, Source};
use super::{decode_err, span_err, ClipSpan, DecodeOptions, DecodedClip, FrameRequest};
use crate::preprocess::sample_indices;
use crate::preprocess::RgbConversion;
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

/// Decodes the spans `group` (index into `spans`, start tick, end tick), read together over
/// `[start, end)`. One result per span of the group.
#[allow(clippy::too_many_arguments)]
pub(super) fn decode_group(
    src: &mut Source,
    path: &Path,
    spans: &[ClipSpan],
    group: &[(usize, i64, i64)],
    start: i64,
    end: i64,
    req: &FrameRequest,
    opts: &DecodeOptions,
) -> Vec<(usize, Result<DecodedClip>)> {
    let max_packets = opts.max_group_packets();
    let range = src.scan(start, end, max_packets);
    if range.too_many {
        return too_many_packets(src, path, spans, group, req, opts, max_packets);
    }
    let params = src.info.parameters.clone();
    let dec = DecoderSetup {
        params: &params,
        // The decoder's 0 is FFmpeg's own choice.
        threads: opts.threads.unwrap_or(0),
        conv: opts.conversion.unwrap_or_default(),
        rotation: src.info.rotation,
        shapes: Shapes {
            main: req.shape,
            extra: req.extra_shape,
        },
        max_pixels: opts.max_frame_pixels(),
    };
    let mut out = Vec::new();
    let all_pts: Option<Vec<i64>> = range.packets.iter().map(|p| p.pts()).collect();
    // Mode A identifies frames by packet pts; mode B (no or duplicate pts) by decoding everything once
    // and numbering the output.
    let (mut stamps, order) = match all_pts.filter(|v| all_unique(v)) {
        Some(pts) => (pts, None),
        None => {
            let (order, got) = decode_in_order(src, &range, &dec, &BTreeMap::new());
            if let (true, Some(e)) = (order.is_empty(), got.error) {
                return group
                    .iter()
                    .map(|g| (g.0, Err(decode_err(path, &spans[g.0], &e))))
                    .collect();
            }
            // Frames without any timestamp (raw elementary streams) follow the previous one by one
            // nominal frame duration.
            let tick = src.info.frame_ticks.unwrap_or(1);
            let mut prev: Option<i64> = None;
            let order: Vec<Option<i64>> = order
                .into_iter()
                .map(|s| {
                    prev = s.or(Some(prev.map_or(src.info.origin, |p| p + tick)));
                    prev
                })
                .collect();
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
            out.push((
                i,
                Err(empty_span_error(src, path, span, &range, &stamps, s)),
            ));
            continue;
        }
        let label = span.to_string();
        let sampled = sample_indices(req.sampling, req.num_frames, pts.len(), path, &label)
            .and_then(|idx| {
                // The extra frames need as many frames as they are (uniform sampling refuses fewer).
                let extra = match req.extra_uniform {
                    0 => Vec::new(),
                    k if pts.len() < k => Vec::new(),
                    k => sample_indices(
                        crate::preprocess::FrameSampling::Uniform(k),
                        k,
                        pts.len(),
                        path,
                        &label,
                    )?,
                };
                Ok((idx, extra))
            });
        match sampled {
            Ok((indices, extra)) => plans.push(Plan {
                span_index: i,
                pts,
                indices,
                extra,
                past_end: past_end(src, &range, &stamps, span),
            }),
            Err(err) => out.push((i, Err(err))),
        }
    }
    let mut targets: BTreeMap<i64, Need> = BTreeMap::new();
    // How many clips take each (frame, slot): the last one takes the frame instead of a copy.
    let mut uses: HashMap<(i64, usize), usize> = HashMap::new();
    let extra_slot = dec.shapes.extra_slot();
    for p in &plans {
        for &k in &p.indices {
            targets.entry(p.pts[k]).or_default().main = true;
            *uses.entry((p.pts[k], 0)).or_default() += 1;
        }
        for &k in &p.extra {
            targets.entry(p.pts[k]).or_default().extra = true;
            *uses.entry((p.pts[k], extra_slot)).or_default() += 1;
        }
    }
    let mut got = match &order {
        None => {
            let got = decode_targets(src, &range, &dec, &targets, opts.skip_unneeded);
            if got.frames.len() < targets.len() && opts.skip_unneeded {
                // Something in the stream defeated the skipping (e.g. an open GOP): decode everything.
                decode_targets(src, &range, &dec, &targets, false)
            } else {
                got
            }
        }
        Some(order) => {
            let want = (0..order.len())
                .filter_map(|o| Some((o, *targets.get(&order[o]?)?)))
                .collect();
            let (_, got) = decode_in_order(src, &range, &dec, &want);
            let frames = got
                .frames
                .into_iter()
                .filter_map(|(o, f)| Some((order[o]?, f)))
                .collect();
            Output {
                frames,
                error: got.error,
                sent: got.sent,
                lost: got.lost,
            }
        }
    };
    for plan in plans {
        let i = plan.span_index;
        let mut take = Take {
            src,
            path,
            span: spans[i],
            got: &mut got,
            uses: &mut uses,
        };
        out.push((i, take.assemble(plan, extra_slot)));
    }
    out
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

/// Whether no pts occurs twice (sorting a copy: 8 bytes a packet, where a set would take ~50).
fn all_unique(pts: &[i64]) -> bool {
    let mut sorted = pts.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).all(|w| w[0] != w[1])
}

/// A group whose range holds more packets than `max`: spans read together are retried one by one
/// (each may fit alone); a span that does not fit alone is that span's error.
fn too_many_packets(
    src: &mut Source,
    path: &Path,
    spans: &[ClipSpan],
    group: &[(usize, i64, i64)],
    req: &FrameRequest,
    opts: &DecodeOptions,
    max: usize,
) -> Vec<(usize, Result<DecodedClip>)> {
    if group.len() > 1 {
        return group
            .iter()
            .flat_map(|g| decode_group(src, path, spans, &[*g], g.1, g.2, req, opts))
            .collect();
    }
    let msg = format!(
        "the span needs more than {max} video packets to decode (viclip::limits::MAX_GROUP_PACKETS, \
         docs/limits.md), more than one read may index; split it into shorter spans"
    );
    group
        .iter()
        .map(|g| (g.0, Err(span_err(path, &spans[g.0], &msg))))
        .collect()
}

/// What every decoder of a group is built from.
struct DecoderSetup<'a> {
    params: &'a ff::codec::Parameters,
    threads: usize,
    conv: RgbConversion,
    rotation: u16,
    shapes: Shapes,
    max_pixels: usize,
}

impl DecoderSetup<'_> {
    fn build(&self) -> std::result::Result<Decoder, String> {
        Decoder::new(
            self.params.clone(),
            self.threads,
            self.conv,
            self.rotation,
            self.shapes,
            self.max_pixels,
        )
    }
}

/// Mode A: replays the range, sending the packets the plan needs, until every target came out.
fn decode_targets(
    src: &mut Source,
    range: &Range,
    setup: &DecoderSetup,
    targets: &BTreeMap<i64, Need>,
    skip: bool,
) -> Output<i64> {
    let mut out = Output::default();
    if targets.is_empty() {
        return out;
    }
    let mut dec = match setup.build() {
        Ok(d) => d,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let plan = dec.plan(&range.packets, targets, skip);
    let replayed = src.replay(range, &mut |i, p| {
        match plan.get(i) {
            None => return ControlFlow::Break(()), // past the last target's packet
            Some(None) => {}
            Some(Some(discard)) => dec.feed(p, *discard, targets, &mut out),
        }
        if out.frames.len() == targets.len() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    if let Err(e) = replayed {
        out.error.get_or_insert(e);
    }
    if out.frames.len() < targets.len() {
        dec.finish(targets, &mut out);
    }
    out
}

/// Mode B: replays the range sending every packet; returns the output frames' timestamps in output
/// order and the RGB frames of the output ordinals in `want`.
fn decode_in_order(
    src: &mut Source,
    range: &Range,
    setup: &DecoderSetup,
    want: &BTreeMap<usize, Need>,
) -> (Vec<Option<i64>>, Output<usize>) {
    let mut stamps = Vec::new();
    let mut out = Output::default();
    let mut dec = match setup.build() {
        Ok(d) => d,
        Err(e) => {
            out.error = Some(e);
            return (stamps, out);
        }
    };
    let replayed = src.replay(range, &mut |_, p| {
        dec.feed_all(Some(p), want, &mut stamps, &mut out);
        ControlFlow::Continue(())
    });
    if let Err(e) = replayed {
        out.error.get_or_insert(e);
    }
    dec.feed_all(None, want, &mut stamps, &mut out);
    (stamps, out)
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
