//! Opening the files a user names (videos, checkpoints, configs, tables, text lists) so that nothing
//! but a regular file is ever read, and reading their lines with a bound.
//!
//! A check by path followed by an open by path leaves a window in which the path can be replaced: a
//! video path swapped for a FIFO between the check and the open blocks the reader in `open(2)`
//! forever. [`open_regular`] therefore opens once, with `O_NONBLOCK` (opening a FIFO without a writer
//! returns at once instead of waiting for one), checks the descriptor with `fstat(2)`, and hands back
//! that very descriptor: what is read is what was checked.

use std::fs::File;
use std::io::{self, BufRead};
use std::path::Path;

/// Why a user-named path could not be opened as a regular file.
#[derive(Debug)]
pub enum OpenError {
    /// `open(2)` or `fstat(2)` failed: a missing file, no permission, a symlink loop.
    Io(io::Error),
    /// The path names a FIFO, a device, a socket or a directory; the text says which and what to pass.
    NotRegular(String),
}

impl OpenError {
    /// What went wrong, without the path (callers put the path and the clip or row in front).
    pub fn message(&self) -> String {
        match self {
            OpenError::Io(e) => io_message(e),
            OpenError::NotRegular(m) => m.clone(),
        }
    }

    /// The error as [`crate::Error`]: [`crate::Error::Io`] for a failed open (with the system's text,
    /// but "is a symlink loop" for one), [`crate::Error::InvalidInput`] naming the path for a file of
    /// the wrong kind.
    pub fn into_error(self, path: &Path) -> crate::Error {
        match self {
            // The system's own words for a missing file or a denied permission; a symlink loop is
            // said to be one (its system text, "too many levels of symbolic links", is obscure).
            OpenError::Io(e) if is_loop(&e) => {
                let msg = io_message(&e);
                crate::Error::io(path, io::Error::new(e.kind(), msg))
            }
            OpenError::Io(e) => crate::Error::io(path, e),
            OpenError::NotRegular(m) => {
                crate::Error::InvalidInput(format!("{}: {m}", path.display()))
            }
        }
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for OpenError {}

fn is_loop(e: &io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ELOOP);
    #[cfg(not(unix))]
    return false;
}

/// The message for a failed `open` / `stat` of a user-named path: a loop of symbolic links is said to
/// be one (the OS reports it as an error of its own, which "no such file" would hide).
pub fn io_message(e: &io::Error) -> String {
    if is_loop(e) {
        return "is a symlink loop (too many levels of symbolic links); fix or remove the link"
            .into();
    }
    match e.kind() {
        io::ErrorKind::NotFound => "file not found; check the path".into(),
        io::ErrorKind::PermissionDenied => format!("cannot open ({e}); check its permissions"),
        _ => format!("cannot open ({e})"),
    }
}

/// `Ok` when `path` is a regular file (after following links); otherwise a message saying what it is,
/// e.g. `"is a FIFO, not a video file; pass a regular file"` for `what = "a video file"`, or that it is
/// a symlink loop. Opening a FIFO or a device would block or read forever, so commands check their
/// inputs with this first; what is then read must come from [`open_regular`], which
/// checks the opened descriptor itself (a path can change between a check and an open).
pub fn check_regular_file(path: &Path, what: &str) -> std::result::Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| io_message(&e))?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(());
    }
    Err(format!(
        "is {}, not {what}; pass a regular file",
        kind_name(&ft)
    ))
}

/// Opens `path` for reading if it is a regular file (after following links), in one `open` whose
/// descriptor is then checked with `fstat` and returned: a path replaced by a FIFO or a device between
/// any earlier check and this open is refused here, never blocks and is never read. `what` names the
/// expected file in the message, e.g. `"a video file"` gives "is a FIFO, not a video file; pass a
/// regular file".
pub fn open_regular(path: &Path, what: &str) -> Result<File, OpenError> {
    // A stat by path first: it names a FIFO or a device without opening it at all (opening some
    // devices has effects of its own). The open below is what guards against a swap after this.
    let meta = std::fs::metadata(path).map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type(), what));
    }
    let file = open_nonblocking(path).map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type(), what));
    }
    Ok(file)
}

