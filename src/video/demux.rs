//! Opening a video, accurate seeking and reading the packets of a time range (no decoding here).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use ff::codec::packet::Packet;
use ffmpeg_next as ff;

use super::convert::rotation_of;
use super::open::open_input;

/// What the decoder and the span arithmetic need to know about the chosen video stream.
#[derive(Clone)]
pub(crate) struct StreamInfo {
    pub index: usize,
    /// Time base `num / den` seconds per tick.
    pub tb_num: i64,
    pub tb_den: i64,
    /// Pts of time 0 (the stream's `start_time`; 0 when the container does not say).
    pub origin: i64,
    /// Stream (or container) duration in seconds, when known; only for messages.
    pub duration_s: Option<f64>,
    /// The video stream's own declared duration (mp4 has one, Matroska does not): a file whose frames
    /// stop well before it is truncated.
    pub stream_duration_s: Option<f64>,
    /// Ticks per frame from the nominal frame rate, to number frames of streams without timestamps.
    pub frame_ticks: Option<i64>,
    /// Clockwise rotation from the stream's display matrix (0, 90, 180, 270).
    pub rotation: u16,
    pub parameters: ff::codec::Parameters,
}

/// What a packet is, without its data: enough to plan the decoding. 24 bytes (the timestamps use
/// FFmpeg's `AV_NOPTS_VALUE` for "none" rather than `Option`, which would take 40): a group's index of
/// [`crate::limits::MAX_GROUP_PACKETS`] packets stays under 26 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PacketMeta {
    pts: i64,
    dts: i64,
    key: bool,
}

const NONE: i64 = ff::ffi::AV_NOPTS_VALUE;

impl PacketMeta {
    fn of(p: &Packet) -> Self {
        PacketMeta {
            pts: p.pts().unwrap_or(NONE),
            dts: p.dts().unwrap_or(NONE),
            key: p.is_key(),
        }
    }

    /// Presentation time, when the container gives one.
    pub fn pts(&self) -> Option<i64> {
        (self.pts != NONE).then_some(self.pts)
    }

    /// Decode time, when the container gives one.
    pub fn dts(&self) -> Option<i64> {
        (self.dts != NONE).then_some(self.dts)
    }

    /// Whether the packet starts a keyframe.
    pub fn key(&self) -> bool {
        self.key
    }
}

/// How a read was positioned, so that [`Source::replay`] reads the same packets again.
#[derive(Debug, Clone, Copy)]
enum Start {
    Top,
    Seek(i64),
}

/// The video packets of a time range, in decode order (metadata only: the data is read again when
/// decoding, so memory does not grow with the length of the range).
pub(crate) struct Range {
    pub packets: Vec<PacketMeta>,
    /// The end of the file was reached (so nothing exists after the last packet).
    pub eof: bool,
    /// A read error other than end of file stopped the read (truncated or corrupt file).
    pub error: Option<String>,
    /// The range holds more than the packet bound the scan was given; `packets` stops there.
    pub too_many: bool,
    start: Start,
    from: i64,
    to: i64,
}

/// An opened container positioned somewhere in its video stream.
pub(crate) struct Source {
    path: PathBuf,
    ictx: ff::format::context::Input,
    /// Nothing has been read since the file was opened, so reading starts at the first packet.
    at_start: bool,
    pub info: StreamInfo,
}

/// The first packet after a seek came too late: seek further back.
struct SeekedPastStart;

/// At most this many `AVERROR_INVALIDDATA` packets in a row are skipped before the read gives up.
const MAX_INVALID_IN_A_ROW: usize = 1000;
/// H.264/HEVC reorder at most 16 frames: once 16 packets in a row lie past the end (streams without
/// dts), no later packet can still fall inside the range.
const MAX_REORDER: usize = 16;

