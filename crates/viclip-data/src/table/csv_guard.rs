//! What the csv crate does not check, checked on the bytes it reads: a record longer than
//! [`MAX_LINE_BYTES`], and a quoted field that never closes.
//!
//! The csv crate reads a quoted field up to its closing quote whatever lies between, and ends a quoted
//! field that reaches the end of the file without a word. A quoted field may hold line breaks (legal
//! CSV), so an unbalanced quote (`a.mp4,"a dog`) silently turns every following record into one
//! field. [`Guard`] follows the quoting exactly as the csv reader does (csv-core's states with the
//! settings of [`super::csv::reader`]: `"` quotes, `""` escapes, `\r` and `\n` end records, a leading
//! UTF-8 byte order mark is skipped) and fails the read, naming the line where the quote opened, when
//! a quoted field reaches the end of the file or spans more than [`MAX_QUOTED_FIELD_LINES`] lines.

use std::io::{self, Read};

use super::MAX_QUOTED_FIELD_LINES;
use viclip::limits::MAX_LINE_BYTES;

/// Why the guard stopped a read (carried inside an `io::Error`, told apart from a failed read by
/// [`GuardError::of`]).
#[derive(Debug)]
pub(crate) struct GuardError {
    /// The line the message is about.
    pub line: u64,
    pub msg: String,
}

impl std::fmt::Display for GuardError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

impl std::error::Error for GuardError {}

impl GuardError {
    /// The guard's error inside `e`, if `e` is one.
    pub(crate) fn of(e: &io::Error) -> Option<&GuardError> {
        e.get_ref()?.downcast_ref::<GuardError>()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field (or of a record).
    StartField,
    /// Inside an unquoted field: a quote here is an ordinary byte.
    InField,
    /// Inside a quoted field.
    Quoted,
    /// A quote inside a quoted field: the field's end, or the first half of an escaped `""`.
    QuoteInQuoted,
}

/// A reader that passes bytes through while following the CSV quoting (see the module docs).
pub(crate) struct Guard<R> {
    inner: R,
    delimiter: u8,
    state: State,
    /// 1-based line of the next byte.
    line: u64,
    /// Bytes of the current record so far, and the line it started on.
    record_bytes: usize,
    record_line: u64,
    /// Line where the open quoted field started, and line breaks inside it so far.
    quote_line: u64,
    quote_breaks: u64,
    /// Bytes seen so far, for the byte order mark (only the file's first three bytes).
    offset: u64,
    bom: bool,
    failed: Option<(u64, String)>,
}

const BOM: &[u8; 3] = b"\xef\xbb\xbf";

impl<R: Read> Guard<R> {
    pub(crate) fn new(inner: R, delimiter: u8) -> Self {
        Self {
            inner,
            delimiter,
            state: State::StartField,
            line: 1,
            record_bytes: 0,
            record_line: 1,
            quote_line: 0,
            quote_breaks: 0,
            offset: 0,
            bom: true,
            failed: None,
        }
    }

    fn fail(&mut self, line: u64, msg: String) -> io::Error {
        self.failed = Some((line, msg.clone()));
        io::Error::new(io::ErrorKind::InvalidData, GuardError { line, msg })
    }

    /// Follows `bytes`; the error names what went wrong and where.
    fn follow(&mut self, bytes: &[u8]) -> Result<(), (u64, String)> {
        for &c in bytes {
            if self.offset < 3 {
                self.bom &= c == BOM[self.offset as usize];
                self.offset += 1;
                if self.bom {
                    // csv-core strips a byte order mark at the start of the file.
                    continue;
                }
            }
            if self.state == State::StartField && self.record_bytes == 0 {
                self.record_line = self.line;
            }
            self.record_bytes += 1;
            let term = c == b'\n' || c == b'\r';
            self.state = match self.state {
                State::StartField | State::InField if term => {
                    self.record_bytes = 0;
                    State::StartField
                }
                State::StartField if c == b'"' => {
                    self.quote_line = self.line;
                    self.quote_breaks = 0;
                    State::Quoted
                }
                State::StartField | State::InField if c == self.delimiter => State::StartField,
                State::StartField | State::InField => State::InField,
                State::Quoted if c == b'"' => State::QuoteInQuoted,
                State::Quoted => {
                    if c == b'\n' {
                        self.quote_breaks += 1;
                        if self.quote_breaks > MAX_QUOTED_FIELD_LINES {
                            let what = format!("spans more than {MAX_QUOTED_FIELD_LINES} lines");
                            return Err((self.quote_line, self.unclosed(&what)));
                        }
                    }
                    State::Quoted
                }
                State::QuoteInQuoted if c == b'"' => State::Quoted,
                State::QuoteInQuoted if term => {
                    self.record_bytes = 0;
                    State::StartField
                }
                State::QuoteInQuoted if c == self.delimiter => State::StartField,
                State::QuoteInQuoted => State::InField,
            };
            if c == b'\n' {
                self.line += 1;
            }
            if self.record_bytes > MAX_LINE_BYTES {
                return Err((
                    self.record_line,
                    format!(
                        "the record starting here is longer than {MAX_LINE_BYTES} bytes, the most one \
                         table row may hold (viclip::limits::MAX_LINE_BYTES); is this a CSV/TSV file?"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn unclosed(&self, what: &str) -> String {
        format!(
            "the quoted field opened on this line {what}: an unbalanced `\"` would make the following \
             records part of one field; close the quote (a `\"` inside a quoted field is written `\"\"`)"
        )
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((line, msg)) = self.failed.clone() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                GuardError { line, msg },
            ));
        }
        let n = self.inner.read(buf)?;
        if n == 0 && buf.is_empty() {
            return Ok(0);
        }
        if n == 0 && self.state == State::Quoted {
            let msg = self.unclosed("is still open at the end of the file");
            return Err(self.fail(self.quote_line, msg));
        }
        if let Err((line, msg)) = self.follow(&buf[..n]) {
            return Err(self.fail(line, msg));
        }
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<(), String> {
        let mut g = Guard::new(text.as_bytes(), b',');
        let mut out = Vec::new();
        g.read_to_end(&mut out)
            .map(|_| ())
            .map_err(|e| GuardError::of(&e).unwrap().to_string())
    }

    #[test]
    fn quotes_are_followed_like_the_csv_reader() {
        assert!(check("a,b\n\"x\ny\",2\n\"say \"\"hi\"\"\",3\nab\"c,4\n").is_ok());
        assert!(check("\u{feff}\"a\",b\r\n1,2").is_ok());
        let e = check("a,b\n1,\"open\n2,x\n3,y\n").unwrap_err();
        assert!(
            e.starts_with("line 2: the quoted field opened on this line is still open"),
            "{e}"
        );
        let long = format!(
            "a,b\n1,\"{}\"\n",
            "x\n".repeat(MAX_QUOTED_FIELD_LINES as usize + 1)
        );
        assert!(check(&long).unwrap_err().contains("spans more than"));
        let ok = format!(
            "a,b\n1,\"{}\"\n",
            "x\n".repeat(MAX_QUOTED_FIELD_LINES as usize)
        );
        assert!(check(&ok).is_ok());
    }
}
