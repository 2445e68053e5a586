//! Decoding packets and converting the wanted frames to RGB, doing no more work than the
//! sampling needs.

use std::collections::{BTreeMap, HashMap};

use ff::codec::discard::Discard;
use ff::codec::packet::Packet;
use ff::codec::{threading, Id};
use ffmpeg_next as ff;

use super::convert::{rotate, Converter};
use super::demux::PacketMeta;
use super::FrameShape;
use crate::preprocess::RgbFrame;
use crate::preprocess::{ColorInfo, RgbConversion};

/// Which forms of a target frame are wanted: as a model frame, as an extra frame, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Need {
    pub main: bool,
    pub extra: bool,
}

/// The two sizes frames are brought to as soon as they are converted ([`FrameShape`]): the model's
/// and the extra frames'. When both are the same, one copy serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shapes {
    pub main: FrameShape,
    pub extra: FrameShape,
}

impl Shapes {
    /// Slot of `Held::frames` the extra form lives in (0: shared with the model frame).
    pub fn extra_slot(&self) -> usize {
        usize::from(self.main != self.extra)
    }
}

/// A video decoder plus the RGB converter for its output.
pub(crate) struct Decoder {
    dec: ff::decoder::Video,
    conv: Converter,
    /// Clockwise rotation applied to every converted frame.
    rotation: u16,
    /// Whether this codec honours `skip_frame = NONREF` without corrupting reference frames.
    nonref_skip_ok: bool,
    shapes: Shapes,
    /// Frames with more pixels are refused before conversion.
    max_pixels: usize,
    /// Neither the container nor probing told the frame size (e.g. a raw MJPEG stream): a refusal by
    /// FFmpeg's `max_pixels` can only be told apart from bad data by saying both.
    size_unknown: bool,
}

/// One target frame, already brought to the sizes it is wanted at (never the native RGB frame unless
/// a [`FrameShape::Native`] asked for it), and how it was converted.
#[derive(Debug)]
pub(crate) struct Held {
    /// Slot 0: the model's form (and the extra form when the shapes agree); slot 1: the extra form.
    pub frames: [Option<RgbFrame>; 2],
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
    pub frames: HashMap<K, Held>,
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

/// Frame threads for frames of `pixels` pixels: each frame thread keeps its own frames in flight, so
/// their number is capped to what [`crate::limits::DECODER_THREAD_FRAME_BYTES`] holds (one thread at
/// 8K). `threads` 0 means one per core.
pub(crate) fn frame_threads(threads: usize, pixels: usize) -> usize {
    let wanted = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from) + 1,
        n => n,
    };
    // 3 bytes a pixel: a 4:4:4 8-bit picture; 4:2:0 needs half of that.
    let fit = crate::limits::DECODER_THREAD_FRAME_BYTES / pixels.saturating_mul(3).max(1);
    wanted.min(fit).max(1)
}

