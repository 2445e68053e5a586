//! Clip spans and the timestamps that bound them (`12.5`, `MM:SS(.mmm)`, `HH:MM:SS(.mmm)`, as in
//! InternVid's `Start_timestamp` / `End_timestamp` and video2dataset's `clips`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A half-open time range `[start, end)` of a video, in microseconds from the video stream's first frame
/// (its `start_time`, what a player shows as 0:00). A frame belongs to the span when its presentation
/// time `t` satisfies `start <= t < end`, so consecutive spans `[a, b)`, `[b, c)` share no frame. `end =
/// None` runs to the end of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClipSpan {
    /// Start, microseconds from the stream's first frame (inclusive).
    pub start_us: i64,
    /// End, microseconds from the stream's first frame (exclusive); `None`: the end of the stream.
    pub end_us: Option<i64>,
}

impl ClipSpan {
    /// The whole video.
    pub fn whole() -> Self {
        ClipSpan {
            start_us: 0,
            end_us: None,
        }
    }

    /// `[start, end)` in seconds (rounded to microseconds). Validity (start < end, inside the video) is
    /// checked when decoding, so a bad span is reported with its file.
    pub fn from_secs(start: f64, end: f64) -> Self {
        ClipSpan {
            start_us: (start * 1e6).round() as i64,
            end_us: Some((end * 1e6).round() as i64),
        }
    }

    /// [`Self::from_secs`] for seconds a caller did not make itself (a table, a binding): a NaN,
    /// infinite or out-of-range (beyond ±9.2e12 s, what microseconds in an `i64` hold) start or end
    /// is refused with [`Error::InvalidInput`] rather than saturated into a span nobody asked for.
    pub fn try_from_secs(start: f64, end: f64) -> Result<Self> {
        const MAX_SECS: f64 = i64::MAX as f64 / 1e6;
        for (what, v) in [("start", start), ("end", end)] {
            if !v.is_finite() || v.abs() >= MAX_SECS {
                return Err(Error::InvalidInput(format!(
                    "span [{start}, {end}): the {what} {v} is not a time in seconds; give finite \
                     seconds (or a timestamp such as \"00:01:10.5\")"
                )));
            }
        }
        Ok(Self::from_secs(start, end))
    }

    /// Parses `start` and, if given, `end` with [`parse_timestamp`].
    pub fn parse(start: &str, end: Option<&str>) -> Result<Self> {
        Ok(ClipSpan {
            start_us: parse_timestamp(start)?,
            end_us: end.map(parse_timestamp).transpose()?,
        })
    }

    /// Whether the span is the whole video (from 0, no end).
    pub fn is_whole(&self) -> bool {
        self.start_us <= 0 && self.end_us.is_none()
    }

    /// The start in seconds.
    pub fn start_secs(&self) -> f64 {
        self.start_us as f64 / 1e6
    }

    /// The end in seconds, `None` for the end of the stream.
    pub fn end_secs(&self) -> Option<f64> {
        self.end_us.map(|e| e as f64 / 1e6)
    }
}

impl Default for ClipSpan {
    fn default() -> Self {
        Self::whole()
    }
}

/// `HH:MM:SS.mmm` (hours omitted when zero), microseconds shown only when present.
pub fn format_timestamp(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    let (h, m, s, frac) = (
        us / 3_600_000_000,
        us / 60_000_000 % 60,
        us / 1_000_000 % 60,
        us % 1_000_000,
    );
    let frac = if frac % 1000 == 0 {
        format!("{:03}", frac / 1000)
    } else {
        format!("{frac:06}")
    };
    format!("{sign}{h:02}:{m:02}:{s:02}.{frac}")
}

impl fmt::Display for ClipSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.end_us {
            None if self.start_us <= 0 => f.write_str("whole file"),
            None => write!(f, "span [{}, end)", format_timestamp(self.start_us)),
            Some(e) => write!(
                f,
                "span [{}, {})",
                format_timestamp(self.start_us),
                format_timestamp(e)
            ),
        }
    }
}

