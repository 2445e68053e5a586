//! JSON Lines tables (InternVid's annotation files): one object per line, blank lines skipped.
//!
//! Column types are inferred from the first `infer_rows` rows (see [`ReadOptions`]) so that every
//! batch of one table has the same arrow schema: integers -> Int64 (UInt64 when some exceed `i64::MAX`
//! and none is negative, so they are carried unchanged), any mix of integers and floats -> Float64, booleans -> Boolean, strings and everything else (mixed types, arrays, objects) -> Utf8
//! holding the string or the value's JSON text. Keys keep the order of their first appearance. A later
//! value that does not fit (a fraction in an Int64 column) is an error naming the line; projected reads
//! ([`ReadOptions::columns`]) read every number as Float64, so they never hit that case.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{Field, Schema, SchemaRef};
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::jsonl_types::{build_array, check_kind, kind_of_type, Kind};
pub(crate) use super::lines::{too_long_message, Line, Lines};
use super::{ReadOptions, RowError};
use crate::{Error, Result};

/// Reads one object, keeping only the keys `filter` knows (all keys when `None`), in file order.
struct RowSeed<'a> {
    filter: Option<&'a HashMap<String, usize>>,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Vec<(String, Value)>;
    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Vec<(String, Value)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if self.filter.is_some_and(|f| !f.contains_key(&key)) {
                map.next_value::<IgnoredAny>()?;
            } else {
                let v = map.next_value::<Value>()?;
                out.push((key, v));
            }
        }
        Ok(out)
    }
}

fn parse_row(
    line: &(Line, Vec<u8>),
    filter: Option<&HashMap<String, usize>>,
) -> std::result::Result<Vec<(String, Value)>, String> {
    let (info, line) = line;
    if info.too_long {
        return Err(too_long_message());
    }
    // serde_json's positions count lines within this one line; the caller names the file line.
    let describe = |e: serde_json::Error| {
        let text = e.to_string();
        let what = text.split(" at line ").next().unwrap_or(&text).to_string();
        format!("malformed JSON ({what}, column {})", e.column())
    };
    let mut de = serde_json::Deserializer::from_slice(line);
    let row = RowSeed { filter }.deserialize(&mut de).map_err(describe)?;
    de.end().map_err(describe)?;
    Ok(row)
}

pub(crate) struct JsonlReader {
    path: PathBuf,
    lines: Lines,
    schema: SchemaRef,
    kinds: Vec<Kind>,
    index: HashMap<String, usize>,
    /// With a projection, keys outside it are skipped; without one they are an error (see module doc).
    projected: bool,
    pending: VecDeque<(Line, Vec<u8>)>,
    batch_size: usize,
    lenient: bool,
    infer_rows: usize,
}

/// The rows held for schema inference: the first `infer_rows` (at least one), bounded in bytes too
/// (1024 rows of 16 MiB would be 16 GiB).
fn first_rows(lines: &mut Lines, infer_rows: usize) -> Result<VecDeque<(Line, Vec<u8>)>> {
    let mut pending = VecDeque::new();
    let mut buf = Vec::new();
    let mut pending_bytes = 0usize;
    while pending.len() < infer_rows.max(1) && pending_bytes < super::MAX_INFER_BYTES {
        match lines.next_line(&mut buf)? {
            Some(line) => {
                pending_bytes += buf.len();
                pending.push_back((line, std::mem::take(&mut buf)));
            }
            None => break,
        }
    }
    Ok(pending)
}

/// The columns of the held rows: names (the projection's first, in its order), the merged kind of
/// each, whether any row had it, and the name-to-position index.
#[allow(clippy::type_complexity)]
fn infer_columns(
    path: &Path,
    pending: &VecDeque<(Line, Vec<u8>)>,
    opts: &ReadOptions,
    projection: Option<&HashMap<String, usize>>,
) -> Result<(Vec<String>, Vec<Kind>, Vec<bool>, HashMap<String, usize>)> {
    let mut names: Vec<String> = opts.columns.clone().unwrap_or_default();
    let mut kinds = vec![Kind::Null; names.len()];
    let mut seen = vec![false; names.len()];
    let mut index: HashMap<String, usize> = projection.cloned().unwrap_or_default();
    for line in pending {
        let row = match parse_row(line, projection) {
            Ok(r) => r,
            Err(_) if opts.lenient => continue,
            Err(e) => return Err(bad_line(path, line.0.no, &e)),
        };
        for (k, v) in row {
            let i = match index.get(&k) {
                Some(&i) => i,
                None if names.len() >= super::MAX_COLUMNS => {
                    return Err(super::too_many_columns(path, Some(line.0.no), None));
                }
                None => {
                    index.insert(k.clone(), names.len());
                    names.push(k);
                    kinds.push(Kind::Null);
                    seen.push(false);
                    names.len() - 1
                }
            };
            kinds[i] = kinds[i].merge(Kind::of(&v));
            seen[i] = true;
        }
    }
    Ok((names, kinds, seen, index))
}

