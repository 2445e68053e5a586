//! Opening a video, accurate seeking and reading the packets of a time range (no decoding here).

use std::path::{Path, PathBuf};

use ff::codec::packet::Packet;
use ffmpeg_next as ff;

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
    pub parameters: ff::codec::Parameters,
}

/// The video packets of one read, in decode order.
pub(crate) struct Range {
    pub packets: Vec<Packet>,
    /// The end of the file was reached (so nothing exists after the last packet).
    pub eof: bool,
    /// A read error other than end of file stopped the read (truncated or corrupt file).
    pub error: Option<String>,
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
        if !path.exists() {
            return Err("file not found; check the path".into());
        }
        let ictx = ff::format::input(&path).map_err(|e| {
            format!("cannot open as a video ({e}); is it a complete mp4/webm/mkv file?")
        })?;
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
        let info = StreamInfo {
            index: stream.index(),
            tb_num,
            tb_den,
            origin,
            duration_s,
            stream_duration_s,
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

    /// Reads the video packets needed to decode every frame with pts in `[start, end)`: from the last
    /// keyframe at or before `start` up to the first packet whose dts reaches `end`.
    ///
    /// Accurate seek: demuxers seek by dts and may land on a keyframe whose pts is already past `start`
    /// (B-frame delay) or on a later one (coarse indexes). The first keyframe read must have pts <= start,
    /// so every frame of the range comes after it in decode order; otherwise seek again 1, 2, 4, ... s
    /// earlier, and from the top of the file once the target reaches time 0.
    pub fn read_range(&mut self, start: i64, end: i64) -> Range {
        let second = (self.info.tb_den / self.info.tb_num).max(1);
        let mut back = second;
        let mut target = start;
        loop {
            let mut check = true;
            if target <= self.info.origin || self.seek(target).is_err() {
                if let Err(e) = self.rewind() {
                    return Range {
                        packets: Vec::new(),
                        eof: false,
                        error: Some(e),
                    };
                }
                check = false;
            }
            match self.read_until(start, end, check) {
                Ok(r) => return r,
                Err(SeekedPastStart) => {
                    target = target.saturating_sub(back);
                    back = back.saturating_mul(2);
                }
            }
        }
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
            self.ictx =
                ff::format::input(&self.path).map_err(|e| format!("cannot reopen ({e})"))?;
            self.at_start = true;
        }
        Ok(())
    }

    fn read_until(&mut self, start: i64, end: i64, check: bool) -> Result<Range, SeekedPastStart> {
        let mut packets = Vec::new();
        let mut seen_key = false;
        let (mut invalid, mut past_end) = (0usize, 0usize);
        loop {
            let mut pkt = Packet::empty();
            match pkt.read(&mut self.ictx) {
                Ok(()) => invalid = 0,
                Err(ff::Error::Eof) => return Ok(range(packets, true, None)),
                Err(ff::Error::InvalidData) if invalid < MAX_INVALID_IN_A_ROW => {
                    invalid += 1;
                    continue;
                }
                Err(e) => return Ok(range(packets, false, Some(e.to_string()))),
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
                if check && pkt.pts().is_some_and(|p| p > start) {
                    return Err(SeekedPastStart);
                }
            }
            let done = match pkt.dts() {
                // dts <= pts and dts only grows: nothing after this packet is shown before `end`.
                Some(d) => d >= end,
                None => {
                    past_end = if pkt.pts().is_some_and(|p| p >= end) {
                        past_end + 1
                    } else {
                        0
                    };
                    past_end > MAX_REORDER
                }
            };
            if done {
                return Ok(range(packets, false, None));
            }
            packets.push(pkt);
        }
    }
}

fn range(packets: Vec<Packet>, eof: bool, error: Option<String>) -> Range {
    Range {
        packets,
        eof,
        error,
    }
}
