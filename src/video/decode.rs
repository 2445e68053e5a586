//! Decoding packets and converting the wanted frames to RGB, doing no more work than the
//! sampling needs.

use std::collections::{BTreeSet, HashMap};

use ff::codec::discard::Discard;
use ff::codec::packet::Packet;
use ff::codec::{threading, Id};
use ffmpeg_next as ff;

use super::convert::{rotate, Converter};
use super::demux::PacketMeta;
use crate::preprocess::RgbFrame;
use crate::preprocess::{ColorInfo, RgbConversion};

/// A video decoder plus the RGB converter for its output.
pub(crate) struct Decoder {
    dec: ff::decoder::Video,
    conv: Converter,
    /// Clockwise rotation applied to every converted frame.
    rotation: u16,
    /// Whether this codec honours `skip_frame = NONREF` without corrupting reference frames.
    nonref_skip_ok: bool,
}

/// One converted frame and how it was converted.
#[derive(Debug, Clone)]
pub(crate) struct Converted {
    pub rgb: RgbFrame,
    pub color: ColorInfo,
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
    pub frames: HashMap<K, Converted>,
    /// The first decode error, if any (corrupt data); frames may be missing then.
    pub error: Option<String>,
    /// Packets sent to the decoder.
    pub sent: usize,
    /// Packets the decoder refused plus frames it flagged as damaged (bit rot): the lost frames.
    pub lost: usize,
}

impl<K> Default for Output<K> {
    fn default() -> Self {
        Output {
            frames: HashMap::new(),
            error: None,
            sent: 0,
            lost: 0,
        }
    }
}

/// Whether the decoder flagged a frame as damaged (concealed errors or missing references).
fn damaged(frame: &ff::frame::Video) -> bool {
    // SAFETY: a decoded frame's fields are readable.
    let f = unsafe { &*frame.as_ptr() };
    f.decode_error_flags != 0 || f.flags & ff::ffi::AV_FRAME_FLAG_CORRUPT != 0
}

impl Decoder {
    /// `threads`: 0 lets FFmpeg pick, 1 decodes on the calling thread. Frames are converted as `mode`
    /// says and turned clockwise by `rotation` degrees.
    pub fn new(
        params: ff::codec::Parameters,
        threads: usize,
        mode: RgbConversion,
        rotation: u16,
    ) -> Result<Self, String> {
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
            conv: Converter::new(mode),
            rotation,
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
        out.sent += 1;
        if let Err(e) = self.dec.send_packet(p) {
            out.lost += 1;
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
            out.lost += usize::from(damaged(&frame));
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
        out.sent += usize::from(p.is_some());
        let sent = match p {
            Some(p) => self.dec.send_packet(p),
            None => self.dec.send_eof(),
        };
        if let Err(e) = sent {
            out.lost += usize::from(p.is_some());
            out.error.get_or_insert(e.to_string());
        }
        let mut frame = ff::frame::Video::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            out.lost += usize::from(damaged(&frame));
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

    /// Converts a decoded frame to RGB24 as the chosen reader does, then applies the rotation.
    fn convert(&mut self, frame: &ff::frame::Video) -> Result<Converted, String> {
        let rgb = rotate(self.conv.convert(frame)?, self.rotation);
        let color = ColorInfo {
            rotation: self.rotation,
            ..Converter::info(frame)
        };
        Ok(Converted { rgb, color })
    }
}
