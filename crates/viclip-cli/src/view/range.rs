//! Serving a video file by clip id with HTTP range requests (RFC 9110): `206 Partial Content` for
//! one satisfiable byte range, `416` with `Content-Range: bytes */LEN` for an unsatisfiable one,
//! `304` for a matching `If-None-Match` / `If-Modified-Since`, `If-Range` honoured, a strong `ETag`
//! from size and modification time and `Last-Modified`. Several ranges in one request are answered
//! with the whole file (allowed: a server may ignore `Range`).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::{ViewError, ViewResult};

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// 200, the whole file.
    Full,
    /// 206, bytes `start..=end`.
    Partial(u64, u64),
    /// 416.
    Unsatisfiable,
    /// 304.
    NotModified,
}

/// The validators of a file.
#[derive(Debug, Clone)]
pub struct Validators {
    /// Strong entity tag, quoted.
    pub etag: String,
    /// Modification time, whole seconds (HTTP dates have no finer resolution).
    pub modified: SystemTime,
}

impl Validators {
    /// From a file's size and modification time.
    pub fn new(len: u64, modified: SystemTime) -> Self {
        let d = modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        Validators {
            etag: format!("\"{len:x}-{:x}{:08x}\"", d.as_secs(), d.subsec_nanos()),
            modified: UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        }
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against a file of `len` bytes: `None` if not one range of
/// bytes (then the whole file is sent), else the range or `Unsatisfiable`.
pub fn parse_range(value: &str, len: u64) -> Option<Decision> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.trim().split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| {
        s.parse::<u64>()
            .ok()
            .filter(|_| s.bytes().all(|c| c.is_ascii_digit()))
    };
    if a.is_empty() {
        let n = num(b)?;
        return Some(if n == 0 || len == 0 {
            Decision::Unsatisfiable
        } else {
            Decision::Partial(len.saturating_sub(n), len - 1)
        });
    }
    let start = num(a)?;
    let end = if b.is_empty() { u64::MAX } else { num(b)? };
    if end < start {
        return None; // syntactically invalid: ignored, as RFC 9110 says
    }
    if start >= len {
        return Some(Decision::Unsatisfiable);
    }
    Some(Decision::Partial(start, end.min(len - 1)))
}

/// What to answer a GET with these headers for a file of `len` bytes.
pub fn decide(h: &HeaderMap, len: u64, v: &Validators) -> Decision {
    if let Some(inm) = header_str(h, header::IF_NONE_MATCH) {
        if etag_listed(inm, &v.etag) {
            return Decision::NotModified;
        }
    } else if let Some(ims) =
        header_str(h, header::IF_MODIFIED_SINCE).and_then(|s| httpdate::parse_http_date(s).ok())
    {
        if v.modified <= ims {
            return Decision::NotModified;
        }
    }
    let Some(range) = header_str(h, header::RANGE) else {
        return Decision::Full;
    };
    if let Some(ir) = header_str(h, header::IF_RANGE) {
        let fresh = if ir.trim_start().starts_with('"') {
            ir.trim() == v.etag
        } else {
            httpdate::parse_http_date(ir).is_ok_and(|t| t == v.modified)
        };
        if !fresh {
            return Decision::Full;
        }
    }
    parse_range(range, len).unwrap_or(Decision::Full)
}

/// The MIME type browsers expect for a video file's extension.
pub fn content_type(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("mp4" | "m4v") => "video/mp4",
        Some("webm") => "video/webm",
        Some("mkv") => "video/x-matroska",
        Some("mov") => "video/quicktime",
        Some("avi") => "video/x-msvideo",
        _ => "application/octet-stream",
    }
}

/// The response to a GET (or HEAD, `head`) of `path` with request headers `h`; the body is
/// streamed from the file.
pub async fn serve_file(path: &Path, h: &HeaderMap, head: bool) -> ViewResult<Response> {
    let io = |e: std::io::Error| ViewError::Internal(format!("{}: {e}", path.display()));
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let meta = file.metadata().await.map_err(io)?;
    let len = meta.len();
    let v = Validators::new(len, meta.modified().unwrap_or(UNIX_EPOCH));
    let decision = decide(h, len, &v);
    let mut r = Response::builder()
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, &v.etag)
        .header(header::LAST_MODIFIED, httpdate::fmt_http_date(v.modified))
        .header(header::CACHE_CONTROL, "no-cache");
    let (status, start, n) = match decision {
        Decision::NotModified => (StatusCode::NOT_MODIFIED, 0, 0),
        Decision::Unsatisfiable => {
            r = r.header(header::CONTENT_RANGE, format!("bytes */{len}"));
            (StatusCode::RANGE_NOT_SATISFIABLE, 0, 0)
        }
        Decision::Full => (StatusCode::OK, 0, len),
        Decision::Partial(a, b) => {
            r = r.header(header::CONTENT_RANGE, format!("bytes {a}-{b}/{len}"));
            (StatusCode::PARTIAL_CONTENT, a, b - a + 1)
        }
    };
    let sends = matches!(status, StatusCode::OK | StatusCode::PARTIAL_CONTENT);
    if sends {
        r = r.header(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(path)),
        );
        r = r.header(header::CONTENT_LENGTH, n);
    }
    let body = if sends && !head {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io)?;
        Body::from_stream(tokio_util::io::ReaderStream::new(file.take(n)))
    } else {
        Body::empty()
    };
    r.status(status)
        .body(body)
        .map_err(|e| ViewError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Decision::Partial(0, 9)));
        assert_eq!(
            parse_range("bytes=90-", 100),
            Some(Decision::Partial(90, 99))
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Some(Decision::Partial(90, 99))
        );
        assert_eq!(
            parse_range("bytes=-1000", 100),
            Some(Decision::Partial(0, 99))
        );
        assert_eq!(
            parse_range("bytes=50-1000", 100),
            Some(Decision::Partial(50, 99))
        );
        assert_eq!(
            parse_range("bytes=100-", 100),
            Some(Decision::Unsatisfiable)
        );
        assert_eq!(parse_range("bytes=-0", 100), Some(Decision::Unsatisfiable));
        assert_eq!(parse_range("bytes=9-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-9", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
        assert_eq!(parse_range("bytes=+1-2", 100), None);
    }

    #[test]
    fn conditionals() {
        let v = Validators::new(100, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, "bytes=0-1".parse().unwrap());
        assert_eq!(decide(&h, 100, &v), Decision::Partial(0, 1));
        h.insert(header::IF_RANGE, "\"other\"".parse().unwrap());
        assert_eq!(decide(&h, 100, &v), Decision::Full);
        h.insert(header::IF_RANGE, v.etag.parse().unwrap());
        assert_eq!(decide(&h, 100, &v), Decision::Partial(0, 1));
        let date = httpdate::fmt_http_date(v.modified);
        h.insert(header::IF_RANGE, date.parse().unwrap());
        assert_eq!(decide(&h, 100, &v), Decision::Partial(0, 1));
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, v.etag.parse().unwrap());
        assert_eq!(decide(&h, 100, &v), Decision::NotModified);
        let mut h = HeaderMap::new();
        h.insert(header::IF_MODIFIED_SINCE, date.parse().unwrap());
        assert_eq!(decide(&h, 100, &v), Decision::NotModified);
    }
}
