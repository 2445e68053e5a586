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
mod job;
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
pub use job::build;
pub use load::{duration_within, video_id_from_path};
pub use sample::{div_sample, random_rows, random_subset};
pub use summary::{quantile_sorted, DedupReport, ScoreSummary, Stats, Summary, QUANTILES};

use crate::table::Table;
use crate::{Error, Result};

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