impl Source {
    /// Opens `path` and picks its best video stream. Errors are messages; the caller adds file and span.
    pub fn open(path: &Path) -> Result<Self, String> {
        super::check_video_path(path).map_err(|e| match e {
            crate::Error::Decode { msg, .. } => msg,
            e => e.to_string(),
        })?;
        let ictx = open_input(path)?;
        let stream = ictx
            .streams()
            .best(ff::media::Type::Video)
            .ok_or("the file has no video stream")?;
        let tb = stream.time_base();
        let (tb_num, tb_den) = (i64::from(tb.numerator()), i64::from(tb.denominator()));
        if tb_num <= 0 || tb_den <= 0 {
            return Err(format!(
                "the video stream has an invalid time base {tb_num}/{tb_den}"
            ));
        }
        let origin = match stream.start_time() {
            ff::ffi::AV_NOPTS_VALUE => 0,
            t => t,
        };
        let stream_duration_s = match stream.duration() {
            d if d > 0 => Some(d as f64 * tb_num as f64 / tb_den as f64),
            _ => None,
        };
        let duration_s =
            stream_duration_s.or((ictx.duration() > 0).then(|| ictx.duration() as f64 / 1e6));
        let fps = [stream.avg_frame_rate(), stream.rate()]
            .into_iter()
            .find(|r| r.numerator() > 0 && r.denominator() > 0);
        let frame_ticks = fps.map(|r| {
            let num = i128::from(tb_den) * i128::from(r.denominator());
            let den = i128::from(tb_num) * i128::from(r.numerator());
            ((num + den / 2) / den).clamp(1, i128::from(i64::MAX)) as i64
        });
        let rotation = stream
            .side_data()
            .find(|d| d.kind() == ff::codec::packet::side_data::Type::DisplayMatrix)
            .map_or(0, |d| rotation_of(d.data()));
        let info = StreamInfo {
            index: stream.index(),
            tb_num,
            tb_den,
            origin,
            duration_s,
            stream_duration_s,
            frame_ticks,
            rotation,
            parameters: stream.parameters(),
        };
        Ok(Source {
            path: path.to_path_buf(),
            ictx,
            at_start: true,
            info,
        })
    }

