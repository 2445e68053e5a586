//! InternVid's subsets, rebuilt from score columns (docs/reference/datasets.md §2): uniform random, DIV (weighted by
//! 1 / clips of the source video), FLT (duration bounds, top 30% by clip-caption similarity, then DIV),
//! AES (aesthetic score >= 4, or the top k) and semantic deduplication (SemDeDup) on clip embeddings.
//!
//! [`build`] runs one [`SubsetJob`]: one pass over the columns the method needs ([`crate::table`]
//! projects them, so a 234M-row table never has to fit in memory; the per-row state is listed in
//! `docs/subsets.md`), the selection (pure functions: [`random_rows`], [`div_sample`], `flt_select`,
//! [`aes_select`], [`semdedup`]), a second pass copying the chosen rows with every column in the
//! input's format ([`crate::table::Table::copy_rows`]) and a [`Summary`] written beside the output
//! as `{out}.summary.json`. Everything is deterministic for a seed: random keys come from SplitMix64
//! indexed by row, ties go to the lower row index.

// Bit sets and the seeded generator are internals; the `internal` feature opens them to this crate's
// tests (as does flt_select/top_k_rows, whose signatures use `Bits`).
#[cfg_attr(not(feature = "internal"), allow(dead_code))]
mod bits;
mod dedup;
mod embeddings;
mod filter;
mod load;
#[cfg(feature = "internal")]
#[doc(hidden)]
pub mod rng;
#[cfg(not(feature = "internal"))]
#[allow(dead_code)]
mod rng;
mod sample;
mod summary;

use std::path::PathBuf;
use std::time::Instant;

#[cfg(feature = "internal")]
#[doc(hidden)]
pub use bits::Bits;
#[cfg(not(feature = "internal"))]
use bits::Bits;
pub use dedup::{semdedup, Dedup, DedupOptions};
pub use embeddings::EmbeddingMatrix;
#[cfg(not(feature = "internal"))]
use filter::flt_select;
pub use filter::{aes_select, top_fraction_count, AesOptions, FltOptions, Step};
#[cfg(feature = "internal")]
#[doc(hidden)]
pub use filter::{flt_select, top_k_rows};
pub use load::{duration_within, video_id_from_path};
pub use sample::{div_sample, random_rows, random_subset};
pub use summary::{quantile_sorted, DedupReport, ScoreSummary, Stats, Summary, QUANTILES};

use crate::table::Table;
use viclip::{Error, Result};

/// Video-id columns tried, in order, when none is given.
pub const VIDEO_ID_COLUMNS: [&str; 5] = ["YoutubeID", "youtube_id", "video_id", "videoID", "vid"];
/// Path columns that identify a row's video when no [`VIDEO_ID_COLUMNS`] column is present (a
/// generic table scored by `viclip score`): one file, one video.
pub const VIDEO_PATH_COLUMNS: [&str; 4] = ["path", "video_path", "filepath", "video"];
/// Score columns reported in summaries when present.
pub const SCORE_COLUMNS: [&str; 4] = ["viclip_sim", "aesthetic", "UMT_Score", "Aesthetic_Score"];
/// Start / end column pairs tried, in order, when none is given.
pub const SPAN_COLUMNS: [(&str, &str); 4] = [
    ("Start_timestamp", "End_timestamp"),
    ("start", "end"),
    ("start_time", "end_time"),
    ("start_timestamp", "end_timestamp"),
];

/// Where a row's source video id comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    /// A column holding the id (`YoutubeID`).
    Column(String),
    /// The first `chars` characters of the file name in a path column (InternVid's script: 11).
    PathPrefix {
        /// The column holding the video's path.
        column: String,
        /// How many leading characters of the file name form the id (shorter names are used whole).
        chars: usize,
    },
}

/// The selection a job makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// `n` rows uniformly at random.
    Random {
        /// Rows to keep (all rows when `n` is at least the table's).
        n: u64,
        /// Seed of the SplitMix64 keys that order the rows.
        seed: u64,
    },
    /// `n` rows weighted by 1 / (clips of the source video), without replacement.
    Div {
        /// Rows to keep (all candidates when `n` is at least their number).
        n: u64,
        /// Seed of the weighted random draw.
        seed: u64,
    },
    /// InternVid-10M-FLT: duration bounds, score threshold and top fraction, then optionally DIV.
    Flt(FltOptions),
    /// InternVid-Aesthetics: a minimum aesthetic score and/or the top k by it.
    Aes(AesOptions),
    /// SemDeDup on the embeddings at `embeddings` (a dir from a score run with `ScoreOptions::embeddings`, or .npy).
    Dedup {
        /// The `.npy` file or directory of the embeddings, row-aligned with the input table.
        embeddings: PathBuf,
        /// Which embeddings of a score run's directory: `video` (`video_emb/`) or `text` (`text_emb/`).
        kind: String,
        /// SemDeDup's parameters; the rows dropped at `opts.eps` are left out of the output.
        opts: DedupOptions,
    },
}

