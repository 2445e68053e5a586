//! Clip tables: reading and writing the row tables the crate consumes and produces, in JSON Lines
//! (InternVid's annotation files), CSV / TSV and Parquet (what `viclip score` writes), streamed in
//! record batches so a table of hundreds of millions of rows never has to fit in memory.
//!
//! The model is one arrow [`RecordBatch`] per step, whatever the file format:
//!
//! - [`Table::open`] takes a file, or a directory of files of one format, read in natural order
//!   (`2.parquet` before `10.parquet`; names starting with `.` or `_`, `*.json` files (per-shard
//!   stats) and `*.tmp` files are skipped). The output directory of a score run (it holds
//!   `table.json`) is read as its shards `NNNNN.parquet` only; other table files there are listed by
//!   [`Table::ignored`];
//! - [`Table::batches`] yields [`RowBatch`]es: the rows' arrow columns plus the table-wide index of
//!   their first row, so a consumer can tie results back to input rows; [`ReadOptions::columns`]
//!   projects to the columns a job needs (Parquet decodes only those);
//! - [`columns`] turns a column into numbers, seconds (timestamps via [`parse_seconds`]) or strings,
//!   whatever its stored type;
//! - [`Table::copy_rows`] writes chosen rows to a new file in the input's format, carrying every
//!   column through (JSON Lines and CSV byte for byte; Parquet with its schema and key-value metadata);
//! - [`TableWriter`] writes record batches (with new columns appended, say) as JSONL, CSV/TSV or
//!   Parquet, through a temporary name renamed into place on [`TableWriter::finish`], so a crash never
//!   leaves a half-written file under the final name.
//!
//! Row numbering is the same for every pass over a table: JSON Lines rows are the non-blank lines, CSV
//! rows are records after the header (a quoted field may span lines), Parquet rows are stored rows.
//! With [`ReadOptions::lenient`] a malformed row does not stop the read: it comes back as a row of
//! nulls with a [`RowError`], so rows in = rows out (what the `score` job needs); by default it is an
//! error naming the file and line.

mod batches;
pub mod columns;
mod copy;
mod csv;
mod csv_guard;
mod jsonl;
mod jsonl_types;
mod lines;
mod parquet;
mod span;
mod writer;

use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

pub use batches::Batches;
use batches::FileReader;
pub use columns::{f64_values, seconds_values, StrColumn};
pub use span::parse_seconds;
pub use writer::TableWriter;

use crate::{Error, Result};

/// A table file format, chosen by file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `.jsonl`, `.ndjson`, `.json`: one JSON object per line.
    Jsonl,
    /// `.csv`: comma-separated with a header row.
    Csv,
    /// `.tsv`, `.tab`: tab-separated with a header row.
    Tsv,
    /// `.parquet`, `.pq`.
    Parquet,
}

impl Format {
    /// The format of `path` by its extension (case-insensitive).
    pub fn from_path(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match ext.as_str() {
            "jsonl" | "ndjson" | "json" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            "tsv" | "tab" => Ok(Format::Tsv),
            "parquet" | "pq" => Ok(Format::Parquet),
            _ => Err(Error::InvalidInput(format!(
                "{}: unknown table format `.{ext}`; use .jsonl, .csv, .tsv or .parquet",
                path.display()
            ))),
        }
    }

    /// The usual extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Parquet => "parquet",
        }
    }

    pub(crate) fn delimiter(self) -> u8 {
        if self == Format::Tsv {
            b'\t'
        } else {
            b','
        }
    }
}

/// The most rows one batch holds, whatever [`ReadOptions::batch_size`] asks: readers size buffers by
/// the batch, so an absurd request must not become an absurd allocation.
pub const MAX_BATCH_ROWS: usize = 1 << 20;

/// The most cells (rows × columns) one JSONL or CSV batch holds: a file with a million columns gets
/// batches of a few rows, so a short malformed row (which becomes a row of nulls in lenient mode)
/// never costs a million cells times the batch size.
pub const MAX_BATCH_CELLS: usize = 1 << 22;

/// The most columns a table may have (a CSV / TSV header's fields, the distinct keys of the JSON Lines
/// rows that fix a schema, a Parquet schema's top-level fields). Each column costs a builder per batch
/// and an encoder per written shard, so a 1 MB CSV of 100 000 columns would cost gigabytes; caption
/// tables have tens of columns.
pub const MAX_COLUMNS: usize = 4096;

/// The most bytes of JSON Lines rows held at once to infer the column types from (the first
/// [`ReadOptions::infer_rows`] rows, fewer when they are this large): a table of huge rows is typed
/// from fewer rows rather than held whole in memory.
pub const MAX_INFER_BYTES: usize = 64 << 20;

/// The most lines one quoted CSV / TSV field may span. A field may hold line breaks (legal CSV), but
/// an unbalanced quote makes every following record part of one field: a quote still open after this
/// many lines, or at the end of the file, is an error naming the line where it opened.
pub const MAX_QUOTED_FIELD_LINES: u64 = 100;

