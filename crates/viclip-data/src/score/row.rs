//! The fields of one table row: the video file (a path column or a file-name pattern, with the
//! extension fallback), the clip span (start / end columns or a video2dataset `clips` cell).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::columns::{video_candidates, Columns, VIDEO_EXTENSIONS};
use super::shard_rows::{RowFailure, RowStatus};
use crate::table::StrColumn;
use viclip::video::{parse_timestamp, ClipSpan};

/// The `{column}` names of a file-name pattern.
pub(crate) fn pattern_fields(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = p;
    while let Some(a) = rest.find('{') {
        let Some(b) = rest[a..].find('}') else { break };
        let name = rest[a + 1..a + b].to_string();
        if !out.contains(&name) {
            out.push(name);
        }
        rest = &rest[a + b + 1..];
    }
    out
}

pub(crate) fn start_end_span(
    start: Option<&StrColumn>,
    end: Option<&StrColumn>,
    i: usize,
    row: u64,
    cols: &Columns,
) -> std::result::Result<ClipSpan, RowFailure> {
    let bad = |m: String| RowFailure::new(RowStatus::BadSpan, format!("row {row}: {m}"));
    let get = |c: Option<&StrColumn>,
               name: &Option<String>|
     -> std::result::Result<Option<i64>, RowFailure> {
        let Some(c) = c else { return Ok(None) };
        let name = name.as_deref().unwrap_or_default();
        match c.get(i).map(str::trim).filter(|s| !s.is_empty()) {
            None => Err(bad(format!("column `{name}` is empty; give a timestamp"))),
            Some(t) => parse_timestamp(t)
                .map(Some)
                .map_err(|e| bad(format!("column `{name}`: {e}"))),
        }
    };
    let s = get(start, &cols.start)?.unwrap_or(0);
    let e = get(end, &cols.end)?;
    Ok(ClipSpan {
        start_us: s,
        end_us: e,
    })
}

/// The one span of a video2dataset `clips` cell: `[[s, e]]` or `[s, e]`, numbers or timestamps.
pub(crate) fn clips_span(
    cell: std::result::Result<Option<serde_json::Value>, String>,
    row: u64,
    name: &str,
) -> std::result::Result<ClipSpan, RowFailure> {
    use serde_json::Value;
    let bad = |m: String| {
        RowFailure::new(
            RowStatus::BadSpan,
            format!("row {row}: column `{name}`: {m}"),
        )
    };
    let v = cell
        .map_err(bad)?
        .ok_or_else(|| bad("is empty; give [[start, end]]".into()))?;
    let pair = match &v {
        Value::Array(a) if a.len() == 2 && !a[0].is_array() => a.clone(),
        Value::Array(a) if a.len() == 1 => match &a[0] {
            Value::Array(p) if p.len() == 2 => p.clone(),
            _ => return Err(bad(format!("`{v}` is not [[start, end]]"))),
        },
        Value::Array(a) if a.len() > 1 => {
            return Err(bad(format!(
                "holds {} spans; `viclip score` writes one row per input row, so give one clip per row \
                 (explode the clips list first)",
                a.len()
            )))
        }
        _ => return Err(bad(format!("`{v}` is not [[start, end]]"))),
    };
    let t = |x: &Value| match x {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| *s >= 0.0)
            .map(|s| (s * 1e6).round() as i64)
            .ok_or_else(|| bad(format!("`{x}` is not a valid time"))),
        Value::String(s) => parse_timestamp(s).map_err(|e| bad(e.to_string())),
        _ => Err(bad(format!("`{x}` is not a time"))),
    };
    Ok(ClipSpan {
        start_us: t(&pair[0])?,
        end_us: Some(t(&pair[1])?),
    })
}

/// Finds video files, trying [`VIDEO_EXTENSIONS`], with a cache: many rows share a file.
pub(crate) struct Resolver {
    root: PathBuf,
    cache: HashMap<String, std::result::Result<PathBuf, String>>,
}

impl Resolver {
    /// A resolver of paths relative to `root` ([`Columns::root_for`]).
    pub(crate) fn new(root: PathBuf) -> Self {
        Resolver {
            root,
            cache: HashMap::new(),
        }
    }

    pub(crate) fn resolve(
        &mut self,
        name: &str,
        row: u64,
    ) -> std::result::Result<PathBuf, RowFailure> {
        if self.cache.len() > 100_000 {
            self.cache.clear(); // bounded memory on huge tables; it only saves stat calls
        }
        let root = self.root.clone();
        let found = self
            .cache
            .entry(name.to_string())
            .or_insert_with(|| find_video(&root, name));
        found
            .clone()
            .map_err(|m| RowFailure::new(RowStatus::MissingVideo, format!("row {row}: {m}")))
    }
}

fn find_video(root: &Path, name: &str) -> std::result::Result<PathBuf, String> {
    let mut candidates = video_candidates(root, name).into_iter();
    let Some(p) = candidates.next() else {
        return Err(format!("{name}: no video name"));
    };
    if p.is_file() {
        return Ok(p);
    }
    // What the path is when it exists but is not a file; reported when no candidate is a file.
    let mut special = not_special(&p).err();
    for c in candidates {
        if c.is_file() {
            return Ok(c);
        }
        special = special.or_else(|| not_special(&c).err());
    }
    if let Some(s) = special {
        return Err(s);
    }
    if p.exists() {
        // A FIFO, device or directory under the video's name: say what it is (never opened).
        if let Err(m) = viclip::fsutil::check_regular_file(&p, "a video file") {
            return Err(format!("{}: {m}", p.display()));
        }
    }
    Err(format!(
        "{}: no such video (also tried .{}); relative paths resolve against the run's video root \
         (default: the table's directory): check it and the file-name pattern",
        p.display(),
        VIDEO_EXTENSIONS.join(", .")
    ))
}

/// Refuses a path that exists but is not a regular file: handing a FIFO or a device to the decoder
/// would block or read forever, and "no such video" would send the user looking for a missing file.
fn not_special(p: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(p) {
        Ok(m) => m,
        // A link that leads nowhere exists all the same: a loop or a dangling link is said to be one,
        // not "no such video".
        Err(e) if std::fs::symlink_metadata(p).is_ok() => {
            let what = if e.kind() == std::io::ErrorKind::NotFound {
                "is a symbolic link to a missing file; fix or remove the link".into()
            } else {
                viclip::fsutil::io_message(&e)
            };
            return Err(format!("{}: {what}", p.display()));
        }
        Err(_) => return Ok(()),
    };
    let t = meta.file_type();
    let what = if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        return Ok(());
    };
    Err(format!("{}: is {what}, not a video file", p.display()))
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A symlink loop or a dangling link under a video's name is said to be one, not "no such video".
    #[test]
    fn links_that_lead_nowhere_are_named() {
        let dir = std::env::temp_dir().join(format!("viclip-row-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.mp4"), dir.join("b.mp4"));
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let e = find_video(&dir, "a.mp4").unwrap_err();
        assert!(e.contains("a.mp4: is a symlink loop"), "{e}");
        std::os::unix::fs::symlink(dir.join("gone.mp4"), dir.join("c.mp4")).unwrap();
        let e = find_video(&dir, "c.mp4").unwrap_err();
        assert!(e.contains("symbolic link to a missing file"), "{e}");
        assert!(find_video(&dir, "d.mp4")
            .unwrap_err()
            .contains("no such video"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