impl Method {
    /// The method's name as the summary's `method` records it: `random`, `div`, `flt`, `aes` or `dedup`.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Random { .. } => "random",
            Method::Div { .. } => "div",
            Method::Flt(_) => "flt",
            Method::Aes(_) => "aes",
            Method::Dedup { .. } => "dedup",
        }
    }
}

/// One subset run.
#[derive(Debug, Clone, PartialEq)]
pub struct SubsetJob {
    /// A table file or a directory of shards (see [`crate::table::Table::open`]).
    pub input: PathBuf,
    /// The output table; use the input's extension to keep its format exactly.
    pub output: PathBuf,
    /// The selection to make.
    pub method: Method,
    /// `None`: the first of [`VIDEO_ID_COLUMNS`] present, else of [`VIDEO_PATH_COLUMNS`] (required by
    /// DIV and FLT with `n`).
    pub video: Option<VideoSource>,
    /// FLT's start / end columns; `None`: the first pair of [`SPAN_COLUMNS`] present.
    pub span: Option<(String, String)>,
    /// Score columns to report; `None`: those of [`SCORE_COLUMNS`] present.
    pub report: Option<Vec<String>>,
    /// Rows per read batch.
    pub batch_size: usize,
}

impl SubsetJob {
    /// A job with the default options: video id and span columns found by name, reported columns
    /// those of [`SCORE_COLUMNS`] present, batches of 65 536 rows.
    pub fn new(input: impl Into<PathBuf>, output: impl Into<PathBuf>, method: Method) -> Self {
        Self {
            input: input.into(),
            output: output.into(),
            method,
            video: None,
            span: None,
            report: None,
            batch_size: 65_536,
        }
    }
}

fn missing(table: &Table, what: &str, names: &[String], hint: &str) -> Error {
    Error::InvalidInput(format!(
        "{}: {what} (columns: {}); {hint}",
        table.path().display(),
        names.join(", ")
    ))
}

/// Runs `job`: reads, selects, writes the chosen rows and `{out}.summary.json`; returns the summary.
pub fn build(job: &SubsetJob) -> Result<Summary> {
    let t0 = Instant::now();
    if job.input == job.output {
        return Err(Error::InvalidInput(format!(
            "{}: SubsetJob::output must differ from SubsetJob::input",
            job.output.display()
        )));
    }
    let table = Table::open(&job.input)?;
    let names = table.column_names()?;
    let has = |c: &str| names.iter().any(|n| n == c);
    let needs_video = matches!(job.method, Method::Div { .. })
        || matches!(&job.method, Method::Flt(o) if o.n.is_some());
    let video = match &job.video {
        Some(v) => Some(v.clone()),
        None => VIDEO_ID_COLUMNS
            .iter()
            .chain(VIDEO_PATH_COLUMNS.iter())
            .find(|c| has(c))
            .map(|c| VideoSource::Column(c.to_string())),
    };
    if needs_video && video.is_none() {
        return Err(missing(
            &table,
            "no video id column",
            &names,
            "set SubsetJob::video (a column, or a prefix of a path column's file names)",
        ));
    }
    let criterion = match &job.method {
        Method::Flt(o) => Some(o.score_col.clone()),
        Method::Aes(o) => Some(o.score_col.clone()),
        _ => None,
    };
    if let Some(c) = criterion.as_deref().filter(|c| !has(c)) {
        let (alt, opt) = if matches!(job.method, Method::Aes(_)) {
            ("Aesthetic_Score", "AesOptions::score_col")
        } else {
            ("UMT_Score", "FltOptions::score_col")
        };
        return Err(missing(
            &table,
            &format!("no score column `{c}`"),
            &names,
            &format!("set {opt} (InternVid's files: {alt})"),
        ));
    }
    let reported: Vec<String> = match &job.report {
        Some(r) => r.clone(),
        None => SCORE_COLUMNS
            .iter()
            .filter(|c| has(c))
            .map(|c| c.to_string())
            .collect(),
    };
    let reported: Vec<String> = reported
        .into_iter()
        .filter(|c| Some(c) != criterion.as_ref())
        .collect();
    let span = match &job.method {
        Method::Flt(o) => {
            let pair = match &job.span {
                Some(p) => p.clone(),
                None => SPAN_COLUMNS
                    .iter()
                    .find(|(s, e)| has(s) && has(e))
                    .map(|(s, e)| (s.to_string(), e.to_string()))
                    .ok_or_else(|| {
                        missing(
                            &table,
                            "no start / end columns",
                            &names,
                            "set SubsetJob::span",
                        )
                    })?,
            };
            Some((pair.0, pair.1, o.min_duration, o.max_duration))
        }
        _ => None,
    };
    let plan = load::Plan {
        criterion: criterion.clone(),
        reported: reported.clone(),
        span,
        video: video.clone(),
    };
    let state = load::load(&table, &plan, job.batch_size.max(1))?;
    let n_rows = state.n_rows;
    let video_slice = state.video.as_deref().map(|v| (v, state.n_videos));
    let mut steps = Vec::new();
    let mut dedup_report = None;
    let crit: &[f64] = state.criterion.as_deref().unwrap_or(&[]);
    if let Some(c) = &criterion {
        filter::check_numeric_criterion(&table, c, crit)?;
    }
    let (rows, params) = match &job.method {
        Method::Random { n, seed } => (
            random_rows(n_rows, *n, *seed),
            serde_json::json!({"n": n, "seed": seed}),
        ),
        Method::Div { n, seed } => {
            let (v, nv) = video_slice
                .ok_or_else(|| missing(&table, "no video id", &names, "set SubsetJob::video"))?;
            let rows = div_sample((0..n_rows).map(|r| (r, v[r as usize])), nv, *n, *seed);
            (rows, serde_json::json!({"n": n, "seed": seed}))
        }
        Method::Flt(o) => {
            let ok = state
                .duration_ok
                .clone()
                .unwrap_or_else(|| Bits::new(crit.len()));
            let (rows, s) = flt_select(crit, &ok, video_slice, o)?;
            steps = s;
            (rows, serde_json::to_value(o).unwrap_or_default())
        }
        Method::Aes(o) => {
            let (rows, s) = aes_select(crit, o)?;
            steps = s;
            (rows, serde_json::to_value(o).unwrap_or_default())
        }
        Method::Dedup {
            embeddings,
            kind,
            opts,
        } => {
            let (rows, report) = dedup_rows(&table, n_rows, embeddings, kind, opts)?;
            dedup_report = Some(report);
            let mut p = serde_json::to_value(opts).unwrap_or_default();
            p["embeddings"] = serde_json::json!(embeddings);
            (rows, p)
        }
    };
    table.copy_rows(&rows, &job.output)?;
    let mut scores = Vec::new();
    if let (Some(c), Some(v)) = (&criterion, &state.criterion) {
        scores.push(score_summary(c, v.len(), |i| v[i], &rows));
    }
    for (c, v) in reported.iter().zip(&state.reported) {
        scores.push(score_summary(c, v.len(), |i| f64::from(v[i]), &rows));
    }
    let (videos_in, videos_out) = match &state.video {
        Some(v) => {
            let mut seen = Bits::new(state.n_videos);
            rows.iter().for_each(|&r| seen.set(v[r as usize] as usize));
            (Some(state.n_videos as u64), Some(seen.count()))
        }
        None => (None, None),
    };
    let summary = Summary {
        method: job.method.name().into(),
        input: job.input.clone(),
        output: job.output.clone(),
        params,
        rows_in: n_rows,
        rows_out: rows.len() as u64,
        videos_in,
        videos_out,
        video_key: video.map(|v| match v {
            VideoSource::Column(c) => format!("column {c}"),
            VideoSource::PathPrefix { column, chars } => {
                format!("first {chars} chars of the file name in {column}")
            }
        }),
        rows_without_video_id: state.video_missing,
        rows_without_span: state.span_missing,
        steps,
        scores,
        dedup: dedup_report,
        seconds: t0.elapsed().as_secs_f64(),
    };
    summary.write_json(&Summary::path_for(&job.output))?;
    Ok(summary)
}

