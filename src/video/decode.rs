//! Decoding packets and converting the wanted frames to RGB, doing no more work than the
//! sampling needs.

use std::collections::{BTreeSet, HashMap};

use ff::codec::discard::Discard;
use ff::codec::packet::Packet;
use ff::codec::{threading, Id};
use ff::software::scaling;
use ffmpeg_next as ff;

use super::demux::PacketMeta;
use crate::preprocess::RgbFrame;

/// A video decoder plus the RGB converter for its output.
pub(crate) struct Decoder {
    dec: ff::decoder::Video,
    scaler: Option<(ff::format::Pixel, u32, u32, scaling::Context)>,
    /// Whether this codec honours `skip_frame = NONREF` without corrupting reference frames.
    nonref_skip_ok: bool,
}

/// Codecs whose FFmpeg decoders implement `AVDISCARD_NONREF` by dropping only frames no other frame
/// references (checked against full decoding in the tests for H.264 and VP9).
fn nonref_skip_ok(id: Id) -> bool {
    matches!(
        id,
        Id::H264 | Id::HEVC | Id::VP8 | Id::VP9 | Id::MPEG2VIDEO | Id::MPEG4
    )
}

/// Frames the decoder produced, by packet pts (mode A) or output ordinal (mode B).
#[derive(Default)]
pub(crate) struct Output<K> {
    pub frames: HashMap<K, RgbFrame>,
    /// The first decode error, if any (corrupt data); frames may be missing then.
    pub error: Option<String>,
}

impl Decoder {
    /// `threads`: 0 lets FFmpeg pick, 1 decodes on the calling thread.
    pub fn new(params: ff::codec::Parameters, threads: usize) -> Result<Self, String> {
        let id = params.id();
        let mut ctx = ff::codec::context::Context::from_parameters(params)
            .map_err(|e| format!("cannot set up a decoder ({e})"))?;
        if threads != 1 {
            ctx.set_threading(threading::Config {
                kind: threading::Type::Frame,
                count: threads,
                ..Default::default()
            });
        }
        let dec = ctx.decoder().video().map_err(|e| {
            format!("no decoder for codec {id:?} in this FFmpeg build ({e}); re-encode the video to H.264")
        })?;
        Ok(Decoder {
            dec,
            scaler: None,
            nonref_skip_ok: nonref_skip_ok(id),
        })
    }