/// The error for a table wider than [`MAX_COLUMNS`], naming the file, the line that crossed the
/// bound (when there is one) and the column count (`None`: more than the bound, not counted further).
pub(crate) fn too_many_columns(path: &Path, line: Option<u64>, count: Option<usize>) -> Error {
    let at = line.map(|l| format!(":{l}")).unwrap_or_default();
    let count = count.map_or(format!("more than {MAX_COLUMNS}"), |n| n.to_string());
    Error::InvalidInput(format!(
        "{}{at}: {count} columns, more than the {MAX_COLUMNS} a table may have \
         (viclip_data::table::MAX_COLUMNS, docs/limits.md); is the delimiter right?",
        path.display()
    ))
}

/// Opens one file of a table: regular files only, checked on the opened descriptor (a FIFO, a device
/// or a directory is refused by name and never read).
pub(crate) fn open_table_file(path: &Path) -> Result<std::fs::File> {
    Ok(viclip::fsutil::open_regular_file(path, "a table file")?)
}

/// Rows per batch for a reader of `columns` columns: [`ReadOptions::batch_size`] within
/// 1..=[`MAX_BATCH_ROWS`] and within [`MAX_BATCH_CELLS`].
pub(crate) fn rows_per_batch(batch_size: usize, columns: usize) -> usize {
    batch_size
        .min(MAX_BATCH_ROWS)
        .min(MAX_BATCH_CELLS / columns.max(1))
        .max(1)
}

/// How [`Table::batches`] reads.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Rows per batch (default 8192; values are clamped to 1..=[`MAX_BATCH_ROWS`], and JSONL / CSV
    /// batches of very wide tables hold at most [`MAX_BATCH_CELLS`] cells).
    pub batch_size: usize,
    /// Only these columns, in this order for JSONL and CSV (Parquet keeps file order; look columns up
    /// by name). `None` reads all. A name missing from the table is an error listing the columns.
    pub columns: Option<Vec<String>>,
    /// A malformed row becomes a row of nulls plus a [`RowError`] instead of an error (default off).
    pub lenient: bool,
    /// JSONL only: rows whose keys and value types fix the schema (default 1024).
    pub infer_rows: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            columns: None,
            lenient: false,
            infer_rows: 1024,
        }
    }
}

impl ReadOptions {
    /// Default options projected to `columns`.
    pub fn columns<S: AsRef<str>>(columns: &[S]) -> Self {
        Self {
            columns: Some(columns.iter().map(|c| c.as_ref().to_string()).collect()),
            ..Self::default()
        }
    }
}

/// A problem with one row, reported instead of failing the read in lenient mode.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    /// Table-wide row index.
    pub row: u64,
    /// `file:line` of the row.
    pub location: String,
    /// What is wrong with the row (bad JSON, wrong field count, ...).
    pub message: String,
}

impl RowError {
    pub(crate) fn new(row: u64, path: &Path, line: u64, message: String) -> Self {
        Self {
            row,
            location: format!("{}:{line}", path.display()),
            message,
        }
    }
}

/// Consecutive rows of a table.
#[derive(Debug, Clone)]
pub struct RowBatch {
    /// Table-wide index of the batch's first row (rows count from 0 across all files of the table).
    pub first_row: u64,
    /// The rows' columns.
    pub batch: RecordBatch,
    /// Rows that could not be read (lenient mode only); their cells are null.
    pub errors: Vec<RowError>,
}

impl RowBatch {
    /// Number of rows in the batch, failed rows included.
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }
}

/// A table: one file or a directory of files in one format.
#[derive(Debug, Clone)]
pub struct Table {
    files: Vec<PathBuf>,
    format: Format,
    display: PathBuf,
    ignored: Vec<PathBuf>,
}