impl Decoder {
    /// `threads`: 0 lets FFmpeg pick, 1 decodes on the calling thread. Frames are converted as `mode`
    /// says, turned clockwise by `rotation` degrees and brought to `shapes`; FFmpeg itself refuses
    /// frames over `max_pixels` pixels (before allocating them).
    pub fn new(
        params: ff::codec::Parameters,
        threads: usize,
        mode: RgbConversion,
        rotation: u16,
        shapes: Shapes,
        max_pixels: usize,
    ) -> Result<Self, String> {
        let id = params.id();
        let mut ctx = ff::codec::context::Context::from_parameters(params)
            .map_err(|e| format!("cannot set up a decoder ({e})"))?;
        // SAFETY: a freshly allocated codec context, not opened yet; plain fields.
        let pixels = unsafe {
            let raw = ctx.as_mut_ptr();
            (*raw).max_pixels = i64::try_from(max_pixels).unwrap_or(i64::MAX);
            usize::try_from((*raw).width).unwrap_or(0) * usize::try_from((*raw).height).unwrap_or(0)
        };
        if threads != 1 {
            ctx.set_threading(threading::Config {
                kind: threading::Type::Frame,
                count: frame_threads(threads, pixels),
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
            shapes,
            max_pixels,
            size_unknown: pixels == 0,
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
        targets: &BTreeMap<i64, Need>,
        skip: bool,
    ) -> Vec<Option<Discard>> {
        let is_target = |p: &PacketMeta| p.pts().is_some_and(|t| targets.contains_key(&t));
        let Some(last) = packets.iter().rposition(is_target) else {
            return Vec::new();
        };
        // GOP g spans packets gop_start[g]..gop_start[g + 1] in decode order.
        let mut gop = Vec::with_capacity(packets.len());
        let mut gop_start = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if i == 0 || p.key() {
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
            let key_pts = packets[gop_start[g]].pts();
            if g > 0 && matches!((p.pts(), key_pts), (Some(t), Some(k)) if t < k) {
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
        targets: &BTreeMap<i64, Need>,
        out: &mut Output<i64>,
    ) {
        self.dec.skip_frame(discard);
        out.sent += 1;
        if let Err(e) = self.dec.send_packet(p) {
            out.lost += 1;
            out.error.get_or_insert(self.describe(e));
        }
        self.drain(out, targets);
    }

    /// Flushes the frames still held for reordering.
    pub fn finish(&mut self, targets: &BTreeMap<i64, Need>, out: &mut Output<i64>) {
        self.dec.skip_frame(Discard::Default);
        let _ = self.dec.send_eof();
        self.drain(out, targets);
    }

    fn drain(&mut self, out: &mut Output<i64>, targets: &BTreeMap<i64, Need>) {
        let mut frame = ff::frame::Video::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            out.lost += usize::from(damaged(&frame));
            let Some((k, need)) = frame
                .pts()
                .or(frame.timestamp())
                .and_then(|t| Some((t, *targets.get(&t)?)))
            else {
                continue;
            };
            if out.frames.contains_key(&k) {
                continue;
            }
            match self.convert(&frame, need) {
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
        want: &BTreeMap<usize, Need>,
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
            out.error.get_or_insert(self.describe(e));
        }
        let mut frame = ff::frame::Video::empty();
        while self.dec.receive_frame(&mut frame).is_ok() {
            out.lost += usize::from(damaged(&frame));
            if let Some(&need) = want.get(&stamps.len()) {
                match self.convert(&frame, need) {
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

    /// A decoder error as a message; `EINVAL` from a stream of unknown size may be FFmpeg refusing a
    /// frame over the pixel bound, which the message then says.
    fn describe(&self, e: ff::Error) -> String {
        let einval = ff::Error::Other {
            errno: ff::util::error::EINVAL,
        };
        if self.size_unknown && e == einval {
            return format!(
                "{e}: corrupt data, or frames of more than the {} pixels a frame may have \
                 (viclip::limits::MAX_FRAME_PIXELS, docs/limits.md)",
                self.max_pixels
            );
        }
        e.to_string()
    }

    /// Converts a decoded frame to RGB24 as the chosen reader does, applies the rotation, and brings it
    /// to the shapes `need` asks for at once: the native RGB frame lives only inside this call.
    fn convert(&mut self, frame: &ff::frame::Video, need: Need) -> Result<Held, String> {
        let pixels = (frame.width() as usize).saturating_mul(frame.height() as usize);
        if pixels > self.max_pixels {
            return Err(pixel_limit_msg(
                frame.width() as usize,
                frame.height() as usize,
                self.max_pixels,
            ));
        }
        let rgb = rotate(self.conv.convert(frame)?, self.rotation);
        let color = ColorInfo {
            rotation: self.rotation,
            ..Converter::info(frame)
        };
        let slot = self.shapes.extra_slot();
        let shape = |s: FrameShape, f: &RgbFrame| s.apply(f).map_err(|e| e.to_string());
        let mut frames = [None, None];
        if need.extra && slot == 1 {
            frames[1] = Some(shape(self.shapes.extra, &rgb)?);
        }
        if need.main || (need.extra && slot == 0) {
            frames[0] = Some(match self.shapes.main {
                // The native frame itself, not a copy.
                FrameShape::Native => rgb,
                s => shape(s, &rgb)?,
            });
        }
        Ok(Held { frames, color })
    }
}

/// Why a frame of `w x h` is refused: over `max` pixels.
pub(crate) fn pixel_limit_msg(w: usize, h: usize, max: usize) -> String {
    format!(
        "the video's frames are {w}x{h} = {} pixels, more than the {max} pixels a frame may have \
         (viclip::limits::MAX_FRAME_PIXELS, docs/limits.md); downscale the video first, e.g. \
         `ffmpeg -i in -vf scale=-2:4320 out.mp4`",
        w.saturating_mul(h)
    )
}

#[cfg(test)]
mod tests {
    use super::frame_threads;

    #[test]
    fn frame_threads_shrink_with_the_frame_size() {
        assert_eq!(frame_threads(1, 1920 * 1080), 1);
        assert_eq!(frame_threads(8, 3840 * 2160), 8);
        assert_eq!(frame_threads(16, 3840 * 2160), 10, "256 MiB of 4K frames");
        assert_eq!(frame_threads(0, 8192 * 8192), 1, "8K decodes on one thread");
        assert_eq!(frame_threads(16, 16000 * 16000), 1);
        assert!(frame_threads(0, 640 * 480) >= 1);
    }
}
