//! CSV / TSV tables: a header row, then one record per row. Every column is read as Utf8 text, exactly
//! as written (an empty field is the empty string, not null), so a row survives a round trip
//! unchanged; [`super::columns`] parses numbers and timestamps from the text when asked.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::csv_guard::{Guard, GuardError};
use super::{ReadOptions, RowError};
use crate::{Error, Result};

/// The bytes under the csv reader: the file through the [`Guard`] (record length, unclosed quotes).
type Source = BufReader<Guard<File>>;

/// A csv reader configured the same way for every pass over a table (row numbering must agree).
pub(crate) fn reader(path: &Path, delimiter: u8) -> Result<csv::Reader<Source>> {
    let f = super::open_table_file(path)?;
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        // Records with a wrong field count are reported by row below, not by the csv crate.
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, Guard::new(f, delimiter))))
}

pub(crate) struct CsvReader {
    path: PathBuf,
    inner: csv::Reader<Source>,
    schema: SchemaRef,
    /// Field index in the file of each output column.
    indices: Vec<usize>,
    n_fields: usize,
    batch_size: usize,
    lenient: bool,
}

impl CsvReader {
    pub(crate) fn open(path: &Path, delimiter: u8, opts: &ReadOptions) -> Result<Self> {
        let mut inner = reader(path, delimiter)?;
        let headers: Vec<String> = inner
            .headers()
            .map_err(|e| csv_error(path, &e))?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_string())
            .collect();
        if headers.len() > super::MAX_COLUMNS {
            return Err(super::too_many_columns(path, Some(1), Some(headers.len())));
        }
        check_unique_names(headers.iter().map(String::as_str), path)?;
        let indices: Vec<usize> = match &opts.columns {
            None => (0..headers.len()).collect(),
            Some(cols) => cols
                .iter()
                .map(|c| {
                    headers.iter().position(|h| h == c).ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "{}: no column `{c}` in the header (columns: {})",
                            path.display(),
                            headers.join(", ")
                        ))
                    })
                })
                .collect::<Result<_>>()?,
        };
        let schema = Arc::new(Schema::new(
            indices
                .iter()
                .map(|&i| Field::new(&headers[i], DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let batch_size = super::rows_per_batch(opts.batch_size, indices.len());
        Ok(Self {
            path: path.to_path_buf(),
            inner,
            schema,
            indices,
            n_fields: headers.len(),
            batch_size,
            lenient: opts.lenient,
        })
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub(crate) fn next_batch(
        &mut self,
        first_row: u64,
    ) -> Result<Option<(RecordBatch, Vec<RowError>)>> {
        let mut builders: Vec<StringBuilder> = self
            .indices
            .iter()
            .map(|_| StringBuilder::with_capacity(self.batch_size, self.batch_size * 8))
            .collect();
        let mut errors = Vec::new();
        let mut rec = csv::ByteRecord::new();
        let mut n = 0usize;
        while n < self.batch_size {
            let more = self
                .inner
                .read_byte_record(&mut rec)
                .map_err(|e| csv_error(&self.path, &e))?;
            if !more {
                break;
            }
            let row = first_row + n as u64;
            n += 1;
            let line = rec.position().map_or(0, |p| p.line());
            let problem = if rec.len() != self.n_fields {
                Some(format!(
                    "{} field(s), the header has {}",
                    rec.len(),
                    self.n_fields
                ))
            } else {
                self.indices
                    .iter()
                    .find_map(|&i| std::str::from_utf8(&rec[i]).err())
                    .map(|e| format!("not UTF-8 text ({e})"))
            };
            if let Some(msg) = problem {
                if !self.lenient {
                    return Err(Error::InvalidInput(format!(
                        "{}:{line}: {msg}",
                        self.path.display()
                    )));
                }
                errors.push(RowError::new(row, &self.path, line, msg));
                builders.iter_mut().for_each(StringBuilder::append_null);
                continue;
            }
            for (b, &i) in builders.iter_mut().zip(&self.indices) {
                // Checked just above.
                b.append_value(std::str::from_utf8(&rec[i]).unwrap_or_default());
            }
        }
        if n == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = builders
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .map_err(|e| Error::InvalidInput(format!("{}: {e}", self.path.display())))?;
        Ok(Some((batch, errors)))
    }
}

pub(crate) fn csv_error(path: &Path, e: &csv::Error) -> Error {
    let at = e
        .position()
        .map(|p| format!(":{}", p.line()))
        .unwrap_or_default();
    match e.kind() {
        // The guard's findings are about the table's content, with their own line.
        csv::ErrorKind::Io(io) if GuardError::of(io).is_some() => Error::InvalidInput(format!(
            "{}:{}",
            path.display(),
            GuardError::of(io).map_or(String::new(), |g| format!("{}: {}", g.line, g.msg))
        )),
        // A failed read is not a malformed table.
        csv::ErrorKind::Io(io) => Error::io(path, std::io::Error::new(io.kind(), e.to_string())),
        _ => Error::InvalidInput(format!("{}{at}: {e}", path.display())),
    }
}

/// Refuses a table with two columns of one name: which one a reader meant would be a guess, and an
/// output carrying both cannot be read back by name (pyarrow: "Multiple matches for FieldRef").
pub(crate) fn check_unique_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
    path: &Path,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(Error::InvalidInput(format!(
                "{}: column `{name}` appears more than once in the header; rename one of them",
                path.display()
            )));
        }
    }
    Ok(())
}