/// [`open_regular`] with its error as [`crate::Error`] (see [`OpenError::into_error`]).
pub fn open_regular_file(path: &Path, what: &str) -> crate::Result<File> {
    open_regular(path, what).map_err(|e| e.into_error(path))
}

/// The whole of a regular file (see [`open_regular`]), for the small files read at once (`.npy`
/// arrays, vocabularies).
pub fn read_regular(path: &Path, what: &str) -> crate::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_regular_file(path, what)?
        .read_to_end(&mut bytes)
        .map_err(|e| crate::Error::io(path, e))?;
    Ok(bytes)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let file = std::fs::OpenOptions::new()
        .read(true)
        // O_NOCTTY: a terminal named by the path must not become the process's controlling terminal.
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)?;
    // Back to blocking reads once the descriptor is known to be a regular file (for which O_NONBLOCK
    // means nothing, but code handed the descriptor should see ordinary flags).
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor owned by `file`, which outlives both calls.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

fn not_regular(ft: &std::fs::FileType, what: &str) -> OpenError {
    OpenError::NotRegular(format!(
        "is {}, not {what}; pass a regular file",
        kind_name(ft)
    ))
}

/// "a directory", "a FIFO", "a character device", ... for a file that is not a regular file.
pub(crate) fn kind_name(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        } else if ft.is_char_device() {
            return "a character device";
        } else if ft.is_block_device() {
            return "a block device";
        } else if ft.is_socket() {
            return "a socket";
        }
    }
    "not a regular file"
}

/// How a bounded line read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRead {
    /// The end of the input: no byte was read.
    Eof,
    /// A line (with its `\n`, unless it is the last line of the input) is in the buffer.
    Line,
    /// The line is longer than the bound: the buffer holds its first `max` bytes, and the rest of the
    /// line (up to and including its `\n`) has been read past without being kept.
    TooLong,
}

/// `read_until(b'\n')` that never keeps more than `max` bytes of one line: a file whose tail is
/// gigabytes without a newline costs `max` bytes of memory, not its size. `buf` is cleared first.
pub fn read_line_bounded<R: BufRead + ?Sized>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (take, done) = match memchr_newline(chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if !too_long {
            let room = max.saturating_sub(buf.len());
            if take > room {
                buf.extend_from_slice(&chunk[..room]);
                too_long = true;
            } else {
                buf.extend_from_slice(&chunk[..take]);
            }
        }
        r.consume(take);
        if done {
            break;
        }
    }
    Ok(match (any, too_long) {
        (false, _) => LineRead::Eof,
        (true, false) => LineRead::Line,
        (true, true) => LineRead::TooLong,
    })
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines_keep_at_most_the_bound() {
        let data = b"short\n0123456789abcdef\nlast".to_vec();
        let mut r = io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 8).unwrap(),
            LineRead::Line
        );
        assert_eq!(buf, b"short\n");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 8).unwrap(),
            LineRead::TooLong
        );
        assert_eq!(buf, b"01234567");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 8).unwrap(),
            LineRead::Line
        );
        assert_eq!(buf, b"last");
        assert_eq!(
            read_line_bounded(&mut r, &mut buf, 8).unwrap(),
            LineRead::Eof
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("viclip-fsutil-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe.mp4");
        let _ = std::fs::remove_file(&fifo);
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer ever opens the FIFO: a blocking open would wait forever here.
        let e = open_nonblocking(&fifo).and_then(|f| f.metadata());
        assert!(e.is_ok_and(|m| !m.is_file()));
        let e = open_regular(&fifo, "a video file").unwrap_err();
        assert_eq!(
            e.message(),
            "is a FIFO, not a video file; pass a regular file"
        );
        let loop_a = dir.join("loop_a");
        let loop_b = dir.join("loop_b");
        let _ = std::fs::remove_file(&loop_a);
        let _ = std::fs::remove_file(&loop_b);
        std::os::unix::fs::symlink(&loop_b, &loop_a).unwrap();
        std::os::unix::fs::symlink(&loop_a, &loop_b).unwrap();
        let e = open_regular(&loop_a, "a table").unwrap_err();
        assert!(e.message().contains("symlink loop"), "{e}");
        let e = open_regular(Path::new("/dev/zero"), "a table").unwrap_err();
        assert!(e.message().contains("character device"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