fn score_summary(
    column: &str,
    n: usize,
    value: impl Fn(usize) -> f64,
    rows: &[u64],
) -> ScoreSummary {
    ScoreSummary {
        column: column.into(),
        before: Stats::of((0..n).map(&value)),
        after: Stats::of(rows.iter().map(|&r| value(r as usize))),
    }
}

/// SemDeDup over the embeddings row-aligned with `table`: the rows kept at `opts.eps` and the report.
fn dedup_rows(
    table: &Table,
    n_rows: u64,
    embeddings: &std::path::Path,
    kind: &str,
    opts: &DedupOptions,
) -> Result<(Vec<u64>, DedupReport)> {
    let emb = EmbeddingMatrix::load(embeddings, kind)?;
    if emb.len() as u64 != n_rows {
        return Err(Error::InvalidInput(format!(
            "{}: {} embedding rows but {} has {n_rows} rows; pass the embeddings of this table (same shards, same order)",
            embeddings.display(),
            emb.len(),
            table.path().display()
        )));
    }
    let d = semdedup(&emb, opts)?;
    let with_emb = (0..emb.len()).filter(|&i| emb.is_valid(i)).count() as u64;
    let kept = |dropped: usize| match with_emb {
        0 => 1.0,
        n => 1.0 - dropped as f64 / n as f64,
    };
    let kept_fraction = d
        .dropped
        .iter()
        .map(|(eps, dr)| (*eps, kept(dr.len())))
        .collect();
    let mut dropped = Bits::new(n_rows as usize);
    if let Some((_, rows)) = d.dropped.first() {
        rows.iter().for_each(|&r| dropped.set(r as usize));
    }
    let report = DedupReport {
        clusters: d.clusters,
        iterations: d.iterations,
        eps: opts.eps,
        kept_fraction,
        rows_without_embedding: n_rows - with_emb,
        largest_cluster: d.largest_cluster,
    };
    let rows = (0..n_rows).filter(|&r| !dropped.get(r as usize)).collect();
    Ok((rows, report))
}