    /// Which packets to send and how (mode A): `plan[i]` is `None` for a packet that is not needed,
    /// else the `skip_frame` setting for it. Stops at the last target's packet.
    ///
    /// With `skip`, three kinds of work are left out, none of which changes a target's pixels: in each
    /// GOP (keyframe to keyframe, decode order) the packets after its last target, so whole GOPs without
    /// a target (unless the next GOP's target is a leading picture, pts before its keyframe, that may
    /// reference them); and non-reference frames that are not targets (`skip_frame = NONREF`, toggled
    /// per packet).
    pub fn plan(
        &self,
        packets: &[PacketMeta],
        targets: &BTreeSet<i64>,
        skip: bool,
    ) -> Vec<Option<Discard>> {
        let is_target = |p: &PacketMeta| p.pts.is_some_and(|t| targets.contains(&t));
        let Some(last) = packets.iter().rposition(is_target) else {
            return Vec::new();
        };
        // GOP g spans packets gop_start[g]..gop_start[g + 1] in decode order.
        let mut gop = Vec::with_capacity(packets.len());
        let mut gop_start = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i == 0 || p.key {
                gop_start.push(i);
            }
            gop.push(gop_start.len() - 1);
        }
        let gop_last = |g: usize| gop_start.get(g + 1).map_or(packets.len() - 1, |&n| n - 1);
        // The last packet to send in each GOP: its last target (references precede what uses them in
        // decode order); a whole GOP when the next one's target is a leading picture that may use it.
        let mut upto: Vec<Option<usize>> = (0..gop_start.len())
            .map(|g| (!skip).then(|| gop_last(g)))
            .collect();
        for (i, p) in packets.iter().enumerate().filter(|(_, p)| is_target(p)) {
            let g = gop[i];
            upto[g] = upto[g].max(Some(i));
            let key_pts = packets[gop_start[g]].pts;
            if g > 0 && matches!((p.pts, key_pts), (Some(t), Some(k)) if t < k) {
                upto[g - 1] = Some(gop_last(g - 1));
            }
        }
        packets[..=last]
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let send = upto[gop[i]].is_some_and(|u| i <= u);
                let drop = skip && self.nonref_skip_ok && !is_target(p);
                send.then_some(if drop {
                    Discard::NonReference
                } else {
                    Discard::Default
                })
            })
            .collect()
    }

    /// Sends one packet and converts the target frames that come out (mode A: frames by pts).
    pub fn feed(
        &mut self,
        p: &Packet,
        discard: Discard,
        targets: &BTreeSet<i64>,
        out: &mut Output<i64>,
    ) {
        self.dec.skip_frame(discard);
        if let Err(e) = self.dec.send_packet(p) {
            out.error.get_or_insert(e.to_string());
        }
        self.drain(out, targets);
    }

    /// Flushes the frames still held for reordering.
    pub fn finish(&mut self, targets: &BTreeSet<i64>, out: &mut Output<i64>) {
        self.dec.skip_frame(Discard::Default);
        let _ = self.dec.send_eof();
        self.drain(out, targets);
    }

    fn drain(&mut self, out: &mut Output<i64>, targets: &BTreeSet<i64>) {
        let mut frame = ff::frame::Video::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            let Some(k) = frame
                .pts()
                .or(frame.timestamp())
                .filter(|t| targets.contains(t))
            else {
                continue;
            };
            if out.frames.contains_key(&k) {
                continue;
            }
            match self.convert(&frame) {
                Ok(rgb) => {
                    out.frames.insert(k, rgb);
                }
                Err(e) => {
                    out.error.get_or_insert(e);
                }
            }
        }
    }

    /// Mode B, for streams whose packets lack usable pts: sends every packet; records each output
    /// frame's best-effort timestamp in output order and converts the output ordinals in `want`.
    pub fn feed_all(
        &mut self,
        p: Option<&Packet>,
        want: &BTreeSet<usize>,
        stamps: &mut Vec<Option<i64>>,
        out: &mut Output<usize>,
    ) {
        let sent = match p {
            Some(p) => self.dec.send_packet(p),
            None => self.dec.send_eof(),
        };
        if let Err(e) = sent {
            out.error.get_or_insert(e.to_string());
        }
        let mut frame = ff::frame::Video::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            if want.contains(&stamps.len()) {
                match self.convert(&frame) {
                    Ok(rgb) => {
                        out.frames.insert(stamps.len(), rgb);
                    }
                    Err(e) => {
                        out.error.get_or_insert(e);
                    }
                }
            }
            stamps.push(frame.timestamp().or(frame.pts()));
        }
    }

    /// Converts a decoded frame to packed RGB24 at its own size with swscale's bicubic flag, the same
    /// call OpenCV's FFmpeg backend makes (it asks for BGR24; the values are the same, the order differs).
    fn convert(&mut self, frame: &ff::frame::Video) -> Result<RgbFrame, String> {
        let (fmt, w, h) = (frame.format(), frame.width(), frame.height());
        let stale = !matches!(&self.scaler, Some((f, sw, sh, _)) if (*f, *sw, *sh) == (fmt, w, h));
        if stale {
            let ctx = scaling::Context::get(
                fmt,
                w,
                h,
                ff::format::Pixel::RGB24,
                w,
                h,
                scaling::Flags::BICUBIC,
            )
            .map_err(|e| format!("cannot convert {fmt:?} {w}x{h} frames to RGB ({e})"))?;
            self.scaler = Some((fmt, w, h, ctx));
        }
        let Some((_, _, _, ctx)) = self.scaler.as_mut() else {
            return Err("no RGB converter".into());
        };
        let mut rgb = ff::frame::Video::empty();
        ctx.run(frame, &mut rgb)
            .map_err(|e| format!("RGB conversion failed ({e})"))?;
        let (w, h) = (w as usize, h as usize);
        let stride = rgb.stride(0);
        let src = rgb.data(0);
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            data.extend_from_slice(&src[y * stride..y * stride + w * 3]);
        }
        RgbFrame::new(w, h, data).map_err(|e| e.to_string())
    }
}
