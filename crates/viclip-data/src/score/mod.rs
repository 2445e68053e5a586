//! `viclip score`: ViCLIP clip-caption similarity (CLIP-SIM), optionally the LAION aesthetic score and
//! the embeddings, for every row of a clip table, in shards that survive crashes and split across
//! machines (`docs/score.md` has the user's view).
//!
//! The run, for one process:
//!
//! 1. **Input** ([`Input`]): a table (InternVid jsonl, csv / tsv / parquet / jsonl with configurable
//!    columns or a video2dataset `clips` column) or webdataset tar shards, turned into one [`RowTask`]
//!    per row (the clip's file and span, the caption) plus the row's own columns, carried through.
//! 2. **Shards**: rows `[k N, (k+1) N)` form shard `k`; this process takes the shards of its share
//!    (`k % shares == share`, [`ShardSelection`]) that are not complete yet (`verify`: stats with
//!    this run's identity (`identity`, `OUT/run.json`), files of the recorded sizes and hashes),
//!    each claimed with a lock (`lock`) so that processes sharing `--out` never score one shard
//!    twice; the table's size is fixed in `OUT/table.json` by the run's first process and the number
//!    of shares and the task-to-share mapping in `OUT/split.json` by its first split process
//!    (`tasks`, `record`).
//! 3. **Work** per shard (`work`): rows grouped by source file so each file is decoded once
//!    ([`viclip::pipeline`]), clips embedded in batches of fixed composition (the shard's good clips in
//!    row order, so a rerun computes bit-identical values), captions embedded, cosine per row; with
//!    aesthetics, a second decode of 4 uniformly sampled frames per clip scored by the LAION head.
//! 4. **Output** per shard (`output`): `NNNNN.parquet` (input columns + `viclip_sim`, `aesthetic`,
//!    `status`, `error`, `frames_used`; settings in key-value metadata), optionally clip-retrieval's
//!    `video_emb/`, `text_emb/`, `metadata/`, every file written under a temporary name, fsynced and
//!    renamed; `NNNNN_stats.json` last, with the run identity and each file's size and SHA-256,
//!    which marks the shard complete for a rerun (and is checked against the files then).
//! 5. **Report** ([`report::write_report`]): quantiles and histograms of the score columns once
//!    every shard of the table is complete.
//!
//! Every row comes out, in input order: a row that cannot be scored carries a [`RowStatus`] other
//! than `ok` and an error message, and the run goes on. Only output errors (disk full, permissions)
//! stop the run, and they never leave a partial file under a final name.

mod arrow_util;
mod claims;
mod identity;
mod input;
mod lock;
mod npy;
mod output;
mod plan;
mod preflight;
mod record;
pub mod report;
mod row;
mod run;
mod runfile;
mod shards;
pub mod status;
mod tasks;
mod verify;
mod wds;
mod work;

pub use input::{Columns, Input, VideoLocator, VIDEO_EXTENSIONS};
pub use lock::{is_locked, shard_lock_path};
pub use npy::{read_npy_f16, write_npy_f16};
pub use plan::{plan, Plan, SharePlan};
pub use record::{read_record, Assignment, RunRecord, SPLIT_FILE, TABLE_FILE};
pub use run::{score, AestheticOptions, Progress, RunSummary, ScoreOptions};
pub use shards::ShardStats;
pub use tasks::{Scheduler, ShardSelection, ShareRequest, SplitPlan};
pub use verify::{check_complete, FileRecord};

use std::fmt;

/// Why a row has no (complete) score. Written to the `status` column as its [`as_str`](Self::as_str)
/// form; `ok` rows have every requested value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowStatus {
    /// The row has every requested value (`ok`).
    Ok,
    /// The input row could not be read (malformed JSON line, wrong CSV field count, missing column).
    BadRow,
    /// The row's video file does not exist (under any of the tried extensions).
    MissingVideo,
    /// The span is malformed, empty, reversed, or outside the video.
    BadSpan,
    /// The video could not be opened or decoded (corrupt, truncated, no video stream).
    DecodeError,
    /// The clip has too few frames for the frame sampling.
    TooFewFrames,
    /// The caption is missing, empty or not UTF-8.
    BadCaption,
    /// A webdataset member could not be read (truncated or corrupt tar).
    TarError,
    /// The model failed on the batch holding the row.
    ModelError,
    /// ViCLIP scored the row but the aesthetic scorer could not.
    AestheticError,
}

impl RowStatus {
    /// The `status` column's text.
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Ok => "ok",
            RowStatus::BadRow => "bad_row",
            RowStatus::MissingVideo => "missing_video",
            RowStatus::BadSpan => "bad_span",
            RowStatus::DecodeError => "decode_error",
            RowStatus::TooFewFrames => "too_few_frames",
            RowStatus::BadCaption => "bad_caption",
            RowStatus::TarError => "tar_error",
            RowStatus::ModelError => "model_error",
            RowStatus::AestheticError => "aesthetic_error",
        }
    }

    /// The kind of a decoding / preprocessing error.
    pub fn of_error(e: &viclip::Error) -> RowStatus {
        match e {
            viclip::Error::Span { .. } => RowStatus::BadSpan,
            viclip::Error::Sampling { .. } | viclip::Error::TooFewFrames { .. } => {
                RowStatus::TooFewFrames
            }
            viclip::Error::Io { .. } => RowStatus::MissingVideo,
            _ => RowStatus::DecodeError,
        }
    }
}

impl fmt::Display for RowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row-level failure: its kind and a message naming the row, file or column at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFailure {
    /// The failure's kind, written to the `status` column.
    pub kind: RowStatus,
    /// What went wrong, naming the row, file or column; written to the `error` column.
    pub message: String,
}

impl RowFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: RowStatus, message: impl Into<String>) -> Self {
        RowFailure {
            kind,
            message: message.into(),
        }
    }
}

/// What one input row asks to score: its clip (file and span) and its caption, each possibly failed
/// already while reading the row. The two sides are independent: a row with a bad caption still gets
/// its video embedding (and aesthetic score), a row with a missing video its text embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct RowTask {
    /// The video file to decode (a table row's resolved path, or a webdataset sample's extracted
    /// member) and the span of it to score, or why the row has no clip.
    pub clip: Result<(std::path::PathBuf, viclip::video::ClipSpan), RowFailure>,
    /// The caption to embed, or why the row has none (`bad_caption`, or the failure of a row that
    /// could not be read at all).
    pub caption: Result<String, RowFailure>,
}

impl RowTask {
    /// A row that could not be read at all.
    pub fn failed(f: RowFailure) -> Self {
        RowTask {
            clip: Err(f.clone()),
            caption: Err(f),
        }
    }
}
