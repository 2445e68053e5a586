//! The rows of a shard as the work takes them: what each row asks to score ([`RowTask`]), why a row
//! has no score ([`RowStatus`], [`RowFailure`]), and a shard's rows with their own columns
//! ([`ShardInput`]).

use std::fmt;

use arrow_array::RecordBatch;

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

/// The rows of one shard, ready for the work.
pub(crate) struct ShardInput {
    pub index: u64,
    pub first_row: u64,
    /// The rows' own columns, in row order.
    pub batches: Vec<RecordBatch>,
    pub tasks: Vec<RowTask>,
}
