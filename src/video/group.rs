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
use super::plan::{plan_spans, Plan};
use super::{decode_err, span_err, ClipSpan, DecodeOptions, DecodedClip, FrameRequest};
use crate::preprocess::RgbConversion;
use crate::Result;

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
    let (stamps, order) = match frame_stamps(src, &range, &dec) {
        Ok(found) => found,
        Err(e) => {
            return group
                .iter()
                .map(|g| (g.0, Err(decode_err(path, &spans[g.0], &e))))
                .collect();
        }
    };
    let (plans, mut out) = plan_spans(src, path, spans, group, &range, &stamps, req);
    let extra_slot = dec.shapes.extra_slot();
    let (mut got, mut uses) = decode_planned(src, &range, &dec, &plans, order.as_deref(), opts);
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

/// The range's frame timestamps, sorted, and in mode B the output order's timestamps. Mode A
/// identifies frames by packet pts; mode B (no or duplicate pts) by decoding everything once and
/// numbering the output. `Err`: mode B's decode gave no frame, with its error.
#[allow(clippy::type_complexity)]
fn frame_stamps(
    src: &mut Source,
    range: &Range,
    dec: &DecoderSetup,
) -> std::result::Result<(Vec<i64>, Option<Vec<Option<i64>>>), String> {
    let all_pts: Option<Vec<i64>> = range.packets.iter().map(|p| p.pts()).collect();
    let (mut stamps, order) = match all_pts.filter(|v| all_unique(v)) {
        Some(pts) => (pts, None),
        None => {
            let (order, got) = decode_in_order(src, range, dec, &BTreeMap::new());
            if let (true, Some(e)) = (order.is_empty(), got.error) {
                return Err(e);
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
    Ok((stamps, order))
}

/// Decodes the frames the plans sample (by pts in mode A, by output ordinal through `order` in
/// mode B); with them, how many clips take each (frame, slot): the last one takes the frame
/// instead of a copy.
fn decode_planned(
    src: &mut Source,
    range: &Range,
    dec: &DecoderSetup,
    plans: &[Plan],
    order: Option<&[Option<i64>]>,
    opts: &DecodeOptions,
) -> (Output<i64>, HashMap<(i64, usize), usize>) {
    let mut targets: BTreeMap<i64, Need> = BTreeMap::new();
    let mut uses: HashMap<(i64, usize), usize> = HashMap::new();
    let extra_slot = dec.shapes.extra_slot();
    for p in plans {
        for &k in &p.indices {
            targets.entry(p.pts[k]).or_default().main = true;
            *uses.entry((p.pts[k], 0)).or_default() += 1;
        }
        for &k in &p.extra {
            targets.entry(p.pts[k]).or_default().extra = true;
            *uses.entry((p.pts[k], extra_slot)).or_default() += 1;
        }
    }
    let got = match order {
        None => {
            let got = decode_targets(src, range, dec, &targets, opts.skip_unneeded);
            if got.frames.len() < targets.len() && opts.skip_unneeded {
                // Something in the stream defeated the skipping (e.g. an open GOP): decode everything.
                decode_targets(src, range, dec, &targets, false)
            } else {
                got
            }
        }
        Some(order) => {
            let want = (0..order.len())
                .filter_map(|o| Some((o, *targets.get(&order[o]?)?)))
                .collect();
            let (_, got) = decode_in_order(src, range, dec, &want);
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
    (got, uses)
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