impl JsonlReader {
    /// Opens `path`, infers the schema from its first rows (or uses `schema` from an earlier file of
    /// the same table, so all files share one schema).
    pub(crate) fn open(path: &Path, opts: &ReadOptions, schema: Option<SchemaRef>) -> Result<Self> {
        let mut lines = Lines::open(path)?;
        let pending = first_rows(&mut lines, opts.infer_rows)?;
        let projection: Option<HashMap<String, usize>> = opts
            .columns
            .as_ref()
            .map(|c| c.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect());
        let (names, mut kinds, seen, mut index) =
            infer_columns(path, &pending, opts, projection.as_ref())?;
        if let Some(missing) = names.iter().zip(&seen).find(|(_, s)| !**s).map(|(n, _)| n) {
            if schema.is_none() && !pending.is_empty() {
                return Err(Error::InvalidInput(format!(
                    "{}: no key `{missing}` in the first {} row(s); check the column name (keys seen: {})",
                    path.display(),
                    pending.len(),
                    keys_seen(&pending)
                )));
            }
        }
        if projection.is_some() {
            // A projected read feeds numbers to consumers that want f64 (scores, spans); reading every
            // number as Float64 spares them an integer column whose later rows hold fractions.
            kinds
                .iter_mut()
                .filter(|k| matches!(k, Kind::NonNeg | Kind::Int | Kind::UInt))
                .for_each(|k| *k = Kind::Float);
        }
        let schema = match schema {
            Some(s) => {
                index = s
                    .fields()
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.name().clone(), i))
                    .collect();
                kinds = s
                    .fields()
                    .iter()
                    .map(|f| kind_of_type(f.data_type()))
                    .collect();
                s
            }
            None => Arc::new(Schema::new(
                names
                    .iter()
                    .zip(&kinds)
                    .map(|(n, k)| Field::new(n, k.data_type(), true))
                    .collect::<Vec<_>>(),
            )),
        };
        let batch_size = super::rows_per_batch(opts.batch_size, kinds.len());
        Ok(Self {
            path: path.to_path_buf(),
            lines,
            schema,
            kinds,
            index,
            projected: opts.columns.is_some(),
            pending,
            batch_size,
            lenient: opts.lenient,
            infer_rows: opts.infer_rows,
        })
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The next batch of at most `batch_size` rows; `first_row` numbers the rows for error messages.
    pub(crate) fn next_batch(
        &mut self,
        first_row: u64,
    ) -> Result<Option<(RecordBatch, Vec<RowError>)>> {
        let ncol = self.kinds.len();
        let mut cells: Vec<Vec<Option<Value>>> = vec![Vec::with_capacity(self.batch_size); ncol];
        let mut errors = Vec::new();
        let mut n = 0usize;
        let mut buf = Vec::new();
        let filter = self.projected.then_some(&self.index);
        while n < self.batch_size {
            let line = match self.pending.pop_front() {
                Some(x) => x,
                None => match self.lines.next_line(&mut buf)? {
                    Some(l) => (l, std::mem::take(&mut buf)),
                    None => break,
                },
            };
            let no = line.0.no;
            let row = first_row + n as u64;
            for c in cells.iter_mut() {
                c.push(None);
            }
            n += 1;
            let fields = match parse_row(&line, filter) {
                Ok(f) => f,
                Err(e) if self.lenient => {
                    errors.push(RowError::new(row, &self.path, no, e));
                    continue;
                }
                Err(e) => return Err(bad_line(&self.path, no, &e)),
            };
            for (k, v) in fields {
                let Some(&i) = self.index.get(&k) else {
                    let msg = format!(
                        "key `{k}` does not appear in the first {} row(s) that fixed the columns; read more rows to infer the columns from",
                        self.infer_rows
                    );
                    if !self.lenient {
                        return Err(bad_line(&self.path, no, &msg));
                    }
                    push_once(&mut errors, RowError::new(row, &self.path, no, msg));
                    continue;
                };
                match check_kind(self.kinds[i], &v) {
                    Ok(()) => cells[i][n - 1] = Some(v),
                    Err(expected) => {
                        let msg = format!(
                            "column `{k}` holds {v}, but the first {} row(s) made it {expected}; read more rows to infer the columns from, so they show its type",
                            self.infer_rows
                        );
                        if !self.lenient {
                            return Err(bad_line(&self.path, no, &msg));
                        }
                        push_once(&mut errors, RowError::new(row, &self.path, no, msg));
                    }
                }
            }
        }
        if n == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = cells
            .iter()
            .zip(&self.kinds)
            .map(|(c, k)| build_array(*k, c))
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

/// Keeps the first problem of a row only: a row of a million unknown keys is one error, not a million.
fn push_once(errors: &mut Vec<RowError>, e: RowError) {
    if errors.last().is_none_or(|last| last.row != e.row) {
        errors.push(e);
    }
}

fn bad_line(path: &Path, line: u64, msg: &str) -> Error {
    Error::InvalidInput(format!("{}:{line}: {msg}", path.display()))
}

fn keys_seen(pending: &VecDeque<(Line, Vec<u8>)>) -> String {
    let mut keys: Vec<String> = Vec::new();
    for line in pending.iter().take(16) {
        if let Ok(row) = parse_row(line, None) {
            for (k, _) in row {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
    }
    keys.join(", ")
}