    /// Microseconds after time 0 -> the first stream tick at or after it (exact rational arithmetic, so
    /// a frame exactly on a span boundary is decided correctly).
    pub fn us_to_ts(&self, us: i64) -> i64 {
        let num = i128::from(us) * i128::from(self.info.tb_den);
        let den = i128::from(self.info.tb_num) * 1_000_000;
        let q = num.div_euclid(den) + i128::from(num.rem_euclid(den) != 0);
        (i128::from(self.info.origin) + q).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// Stream ticks -> seconds after time 0.
    pub fn ts_to_secs(&self, ts: i64) -> f64 {
        (ts - self.info.origin) as f64 * self.info.tb_num as f64 / self.info.tb_den as f64
    }

    /// Scans the video packets needed to decode every frame with pts in `[start, end)`: from the last
    /// keyframe at or before `start` up to the first packet whose dts reaches `end`.
    ///
    /// Accurate seek: demuxers seek by dts and may land on a keyframe whose pts is already past `start`
    /// (B-frame delay) or on a later one (coarse indexes). The first keyframe read must have pts <= start,
    /// so every frame of the range comes after it in decode order; otherwise seek again 1, 2, 4, ... s
    /// earlier, and from the top of the file once the target reaches time 0.
    ///
    /// Stops once the range holds more than `max_packets` packets (`too_many`), so a span of millions
    /// of tiny packets costs no more than the bound.
    pub fn scan(&mut self, from: i64, to: i64, max_packets: usize) -> Range {
        let second = (self.info.tb_den / self.info.tb_num).max(1);
        let mut back = second;
        let mut target = from;
        loop {
            let start = match self.position(target) {
                Ok(s) => s,
                Err(e) => {
                    return Range {
                        packets: Vec::new(),
                        eof: false,
                        error: Some(e),
                        too_many: false,
                        start: Start::Top,
                        from,
                        to,
                    }
                }
            };
            let check = matches!(start, Start::Seek(_));
            let mut packets = Vec::new();
            let mut too_many = false;
            match self.read_until(from, to, check, &mut |p| {
                if packets.len() >= max_packets {
                    too_many = true;
                    return ControlFlow::Break(());
                }
                packets.push(PacketMeta::of(p));
                ControlFlow::Continue(())
            }) {
                Ok((eof, error)) => {
                    packets.shrink_to_fit();
                    return Range {
                        packets,
                        eof,
                        error,
                        too_many,
                        start,
                        from,
                        to,
                    };
                }
                Err(SeekedPastStart) => {
                    target = target.saturating_sub(back);
                    back = back.saturating_mul(2);
                }
            }
        }
    }

    /// Reads the packets of `range` again, in the same order, handing each with its index to `f` until
    /// `f` breaks or the range ends. Fails if the packets differ from the scan (file changed).
    pub fn replay(
        &mut self,
        range: &Range,
        f: &mut dyn FnMut(usize, &Packet) -> ControlFlow<()>,
    ) -> Result<(), String> {
        match range.start {
            Start::Top => self.rewind()?,
            Start::Seek(t) => self
                .seek(t)
                .map_err(|e| format!("cannot seek again ({e})"))?,
        }
        let mut i = 0;
        let mut mismatch = false;
        let _ = self.read_until(range.from, range.to, false, &mut |p| {
            if range.packets.get(i) != Some(&PacketMeta::of(p)) {
                mismatch = true;
                return ControlFlow::Break(());
            }
            i += 1;
            f(i - 1, p)
        });
        if mismatch {
            return Err(
                "the packets read a second time differ from the first read; was the file modified?"
                    .into(),
            );
        }
        Ok(())
    }

    /// Seeks for a read starting at `target`, or goes back to the top of the file.
    fn position(&mut self, target: i64) -> Result<Start, String> {
        if target > self.info.origin && self.seek(target).is_ok() {
            return Ok(Start::Seek(target));
        }
        self.rewind()?;
        Ok(Start::Top)
    }

    fn seek(&mut self, ts: i64) -> Result<(), ff::Error> {
        // `avformat_seek_file` with stream -1 takes AV_TIME_BASE (us) on the stream clock.
        let us = i128::from(ts) * i128::from(self.info.tb_num) * 1_000_000
            / i128::from(self.info.tb_den);
        let us = us.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        self.ictx.seek(us, ..us)?;
        self.at_start = false;
        Ok(())
    }

    /// Back to the first packet. Reopening is the one way that works for every demuxer, seekable or not.
    fn rewind(&mut self) -> Result<(), String> {
        if !self.at_start {
            self.ictx = open_input(&self.path).map_err(|e| format!("cannot reopen: {e}"))?;
            self.at_start = true;
        }
        Ok(())
    }

    /// Reads video packets from the current position, from the first keyframe on, handing each to `f`
    /// until the range `[.., to)` is complete, `f` breaks, or the file ends. Returns (eof, read error).
    fn read_until(
        &mut self,
        from: i64,
        to: i64,
        check: bool,
        f: &mut dyn FnMut(&Packet) -> ControlFlow<()>,
    ) -> Result<(bool, Option<String>), SeekedPastStart> {
        let mut seen_key = false;
        let (mut invalid, mut past_end) = (0usize, 0usize);
        loop {
            // A fresh packet each time: `av_read_frame` fills the packet it is given without releasing
            // what that packet held, so a reused one leaked every packet read but the last (all of a
            // file's packet data, once per read of it).
            let mut pkt = Packet::empty();
            match pkt.read(&mut self.ictx) {
                Ok(()) => invalid = 0,
                Err(ff::Error::Eof) => return Ok((true, None)),
                Err(ff::Error::InvalidData) if invalid < MAX_INVALID_IN_A_ROW => {
                    invalid += 1;
                    continue;
                }
                Err(e) => return Ok((false, Some(e.to_string()))),
            }
            self.at_start = false;
            if pkt.stream() != self.info.index {
                continue;
            }
            if !seen_key {
                // Packets before the first keyframe cannot be decoded (a decoder drops them too).
                if !pkt.is_key() {
                    continue;
                }
                seen_key = true;
                if check && pkt.pts().is_some_and(|p| p > from) {
                    return Err(SeekedPastStart);
                }
            }
            let done = match pkt.dts() {
                // dts <= pts and dts only grows: nothing after this packet is shown before `to`.
                Some(d) => d >= to,
                None => {
                    past_end = if pkt.pts().is_some_and(|p| p >= to) {
                        past_end + 1
                    } else {
                        0
                    };
                    past_end > MAX_REORDER
                }
            };
            if done || f(&pkt).is_break() {
                return Ok((false, None));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_packet_index_entry_is_24_bytes() {
        // The per-packet cost docs/limits.md states (MAX_GROUP_PACKETS x 24 B).
        assert_eq!(std::mem::size_of::<super::PacketMeta>(), 24);
    }
}
