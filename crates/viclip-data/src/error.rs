//! The data crate's error: what tables, score runs, subsets and evaluations raise, over the model
//! crate's [`viclip::Error`] (decoding, the model, checkpoints and the core's own options), which it
//! wraps unchanged as [`Error::Core`].
//!
//! Options of this crate come as data ([`Error::Setting`] with a [`Setting`]), so a front end names
//! them in its own words (the CLI: its flags) with a `match`, never by reading the message.

use std::path::PathBuf;

/// Everything that can go wrong in `viclip_data`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// What the model crate raised: reading a checkpoint or a video, decoding, the model, the core's
    /// options. Its message is the core's, unchanged.
    #[error(transparent)]
    Core(viclip::Error),

    /// Reading a table, a run's record or a shard failed (missing, unreadable, truncated while read).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// Writing a result failed: creating, writing, syncing or renaming an output file or creating an
    /// output directory (a full disk, a read-only file system, no permission, a vanished directory).
    #[error("{}: cannot write ({source}); check the free space and that the directory is writable", path.display())]
    Output {
        /// The file or directory written.
        path: PathBuf,
        /// What the operating system (or the encoder writing the file) said.
        #[source]
        source: std::io::Error,
    },

    /// An output directory holds another run's results (other settings, another input, another
    /// split), or another process changed it underneath this one.
    #[error("{}: {msg}", path.display())]
    Conflict {
        /// The output directory or record file.
        path: PathBuf,
        /// What differs and how to proceed.
        msg: String,
    },

    /// A command's settings differ from those the output directory's run recorded: one line per
    /// differing key, `key: this command's value != the run's`.
    #[error("{}: {what} was scored with other settings than this run's (a directory holds one run: use a new output directory for other settings, or rerun with the run's); this run's value, then the recorded one:\n  {}", path.display(), differences.join("\n  "))]
    OtherSettings {
        /// The output directory.
        path: PathBuf,
        /// What holds the other run (`the directory`, `shard 3`).
        what: String,
        /// The differing keys, one line each.
        differences: Vec<String>,
    },

    /// A table's content or a request is invalid (a missing column, a malformed row, an empty input).
    #[error("{0}")]
    InvalidInput(String),

    /// An option of this crate is set to a value it does not allow, or is missing where it is needed.
    #[error("{setting} {value}: {allowed}")]
    Setting {
        /// Which option.
        setting: Setting,
        /// The value given (`unset` when it is missing).
        value: String,
        /// What it allows or why it is needed.
        allowed: String,
    },

    /// The system refused a resource the run needs (threads, a temporary directory).
    #[error("{what}: {msg}")]
    Resource {
        /// The resource, e.g. `8 worker threads`.
        what: String,
        /// What the system said and what would help.
        msg: String,
    },

    /// A broken internal invariant: a bug in viclip, not a problem with the input.
    #[error("internal error: {0}; this is a bug in viclip, please report it")]
    Internal(String),

    /// A score run stopped on request (its cancel flag, e.g. set on SIGINT or SIGTERM) between two
    /// batches, its temporary files removed; the same call again resumes.
    #[error(
        "interrupted; the temporary files are removed, and running the same command again resumes"
    )]
    Interrupted,
}

/// The core's error as this crate's: unchanged in [`Error::Core`], except the core's
/// [`viclip::Error::Interrupted`] (a cancel flag seen between batches), which in this crate's jobs is
/// a run stopped with its temporary files removed, [`Error::Interrupted`].
impl From<viclip::Error> for Error {
    fn from(e: viclip::Error) -> Self {
        match e {
            viclip::Error::Interrupted => Error::Interrupted,
            e => Error::Core(e),
        }
    }
}

/// A tensor operation's error (the evaluation's and SemDeDup's matrix products) as the core's
/// [`viclip::Error::Candle`].
impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::Core(viclip::Error::Candle(e))
    }
}

/// `Result` with the data crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The options of this crate an [`Error::Setting`] can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// The score run's output directory.
    OutputDir,
    /// Rows per shard of a score run.
    ShardSize,
    /// The number of shares a score run is split into.
    NumShards,
    /// This process's share of a score run.
    ShardIndex,
    /// The directory relative video paths are resolved against.
    VideoRoot,
    /// Writing the embeddings of a score run.
    Embeddings,
    /// FLT's shortest clip (seconds).
    MinDuration,
    /// FLT's longest clip (seconds).
    MaxDuration,
    /// FLT's fraction of rows kept by score.
    TopFraction,
    /// FLT's lowest score kept.
    MinScore,
    /// The score column a filter reads.
    ScoreColumn,
    /// The number of rows a subset samples.
    SampleSize,
    /// The lowest aesthetic score kept.
    MinAesthetic,
    /// SemDeDup's cosine distance threshold.
    DedupEps,
    /// SemDeDup's number of k-means clusters.
    DedupClusters,
    /// A subset's output table.
    SubsetOutput,
    /// A subset's input table.
    SubsetInput,
    /// Where a row's source video id comes from (a column or a path prefix).
    VideoId,
    /// The start and end columns of a table.
    SpanColumns,
    /// Rows per read batch of a table.
    ReadBatchRows,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Setting::OutputDir => "the output directory",
            Setting::ShardSize => "the shard size",
            Setting::NumShards => "the number of shares",
            Setting::ShardIndex => "the share index",
            Setting::VideoRoot => "the video root",
            Setting::Embeddings => "the embeddings output",
            Setting::MinDuration => "the minimum duration",
            Setting::MaxDuration => "the maximum duration",
            Setting::TopFraction => "the top fraction",
            Setting::MinScore => "the minimum score",
            Setting::ScoreColumn => "the score column",
            Setting::SampleSize => "the sample size",
            Setting::MinAesthetic => "the minimum aesthetic score",
            Setting::DedupEps => "the dedup threshold eps",
            Setting::DedupClusters => "the number of clusters",
            Setting::SubsetOutput => "the subset's output",
            Setting::SubsetInput => "the subset's input",
            Setting::VideoId => "the source video id",
            Setting::SpanColumns => "the start and end columns",
            Setting::ReadBatchRows => "the rows per read",
        })
    }
}

impl Error {
    /// Wraps an I/O error of reading `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps an I/O error of writing the result at `path` (see [`Error::Output`]).
    pub fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Output {
            path: path.into(),
            source,
        }
    }

    /// A failure of an encoder writing `path` (parquet, CSV, PNG) as [`Error::Output`]: the encoders'
    /// errors are mostly I/O underneath, and a caller handles them as a failed write either way.
    pub fn output_other(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        Self::output(path, std::io::Error::other(e.to_string()))
    }

    /// A conflict with the output directory or record at `path` (see [`Error::Conflict`]).
    pub fn conflict(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Conflict {
            path: path.into(),
            msg: msg.into(),
        }
    }

    /// `setting` set to `value`, which it does not allow: `allowed` says what it does.
    pub fn setting(setting: Setting, value: impl ToString, allowed: impl Into<String>) -> Self {
        Error::Setting {
            setting,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// The core's error underneath, if this is one (e.g. to tell a decode error from a table's).
    pub fn core(&self) -> Option<&viclip::Error> {
        match self {
            Error::Core(e) => Some(e),
            _ => None,
        }
    }
}
