//! Inputs of `viclip score`: clip tables (InternVid jsonl, csv / tsv / parquet / jsonl with chosen
//! columns) and webdataset tar shards ([`super::wds`]), read as a stream of shards of `N` rows, each
//! row turned into a [`RowTask`] while its own columns are kept for the output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::arrow_util::cell_json;
use super::columns::{Columns, VideoLocator};
use super::row::{clips_span, pattern_fields, start_end_span, Resolver};
use super::shard_rows::{RowFailure, RowStatus, RowTask, ShardInput};
use super::wds;
use crate::table::{columns::column, ReadOptions, RowBatch, StrColumn, Table};
use crate::{Error, Result};

/// What `viclip score` reads.
#[derive(Debug, Clone)]
pub enum Input {
    /// A table file, or a directory of table files of one format ([`Table::open`]).
    Table {
        /// The table file or directory.
        path: PathBuf,
        /// Which of its columns name the video, the span and the caption.
        columns: Columns,
    },
    /// webdataset tar shards as video2dataset writes them (`{key}.mp4|webm`, `{key}.txt`,
    /// `{key}.json`), read in the order given; one row per sample.
    WebDataset {
        /// The `.tar` files, in reading order (see [`Input::webdataset_files`]).
        tars: Vec<PathBuf>,
    },
}

