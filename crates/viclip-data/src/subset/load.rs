//! The builders' single pass over the input: only the columns a method needs, reduced to compact
//! per-row state (see `docs/subsets.md` for the bytes per row), whatever the table's size on disk.

use std::collections::HashMap;

use super::bits::Bits;
use super::VideoSource;
use crate::table::{f64_values, seconds_values, ReadOptions, RowBatch, StrColumn, Table};
use crate::{Error, Result};

/// The columns to read and what to make of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    /// The score a method selects on, kept exactly (f64).
    pub criterion: Option<String>,
    /// Scores only reported in the summary (f32 is plenty for quantiles).
    pub reported: Vec<String>,
    /// Start and end columns with the duration bounds (seconds, inclusive).
    pub span: Option<(String, String, f64, f64)>,
    pub video: Option<VideoSource>,
}

/// Per-row state after the pass. Missing scores are NaN.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub n_rows: u64,
    pub criterion: Option<Vec<f64>>,
    pub reported: Vec<Vec<f32>>,
    /// Rows whose span parsed and whose duration is within the bounds.
    pub duration_ok: Option<Bits>,
    /// Rows whose start or end is missing or unreadable.
    pub span_missing: u64,
    /// Video index of each row; a row without an id gets an index of its own.
    pub video: Option<Vec<u32>>,
    pub n_videos: usize,
    pub video_missing: u64,
}

/// Whether a clip from `start` to `end` seconds lasts between `min` and `max` seconds inclusive.
/// Durations are compared in whole microseconds, so `00:00:03.160`..`00:00:04.160` is exactly 1 s
/// (in floating point, 4.16 - 3.16 is not).
pub fn duration_within(start: f64, end: f64, min: f64, max: f64) -> bool {
    let us = |s: f64| (s * 1e6).round() as i64;
    let d = us(end) - us(start);
    us(min) <= d && d <= us(max)
}

/// The video id `chars` characters long at the start of the file name of `path` (InternVid's
/// released script uses 11, the length of a YouTube id); shorter names are used whole.
pub fn video_id_from_path(path: &str, chars: usize) -> &str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match name.char_indices().nth(chars) {
        Some((i, _)) => &name[..i],
        None => name,
    }
}

/// The columns `plan` reads, each once.
fn columns(plan: &Plan) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    let mut want = |c: &str| {
        if !cols.iter().any(|x| x == c) {
            cols.push(c.to_string());
        }
    };
    plan.criterion.iter().for_each(|c| want(c));
    plan.reported.iter().for_each(|c| want(c));
    if let Some((s, e, _, _)) = &plan.span {
        want(s);
        want(e);
    }
    match &plan.video {
        Some(VideoSource::Column(c)) | Some(VideoSource::PathPrefix { column: c, .. }) => want(c),
        None => {}
    }
    cols
}

pub(crate) fn load(table: &Table, plan: &Plan, batch_size: usize) -> Result<Loaded> {
    // A subset of a partly scored run would silently leave out the missing shards' rows.
    if table.path().is_dir() {
        crate::score::check_complete(table.path())?;
    }
    let cols = columns(plan);
    if cols.is_empty() {
        // Nothing to keep per row: only the row count (Parquet: from the footers).
        return Ok(Loaded {
            n_rows: table.count_rows()?,
            ..Loaded::default()
        });
    }
    let mut out = Loaded {
        criterion: plan.criterion.as_ref().map(|_| Vec::new()),
        reported: vec![Vec::new(); plan.reported.len()],
        video: plan.video.as_ref().map(|_| Vec::new()),
        ..Loaded::default()
    };
    let mut ids: HashMap<Box<str>, u32> = HashMap::new();
    let opts = ReadOptions {
        batch_size,
        columns: Some(cols),
        ..ReadOptions::default()
    };
    let mut bits_len = 0usize;
    let mut duration_bits = plan.span.as_ref().map(|_| Bits::new(0));
    for batch in table.batches(&opts) {
        let batch = batch.map_err(|e| in_table(table, e))?;
        push_scores(table, plan, &batch, &mut out)?;
        if let Some((s, e, min, max)) = &plan.span {
            let starts = seconds_values(&batch, s).map_err(|e| in_table(table, e))?;
            let ends = seconds_values(&batch, e).map_err(|e| in_table(table, e))?;
            let bits = duration_bits.get_or_insert_with(|| Bits::new(0));
            for (a, b) in starts.iter().zip(&ends) {
                match (a, b) {
                    (Some(a), Some(b)) => bits.push(duration_within(*a, *b, *min, *max)),
                    _ => {
                        out.span_missing += 1;
                        bits.push(false);
                    }
                }
            }
        }
        bits_len += batch.num_rows();
        push_videos(table, plan, &batch, &mut out, &mut ids)?;
    }
    out.n_rows = bits_len as u64;
    out.duration_ok = duration_bits;
    Ok(out)
}

/// Appends a batch's criterion (f64, missing: NaN) and reported scores (f32) to `out`.
fn push_scores(table: &Table, plan: &Plan, batch: &RowBatch, out: &mut Loaded) -> Result<()> {
    if let (Some(c), Some(v)) = (&plan.criterion, out.criterion.as_mut()) {
        v.extend(
            f64_values(batch, c)
                .map_err(|e| in_table(table, e))?
                .into_iter()
                .map(|x| x.unwrap_or(f64::NAN)),
        );
    }
    for (c, v) in plan.reported.iter().zip(out.reported.iter_mut()) {
        v.extend(
            f64_values(batch, c)
                .map_err(|e| in_table(table, e))?
                .into_iter()
                .map(|x| x.map_or(f32::NAN, |x| x as f32)),
        );
    }
    Ok(())
}

/// Appends a batch's video indices to `out`: ids numbered in order of first appearance (`ids`),
/// a row without an id an index of its own.
fn push_videos(
    table: &Table,
    plan: &Plan,
    batch: &RowBatch,
    out: &mut Loaded,
    ids: &mut HashMap<Box<str>, u32>,
) -> Result<()> {
    let (Some(src), Some(v)) = (&plan.video, out.video.as_mut()) else {
        return Ok(());
    };
    let (col, chars) = match src {
        VideoSource::Column(c) => (c, None),
        VideoSource::PathPrefix { column, chars } => (column, Some(*chars)),
    };
    let s = StrColumn::new(batch, col).map_err(|e| in_table(table, e))?;
    for i in 0..batch.num_rows() {
        let id = s
            .get(i)
            .map(|x| chars.map_or(x, |c| video_id_from_path(x, c)))
            .filter(|x| !x.is_empty());
        let idx = match id {
            Some(id) => match ids.get(id) {
                Some(&k) => k,
                None => {
                    let k = next_video(&mut out.n_videos)?;
                    ids.insert(id.into(), k);
                    k
                }
            },
            None => {
                out.video_missing += 1;
                next_video(&mut out.n_videos)?
            }
        };
        v.push(idx);
    }
    Ok(())
}

fn next_video(n_videos: &mut usize) -> Result<u32> {
    let k = u32::try_from(*n_videos).map_err(|_| {
        Error::InvalidInput("more than 4294967295 distinct videos; split the table".into())
    })?;
    *n_videos += 1;
    Ok(k)
}

fn in_table(table: &Table, e: Error) -> Error {
    match e {
        Error::InvalidInput(m) if !m.contains(&*table.path().to_string_lossy()) => {
            Error::InvalidInput(format!("{}: {m}", table.path().display()))
        }
        e => e,
    }
}
