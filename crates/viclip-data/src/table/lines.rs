//! Rows of a JSON Lines file as raw lines: the parser and the verbatim row copy read the same lines, so
//! they agree on row numbers.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::{Error, Result};
use viclip::fsutil::{read_line_bounded, LineRead};
use viclip::limits::MAX_LINE_BYTES;

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Non-blank lines of a file with their 1-based line numbers, as raw bytes (the verbatim copy in
/// [`super::copy`] and the parser below must agree on what a row is).
pub(crate) struct Lines {
    path: PathBuf,
    inner: BufReader<File>,
    line_no: u64,
    max: usize,
}

/// One non-blank line: its 1-based number, and whether it fits [`MAX_LINE_BYTES`] (a longer line is a
/// row of its own whose bytes were read past, not kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Line {
    pub no: u64,
    pub too_long: bool,
}

impl Lines {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let f = super::open_table_file(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            inner: BufReader::with_capacity(1 << 20, f),
            line_no: 0,
            max: MAX_LINE_BYTES,
        })
    }

    /// The next non-blank line (terminator included) and its line number. A line longer than the
    /// bound leaves its first bytes in `buf` and comes back with `too_long` set.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> Result<Option<Line>> {
        loop {
            let read = read_line_bounded(&mut self.inner, buf, self.max)
                .map_err(|e| Error::io(&self.path, e))?;
            if read == LineRead::Eof {
                return Ok(None);
            }
            if self.line_no == 0 && buf.starts_with(BOM) {
                // A UTF-8 byte order mark (as Windows editors write) is not part of the first row.
                buf.drain(..BOM.len());
            }
            self.line_no += 1;
            let too_long = read == LineRead::TooLong;
            if too_long || !buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(Line {
                    no: self.line_no,
                    too_long,
                }));
            }
        }
    }
}

/// What is wrong with a row longer than [`MAX_LINE_BYTES`].
pub(crate) fn too_long_message() -> String {
    format!(
        "the line is longer than {MAX_LINE_BYTES} bytes, the most one table row may hold \
         (viclip::limits::MAX_LINE_BYTES); is this a JSON Lines file?"
    )
}
