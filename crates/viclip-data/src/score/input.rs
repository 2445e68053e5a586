//! Inputs of `viclip score`: clip tables (InternVid jsonl, csv / tsv / parquet / jsonl with chosen
//! columns) and webdataset tar shards ([`super::wds`]), read as a stream of shards of `N` rows, each
//! row turned into a [`RowTask`] while its own columns are kept for the output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;

use super::arrow_util::cell_json;
use super::row::{clips_span, pattern_fields, start_end_span, Resolver};
use super::{wds, RowFailure, RowStatus, RowTask};
use crate::table::{columns::column, ReadOptions, RowBatch, StrColumn, Table};
use viclip::{Error, Result};

/// Extensions tried, in this order, when a row's video file does not exist under its own name
/// (InternVid's ids come without one; downloads end up as mp4, webm or mkv).
pub const VIDEO_EXTENSIONS: [&str; 6] = ["mp4", "webm", "mkv", "mov", "m4v", "avi"];

/// Where a row's video file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoLocator {
    /// A column holding the path (relative paths are joined to the video root).
    Column(String),
    /// A file name built from columns: `{YoutubeID}.mp4` (InternVid's default).
    Pattern(String),
}

/// Which columns of a table describe the clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// How each row names its video file: a path column or a file-name pattern over columns.
    pub video: VideoLocator,
    /// Directory that relative paths are resolved against; `None`: the table's directory (its
    /// parent for a table file, the directory itself for a directory of table files), so a table
    /// that lists videos beside it works from any working directory.
    pub video_root: Option<PathBuf>,
    /// Column holding the caption that CLIP-SIM compares the clip with; null or empty is `bad_caption`.
    pub caption: String,
    /// Start and end of the clip (seconds, `MM:SS(.mmm)` or `HH:MM:SS(.mmm)`); none: the whole file.
    pub start: Option<String>,
    /// Column of the clip's end (same formats as `start`); `None`: the clip runs to the end of the file.
    pub end: Option<String>,
    /// A video2dataset `clips` column (`[[start, end]]`) instead of start / end; exactly one span per
    /// row (rows in = rows out), so a row listing several is reported as `bad_span`.
    pub clips: Option<String>,
}

impl Columns {
    /// The directory relative video paths of the table at `table` resolve against:
    /// [`Columns::video_root`], else the table's directory.
    pub fn root_for(&self, table: &Path) -> PathBuf {
        if let Some(r) = &self.video_root {
            return r.clone();
        }
        if table.is_dir() {
            return table.to_path_buf();
        }
        match table.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// InternVid's annotation files: `{YoutubeID}.mp4` under `video_root`, `Caption`,
    /// `Start_timestamp`, `End_timestamp`.
    pub fn internvid(video_root: Option<PathBuf>) -> Self {
        Columns {
            video: VideoLocator::Pattern("{YoutubeID}.mp4".into()),
            video_root,
            caption: "Caption".into(),
            start: Some("Start_timestamp".into()),
            end: Some("End_timestamp".into()),
            clips: None,
        }
    }
}

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

/// The rows of one shard, ready for the work.
pub(crate) struct ShardInput {
    pub index: u64,
    pub first_row: u64,
    /// The rows' own columns, in row order.
    pub batches: Vec<RecordBatch>,
    pub tasks: Vec<RowTask>,
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