impl Input {
    /// The tar files of `path`: the file itself when it ends in `.tar`, or the `.tar` files of a
    /// directory in natural order; `None` when `path` is not webdataset.
    pub fn webdataset_files(path: &Path) -> Result<Option<Vec<PathBuf>>> {
        let is_tar = |p: &Path| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("tar"));
        if path.is_file() {
            return Ok(is_tar(path).then(|| vec![path.to_path_buf()]));
        }
        if !path.is_dir() {
            return Ok(None);
        }
        let mut tars = Vec::new();
        for e in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let p = e.map_err(|e| Error::io(path, e))?.path();
            if p.is_file() && is_tar(&p) {
                tars.push(p);
            }
        }
        tars.sort_by(|a, b| {
            viclip::frames::natural_cmp(&a.to_string_lossy(), &b.to_string_lossy())
        });
        Ok((!tars.is_empty()).then_some(tars))
    }

    /// Column names of a table. Read leniently (unlike [`Table::column_names`]), so a malformed line
    /// among the rows that fix a JSONL schema does not stop the run before it starts.
    pub fn table_columns(path: &Path) -> Result<Vec<String>> {
        let table = Table::open(path)?;
        let opts = ReadOptions {
            batch_size: 1,
            lenient: true,
            ..ReadOptions::default()
        };
        match table.batches(&opts).next() {
            Some(b) => Ok(b?
                .batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Rows in the input (one pass over tables without a row count in their footer).
    pub fn count_rows(&self) -> Result<u64> {
        match self {
            Input::Table { path, .. } => {
                let table = Table::open(path)?;
                if table.format() == crate::table::Format::Parquet {
                    return table.count_rows(); // from the footers
                }
                // `Table::count_rows` reads strictly; here a malformed line is a row like any other.
                let opts = ReadOptions {
                    lenient: true,
                    ..ReadOptions::default()
                };
                let mut n = 0;
                for b in table.batches(&opts) {
                    n += b?.num_rows() as u64;
                }
                Ok(n)
            }
            Input::WebDataset { tars } => wds::count_samples(tars),
        }
    }

    /// Streams the shards of `shard_size` rows that `wanted` accepts to `f`, in order; the other
    /// rows are read past. `wanted` is asked when the stream reaches a shard (possibly more than
    /// once); its error ends the stream. `temp_root` holds webdataset members while their shard is
    /// scored.
    pub(crate) fn for_each_shard(
        &self,
        shard_size: u64,
        wanted: &dyn Fn(u64) -> Result<bool>,
        temp_root: &Path,
        f: &mut dyn FnMut(ShardInput) -> Result<()>,
    ) -> Result<()> {
        match self {
            Input::Table { path, columns } => table_shards(path, columns, shard_size, wanted, f),
            Input::WebDataset { tars } => wds::shards(tars, shard_size, wanted, temp_root, f),
        }
    }
}

/// The input as the table record names it (informational).
pub(crate) fn input_name(input: &Input) -> String {
    match input {
        Input::Table { path, .. } => path.display().to_string(),
        Input::WebDataset { tars } => format!("{} webdataset tar files", tars.len()),
    }
}

fn table_shards(
    path: &Path,
    cols: &Columns,
    shard_size: u64,
    wanted: &dyn Fn(u64) -> Result<bool>,
    f: &mut dyn FnMut(ShardInput) -> Result<()>,
) -> Result<()> {
    let table = Table::open(path)?;
    let opts = ReadOptions {
        batch_size: shard_size.clamp(1, 8192) as usize,
        lenient: true,
        ..ReadOptions::default()
    };
    let mut resolver = Resolver::new(cols.root_for(path));
    let mut cur: Option<ShardInput> = None;
    for rb in table.batches(&opts) {
        let rb = rb?;
        let n = rb.num_rows() as u64;
        let mut off = 0u64;
        while off < n {
            let row = rb.first_row + off;
            let shard = row / shard_size;
            let shard_end = (shard + 1) * shard_size;
            let len = (n - off).min(shard_end - row);
            if wanted(shard)? {
                let s = cur.get_or_insert_with(|| ShardInput {
                    index: shard,
                    first_row: row,
                    batches: Vec::new(),
                    tasks: Vec::new(),
                });
                s.batches.push(rb.batch.slice(off as usize, len as usize));
                s.tasks.extend(row_tasks(
                    &rb,
                    off as usize,
                    len as usize,
                    cols,
                    &mut resolver,
                )?);
            }
            off += len;
            if row + len == shard_end {
                if let Some(s) = cur.take() {
                    f(s)?;
                }
            }
        }
    }
    if let Some(s) = cur.take() {
        f(s)?;
    }
    Ok(())
}

/// The tasks of rows `[off, off + len)` of a batch. A missing column is an error for the whole run
/// (it names the table's columns); a bad value is a failure of its row.
fn row_tasks(
    rb: &RowBatch,
    off: usize,
    len: usize,
    cols: &Columns,
    resolver: &mut Resolver,
) -> Result<Vec<RowTask>> {
    let errors: HashMap<u64, String> = rb
        .errors
        .iter()
        .map(|e| (e.row, format!("{}: {}", e.location, e.message)))
        .collect();
    let caption = StrColumn::new(rb, &cols.caption)?;
    let path_cols: Vec<(String, StrColumn)> = match &cols.video {
        VideoLocator::Column(c) => vec![(c.clone(), StrColumn::new(rb, c)?)],
        VideoLocator::Pattern(p) => pattern_fields(p)
            .into_iter()
            .map(|c| StrColumn::new(rb, &c).map(|s| (c, s)))
            .collect::<Result<_>>()?,
    };
    let start = cols
        .start
        .as_deref()
        .map(|c| StrColumn::new(rb, c))
        .transpose()?;
    let end = cols
        .end
        .as_deref()
        .map(|c| StrColumn::new(rb, c))
        .transpose()?;
    let clips = cols.clips.as_deref().map(|c| column(rb, c)).transpose()?;
    let mut out = Vec::with_capacity(len);
    for i in off..off + len {
        let row = rb.first_row + i as u64;
        if let Some(msg) = errors.get(&row) {
            out.push(RowTask::failed(RowFailure::new(RowStatus::BadRow, msg)));
            continue;
        }
        let field = |name: &str, c: &StrColumn| -> std::result::Result<String, RowFailure> {
            match c.get(i).map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_string()),
                _ => Err(RowFailure::new(
                    RowStatus::BadRow,
                    format!("row {row}: column `{name}` is empty; every row needs a video"),
                )),
            }
        };
        let file = match &cols.video {
            VideoLocator::Column(_) => path_cols.first().map(|(n, c)| field(n, c)),
            VideoLocator::Pattern(p) => {
                Some(path_cols.iter().try_fold(p.clone(), |acc, (n, c)| {
                    field(n, c).map(|v| acc.replace(&format!("{{{n}}}"), &v))
                }))
            }
        }
        .unwrap_or_else(|| Err(RowFailure::new(RowStatus::BadRow, "no video column")));
        let span = if let Some(a) = clips {
            clips_span(
                cell_json(a, i),
                row,
                cols.clips.as_deref().unwrap_or("clips"),
            )
        } else {
            start_end_span(start.as_ref(), end.as_ref(), i, row, cols)
        };
        let clip = file
            .and_then(|f| resolver.resolve(&f, row))
            .and_then(|p| span.map(|s| (p, s)));
        let caption = match caption.get(i) {
            None => Err(format!(
                "row {row}: no caption (column `{}` is null)",
                cols.caption
            )),
            Some(t) if t.trim().is_empty() => Err(format!(
                "row {row}: empty caption (column `{}`); a caption is needed for viclip_sim",
                cols.caption
            )),
            Some(t) => Ok(t.to_string()),
        }
        .map_err(|m| RowFailure::new(RowStatus::BadCaption, m));
        out.push(RowTask { clip, caption });
    }
    Ok(out)
}