/// Parses a timestamp into microseconds: plain seconds (`12`, `12.5`, `12.5s`), `MM:SS(.fff)` or
/// `HH:MM:SS(.fff)`; a comma may stand for the decimal point (SRT style). Digits past microseconds are
/// rounded. Exact decimal arithmetic, so `00:00:03.160` is exactly 3 160 000 us.
pub fn parse_timestamp(s: &str) -> Result<i64> {
    let bad = |why: &str| {
        Error::InvalidInput(format!(
            "timestamp `{s}`: {why}; expected seconds (`12.5`), `MM:SS(.mmm)` or `HH:MM:SS(.mmm)`"
        ))
    };
    let t = s.trim();
    let t = t.strip_suffix('s').unwrap_or(t).replace(',', ".");
    if t.is_empty() || t.starts_with('-') {
        return Err(bad("empty or negative"));
    }
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() > 3 {
        return Err(bad("too many `:` fields"));
    }
    let (last, whole_fields) = parts.split_last().ok_or_else(|| bad("empty"))?;
    let (sec, frac) = last.split_once('.').unwrap_or((last, ""));
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    if !digits(sec) || !(frac.is_empty() || digits(frac)) {
        return Err(bad("not a number"));
    }
    let mut total: i64 = 0;
    for (i, field) in whole_fields.iter().enumerate() {
        if !digits(field) {
            return Err(bad("not a number"));
        }
        let v: i64 = field.parse().map_err(|_| bad("field too large"))?;
        // Minutes (in HH:MM:SS) must be < 60; the leading field may be anything.
        if i > 0 && v >= 60 {
            return Err(bad("minutes must be < 60"));
        }
        total = total
            .checked_mul(60)
            .and_then(|x| x.checked_add(v))
            .ok_or_else(|| bad("too large"))?;
    }
    let secs: i64 = sec.parse().map_err(|_| bad("seconds too large"))?;
    if !whole_fields.is_empty() && secs >= 60 {
        return Err(bad("seconds must be < 60 after a `:`"));
    }
    // Fraction to microseconds, rounding half up on the 7th digit.
    let mut frac_us: i64 = 0;
    for (i, b) in frac.bytes().take(7).enumerate() {
        let d = i64::from(b - b'0');
        if i < 6 {
            frac_us = frac_us * 10 + d;
        } else if d >= 5 {
            frac_us += 1;
        }
    }
    for _ in frac.len()..6 {
        frac_us *= 10;
    }
    // `total` is 0 without `:` fields, so this is just `secs` then.
    total
        .checked_mul(60)
        .and_then(|m| m.checked_add(secs))
        .and_then(|x| x.checked_mul(1_000_000))
        .and_then(|x| x.checked_add(frac_us))
        .ok_or_else(|| bad("too large"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_exactly() {
        let p = |s| parse_timestamp(s).ok();
        assert_eq!(p("00:00:03.160"), Some(3_160_000));
        assert_eq!(p("3.16"), Some(3_160_000));
        assert_eq!(p("01:02"), Some(62_000_000));
        assert_eq!(p("1:02:03.5"), Some(3_723_500_000));
        assert_eq!(p("7"), Some(7_000_000));
        assert_eq!(p("2.5s"), Some(2_500_000));
        assert_eq!(p("00:00:01,25"), Some(1_250_000));
        assert_eq!(p("0.0000005"), Some(1));
        for bad in [
            "", "-1", "1:2:3:4", "a", "1:60", "1:61:00", "1.2.3", "1:", ":5",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn spans_display_half_open() {
        let s = ClipSpan::parse("00:00:03.160", Some("7")).unwrap();
        assert_eq!(s.to_string(), "span [00:00:03.160, 00:00:07.000)");
        assert_eq!(ClipSpan::whole().to_string(), "whole file");
    }
}
