//! Timestamps of clip spans, read leniently: plain seconds (`12.5`, `3`), `MM:SS(.fff)` and
//! `HH:MM:SS(.fff)`, as InternVid's `Start_timestamp` / `End_timestamp` strings (`00:00:03.160`) and
//! video2dataset's `clips` write them (docs/reference/datasets.md §4.2). A comma is accepted as the decimal separator
//! (`00:00:03,160`, as SRT subtitles write it) because such files circulate beside InternVid's.

use crate::{Error, Result};

/// Parses one timestamp into seconds.
///
/// Accepted: `12`, `12.5`, `.5`, `01:02.5` (1 min 2.5 s), `1:02:03.160` (1 h 2 min 3.16 s), with
/// surrounding whitespace. The leading field may exceed its usual range (`75:00` is 75 minutes,
/// `130.5` is 130.5 s), the fields after a colon may not (`00:75` is rejected): that is how a typo in
/// a span is caught instead of silently read as another time. Negative and non-finite values are
/// rejected.
///
/// ```
/// use viclip_data::table::parse_seconds;
/// assert_eq!(parse_seconds("00:00:03.160").unwrap(), 3.16);
/// assert_eq!(parse_seconds("01:30").unwrap(), 90.0);
/// assert_eq!(parse_seconds("7.25").unwrap(), 7.25);
/// assert!(parse_seconds("00:61").is_err());
/// ```
pub fn parse_seconds(s: &str) -> Result<f64> {
    parse_inner(s).ok_or_else(|| {
        Error::InvalidInput(format!(
            "timestamp `{s}`: expected seconds (12.5), MM:SS(.mmm) or HH:MM:SS(.mmm)"
        ))
    })
}

fn parse_inner(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let fields: Vec<&str> = s.split(':').collect();
    if fields.len() > 3 {
        return None;
    }
    let (last, leading) = fields.split_last()?;
    let secs = parse_decimal(last)?;
    if leading.is_empty() {
        return Some(secs);
    }
    // After a colon the seconds field is below 60, and so is a minutes field that follows hours.
    if secs >= 60.0 {
        return None;
    }
    let mut total = 0.0f64;
    for (i, f) in leading.iter().enumerate() {
        let v = parse_integer(f)?;
        if i > 0 && v >= 60 {
            return None;
        }
        total = total * 60.0 + v as f64;
    }
    Some(total * 60.0 + secs)
}

/// Digits with an optional fraction (`.` or `,`); no sign, no exponent.
fn parse_decimal(f: &str) -> Option<f64> {
    let f = f.trim();
    let (int, frac) = match f.find(['.', ',']) {
        Some(i) => (&f[..i], Some(&f[i + 1..])),
        None => (f, None),
    };
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    if !digits(int)
        || !frac.is_none_or(digits)
        || (int.is_empty() && frac.is_none_or(str::is_empty))
    {
        return None;
    }
    let v: f64 = format!(
        "{}.{}",
        if int.is_empty() { "0" } else { int },
        frac.unwrap_or("0")
    )
    .parse()
    .ok()?;
    v.is_finite().then_some(v)
}

fn parse_integer(f: &str) -> Option<u64> {
    let f = f.trim();
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    f.parse().ok()
}
