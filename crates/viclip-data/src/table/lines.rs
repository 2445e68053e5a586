//! Rows of a JSON Lines file as raw lines: the parser and the verbatim row copy read the same lines, so
//! they agree on row numbers.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use viclip::{Error, Result};

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Non-blank lines of a file with their 1-based line numbers, as raw bytes (the verbatim copy in
/// [`super::copy`] and the parser below must agree on what a row is).
pub(crate) struct Lines {
    path: PathBuf,
    inner: BufReader<File>,
    line_no: u64,
}

impl Lines {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            inner: BufReader::with_capacity(1 << 20, f),
            line_no: 0,
        })
    }

    /// The next non-blank line (terminator included) and its line number.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> Result<Option<u64>> {
        loop {
            buf.clear();
            let n = self
                .inner
                .read_until(b'\n', buf)
                .map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                return Ok(None);
            }
            if self.line_no == 0 && buf.starts_with(BOM) {
                // A UTF-8 byte order mark (as Windows editors write) is not part of the first row.
                buf.drain(..BOM.len());
            }
            self.line_no += 1;
            if !buf.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(self.line_no));
            }
        }
    }
}
