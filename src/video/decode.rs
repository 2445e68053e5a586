//! Decoding buffered packets and converting the wanted frames to RGB, doing no more work than the
//! sampling needs.

use std::collections::{BTreeSet, HashMap};

use ff::codec::discard::Discard;
use ff::codec::packet::Packet;
use ff::codec::{threading, Id};
use ff::software::scaling;
use ffmpeg_next as ff;

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

    /// Decodes the packets (decode order) and returns the frames whose packet pts is in `targets`.
    ///
    /// With `skip`, three kinds of work are left out, none of which changes a target's pixels: packets
    /// after the last target's packet; whole GOPs (keyframe to keyframe) holding no target, unless the
    /// next GOP's target is a leading picture (pts before its keyframe) that may reference them; and
    /// non-reference frames that are not targets (`skip_frame = NONREF`, toggled per packet).
    pub fn decode_targets(
        &mut self,
        packets: &[Packet],
        targets: &BTreeSet<i64>,
        skip: bool,
    ) -> Output<i64> {
        let mut out = Output {
            frames: HashMap::new(),
            error: None,
        };
        let is_target = |p: &Packet| p.pts().is_some_and(|t| targets.contains(&t));
        let Some(last) = packets.iter().rposition(is_target) else {
            return out;
        };
        let mut gop = Vec::with_capacity(packets.len());
        let mut key_pts = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i == 0 || p.is_key() {
                key_pts.push(p.pts());
            }
            gop.push(key_pts.len() - 1);
        }
        let mut needed = vec![!skip; key_pts.len()];
        for (i, p) in packets.iter().enumerate().filter(|(_, p)| is_target(p)) {
            let g = gop[i];
            needed[g] = true;
            if g > 0 && matches!((p.pts(), key_pts[g]), (Some(t), Some(k)) if t < k) {
                needed[g - 1] = true;
            }
        }
        for (i, p) in packets[..=last].iter().enumerate() {
            if !needed[gop[i]] {
                continue;
            }
            let drop = skip && self.nonref_skip_ok && !is_target(p);
            self.dec.skip_frame(if drop {
                Discard::NonReference
            } else {
                Discard::Default
            });
            if let Err(e) = self.dec.send_packet(p) {
                out.error.get_or_insert(e.to_string());
            }
            self.drain(&mut out, |f| {
                f.pts().or(f.timestamp()).filter(|t| targets.contains(t))
            });
            if out.frames.len() == targets.len() {
                return out;
            }
        }
        self.dec.skip_frame(Discard::Default);
        // Flushing outputs the frames still held for reordering.
        let _ = self.dec.send_eof();
        self.drain(&mut out, |f| {
            f.pts().or(f.timestamp()).filter(|t| targets.contains(t))
        });
        out
    }

    /// Mode B, for streams whose packets lack usable pts: decodes everything; returns each output frame's
    /// best-effort timestamp in output order and RGB copies of the output ordinals in `want`.
    pub fn decode_all(
        &mut self,
        packets: &[Packet],
        want: &BTreeSet<usize>,
    ) -> (Vec<Option<i64>>, Output<usize>) {
        let mut out = Output {
            frames: HashMap::new(),
            error: None,
        };
        let mut stamps = Vec::new();
        let mut frame = ff::frame::Video::empty();
        let mut step = |dec: &mut Self, out: &mut Output<usize>, stamps: &mut Vec<Option<i64>>| {
            while dec.dec.receive_frame(&mut frame).is_ok() {
                if want.contains(&stamps.len()) {
                    match dec.convert(&frame) {
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
        };
        for p in packets {
            if let Err(e) = self.dec.send_packet(p) {
                out.error.get_or_insert(e.to_string());
            }
            step(self, &mut out, &mut stamps);
        }
        let _ = self.dec.send_eof();
        step(self, &mut out, &mut stamps);
        (stamps, out)
    }

    /// Receives every frame ready now; converts the ones `key` maps to a wanted key.
    fn drain(&mut self, out: &mut Output<i64>, key: impl Fn(&ff::frame::Video) -> Option<i64>) {
        let mut frame = ff::frame::Video::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            let Some(k) = key(&frame) else { continue };
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