impl Table {
    /// Opens a table file, or a directory whose table files all have one format.
    pub fn open(path: impl AsRef<Path>) -> Result<Table> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path)
            .map_err(|e| viclip::fsutil::OpenError::Io(e).into_error(path))?;
        if !meta.is_dir() {
            // A FIFO or a device (`/dev/zero`) is refused by name before its extension is looked at.
            open_table_file(path)?;
            return Ok(Table {
                format: Format::from_path(path)?,
                files: vec![path.to_path_buf()],
                display: path.to_path_buf(),
                ignored: Vec::new(),
            });
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let p = entry.map_err(|e| Error::io(path, e))?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // `.json` is left out here: a scored run's directory holds `{shard}_stats.json` beside
            // its shards; a directory of JSON Lines shards uses `.jsonl`.
            let json = p
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("json"));
            if p.is_file()
                && !name.starts_with(['.', '_'])
                && !json
                && Format::from_path(&p).is_ok()
            {
                files.push(p);
            }
        }
        files.sort_by(|a, b| {
            viclip::frames::natural_cmp(&a.to_string_lossy(), &b.to_string_lossy())
        });
        // The output directory of a score run is its shards and nothing else: a subset saved
        // there, a copy of a shard or the input table must not be read as rows of the run.
        let mut ignored = Vec::new();
        if let Some(n) = run_shard_count(path)? {
            (files, ignored) = files.into_iter().partition(|f| is_run_shard(f, n));
        }
        let formats: Vec<Format> = files
            .iter()
            .filter_map(|f| Format::from_path(f).ok())
            .collect();
        let Some(&format) = formats.first() else {
            return Err(Error::InvalidInput(format!(
                "{}: a directory without .jsonl, .csv, .tsv or .parquet files",
                path.display()
            )));
        };
        if let Some(i) = formats.iter().position(|f| *f != format) {
            return Err(Error::InvalidInput(format!(
                "{}: mixes {} and {} files ({}); keep one format per directory",
                path.display(),
                format.extension(),
                formats[i].extension(),
                files[i].display()
            )));
        }
        Ok(Table {
            files,
            format,
            display: path.to_path_buf(),
            ignored,
        })
    }

    /// Table files of a score run's directory that are not the run's shards (see [`Table::open`]),
    /// and so were left out; empty for any other table.
    pub fn ignored(&self) -> &[PathBuf] {
        &self.ignored
    }

    /// The format of the table's files (from their extension).
    pub fn format(&self) -> Format {
        self.format
    }

    /// The files, in reading order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The path the table was opened from.
    pub fn path(&self) -> &Path {
        &self.display
    }

    /// Column names of the first file (for JSONL: the keys of its first rows, see [`ReadOptions`]).
    pub fn column_names(&self) -> Result<Vec<String>> {
        let schema = self.schema()?;
        Ok(schema.fields().iter().map(|f| f.name().clone()).collect())
    }

    /// The arrow schema of the first file, as [`Table::batches`] reads it without a projection.
    pub fn schema(&self) -> Result<SchemaRef> {
        let opts = ReadOptions {
            batch_size: 1,
            ..ReadOptions::default()
        };
        Ok(self.open_file(0, &opts, None)?.schema())
    }

    /// Streams the table's rows in batches.
    pub fn batches(&self, opts: &ReadOptions) -> Batches<'_> {
        Batches {
            table: self,
            opts: opts.clone(),
            file: 0,
            reader: None,
            schema: None,
            next_row: 0,
            failed: false,
        }
    }

    /// Number of rows: from the footers for Parquet, by reading the first column otherwise.
    pub fn count_rows(&self) -> Result<u64> {
        if self.format == Format::Parquet {
            let mut n = 0u64;
            for f in &self.files {
                let (_, meta) = parquet::metadata(f)?;
                n += meta.metadata().file_metadata().num_rows().max(0) as u64;
            }
            return Ok(n);
        }
        let first = self.column_names()?.into_iter().take(1).collect::<Vec<_>>();
        let opts = ReadOptions {
            columns: (!first.is_empty()).then_some(first),
            lenient: true,
            ..ReadOptions::default()
        };
        let mut n = 0u64;
        for b in self.batches(&opts) {
            n += b?.num_rows() as u64;
        }
        Ok(n)
    }

    fn open_file(
        &self,
        i: usize,
        opts: &ReadOptions,
        schema: Option<SchemaRef>,
    ) -> Result<FileReader> {
        let path = &self.files[i];
        Ok(match self.format {
            Format::Jsonl => FileReader::Jsonl(jsonl::JsonlReader::open(path, opts, schema)?),
            Format::Csv | Format::Tsv => {
                FileReader::Csv(csv::CsvReader::open(path, self.format.delimiter(), opts)?)
            }
            Format::Parquet => FileReader::Parquet(parquet::ParquetReader::open(path, opts)?),
        })
    }
}

/// The largest `table.json` read when telling a score run's directory (it holds four fields).
const MAX_RUN_RECORD_BYTES: u64 = 1 << 20;

/// The number of shards of the score run whose output directory is `dir` (from its
/// `table.json`), or `None` when `dir` is not one.
fn run_shard_count(dir: &Path) -> Result<Option<u64>> {
    let record = dir.join("table.json");
    let Ok(meta) = std::fs::metadata(&record) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        Error::InvalidInput(format!(
            "{}: {why}; it records the shards of the score run in {}: restore it from the run, \
             or read the shards by file name",
            record.display(),
            dir.display()
        ))
    };
    if !meta.is_file() || meta.len() > MAX_RUN_RECORD_BYTES {
        return Err(bad("not a small regular file"));
    }
    let text = std::fs::read_to_string(&record).map_err(|e| Error::io(&record, e))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("does not parse ({e})")))?;
    v.get("table_shards")
        .and_then(serde_json::Value::as_u64)
        .map(Some)
        .ok_or_else(|| bad("has no `table_shards` number"))
}

/// Whether `file` is shard `k < n` of a score run: `NNNNN.parquet` (five or more digits).
fn is_run_shard(file: &Path, n: u64) -> bool {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.strip_suffix(".parquet")
        .filter(|s| s.len() >= 5 && s.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|k| k < n)
}
