//! The crate's one error type. Every variant names the file, tensor, row or option it is about, and its
//! message says what would fix it.

use std::path::PathBuf;

/// Everything that can go wrong in `viclip`, as one enum.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading a file or directory failed (missing, unreadable, truncated while read).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
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

    /// A checkpoint or tensor file could not be parsed (not a checkpoint, truncated, unsupported layout).
    #[error("{}: {msg}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it and what would fix it.
        msg: String,
    },

    /// The checkpoint lacks a tensor the model needs.
    #[error("{}: missing tensor `{name}` (expected shape {expected:?}); is this a checkpoint for this config?", path.display())]
    MissingTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The parameter the model needs.
        name: String,
        /// Its shape under the config.
        expected: Vec<usize>,
    },

    /// The checkpoint holds a tensor the model does not have (strict loading, like `load_state_dict`).
    #[error("{}: unexpected tensor `{name}` with shape {shape:?}; the config does not match this checkpoint (check layers, widths and the preset)", path.display())]
    UnexpectedTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor the model has no parameter for.
        name: String,
        /// Its shape in the file.
        shape: Vec<usize>,
    },

    /// A tensor has a different shape than the config implies.
    #[error("{}: tensor `{name}` has shape {got:?}, the config expects {expected:?}; use the config this checkpoint was trained with", path.display())]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The parameter.
        name: String,
        /// Its shape under the config.
        expected: Vec<usize>,
        /// Its shape in the file.
        got: Vec<usize>,
    },

    /// A tensor's dtype cannot be used.
    #[error("{}: tensor `{name}` has dtype {dtype}, expected a floating-point dtype (f32, f16, bf16)", path.display())]
    UnsupportedDType {
        /// The checkpoint file.
        path: PathBuf,
        /// The parameter.
        name: String,
        /// Its dtype in the file.
        dtype: String,
    },

    /// A config file or preset name is invalid.
    #[error("config {source_name}: {msg}")]
    Config {
        /// The config file or preset name.
        source_name: String,
        /// The offending key or value and the accepted range.
        msg: String,
    },

    /// A downloaded or local file does not have the pinned sha256.
    #[error("{}: sha256 {actual} does not match the pinned {expected}; delete the file and download it again", file.display())]
    Checksum {
        /// The file checked.
        file: PathBuf,
        /// The sha256 the manifest pins.
        expected: String,
        /// The file's sha256.
        actual: String,
    },

    /// The CLIP BPE vocabulary could not be read.
    #[error("BPE vocabulary {source_name}: {msg}")]
    Vocab {
        /// The vocabulary file (or `bundled`).
        source_name: String,
        /// What could not be read.
        msg: String,
    },

    /// An input (tensor, text list, table content) has the wrong shape or content.
    #[error("{0}")]
    InvalidInput(String),

    /// An option is set to a value it does not allow. The option comes as data, so a front end names
    /// it in its own words (a flag, a keyword argument) with a `match` on [`Setting`].
    #[error("{setting} {value}: {allowed}")]
    Setting {
        /// Which option.
        setting: Setting,
        /// The value given.
        value: String,
        /// What it allows, e.g. `must be between 1 and 256`.
        allowed: String,
    },

    /// Downloading from the Hugging Face hub failed.
    #[error("download of {repo}/{file} failed: {msg}")]
    Download {
        /// The hub repository (`owner/name`) or the address the file comes from.
        repo: String,
        /// The file name.
        file: String,
        /// Which checkpoint, what went wrong and what would help.
        msg: String,
    },

    /// The requested device is not available in this build or on this machine.
    #[error("device {device}: {msg}")]
    Device {
        /// The device as asked for, e.g. `cuda:1`.
        device: String,
        /// Why it is not available and what would help.
        msg: String,
    },

    /// An image file could not be decoded (aesthetic scoring of image files).
    #[error("{}: cannot decode image ({source}); pass a PNG or JPEG file", path.display())]
    ImageDecode {
        /// The image file.
        path: PathBuf,
        /// What the decoder said.
        #[source]
        source: image::ImageError,
    },

    /// An aesthetic head file whose tensors match none of the known LAION predictor layouts.
    #[error("{}: {msg}", path.display())]
    UnknownHead {
        /// The head file.
        path: PathBuf,
        /// The keys found and the layouts known.
        msg: String,
    },

    /// A clip has fewer (decodable) frames than the frame sampling asks for.
    #[error("{clip}: {got} decodable frame(s), {needed} needed; sample fewer frames per clip or check the clip")]
    TooFewFrames {
        /// The clip (file and span).
        clip: String,
        /// Frames the sampling asks for.
        needed: usize,
        /// Frames the clip has.
        got: usize,
    },

    /// A video could not be opened or decoded: missing or unreadable file, no video stream, unsupported
    /// codec, truncated or corrupt data. `span` is the clip asked for (`whole file` when none).
    #[error("{}, {span}: {msg}", path.display())]
    Decode {
        /// The video file.
        path: PathBuf,
        /// The clip asked for.
        span: String,
        /// What failed and what would help.
        msg: String,
    },

    /// A clip span does not fit its video: malformed timestamps, start >= end, start past the end of the
    /// stream, or no frame inside the span.
    #[error("{}, {span}: {msg}", path.display())]
    Span {
        /// The video file.
        path: PathBuf,
        /// The clip asked for.
        span: String,
        /// Why the span does not fit the video.
        msg: String,
    },

    /// A clip has too few frames for the chosen frame sampling (e.g. `demo` needs at least T frames).
    #[error("{}, {span}: {msg}", path.display())]
    Sampling {
        /// The video file.
        path: PathBuf,
        /// The clip asked for.
        span: String,
        /// How many frames it has and the sampling needs.
        msg: String,
    },

    /// An error from the tensor library while running the model.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),

    /// Work stopped on request (a cancel flag set, e.g. by SIGINT or SIGTERM) between two batches;
    /// results handed out before it are complete.
    #[error("interrupted between two batches on request")]
    Interrupted,
}

/// The options of the library that an [`Error::Setting`] can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// Clips per forward pass of the video tower (`LoadOptions`, `ClipOptions`, `PipelineOptions`).
    VideoBatchSize,
    /// Captions per forward pass of the text tower.
    TextBatchSize,
    /// Threads decoding and preprocessing clips.
    DecodeThreads,
    /// Decoded batches that may wait for the model.
    QueueBatches,
    /// Frames per clip the aesthetic scorer sees.
    AestheticFrames,
    /// Images per forward pass of the CLIP image tower.
    AestheticBatchSize,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Setting::VideoBatchSize => "video batch size",
            Setting::TextBatchSize => "text batch size",
            Setting::DecodeThreads => "decode threads",
            Setting::QueueBatches => "queued batches",
            Setting::AestheticFrames => "aesthetic frames per clip",
            Setting::AestheticBatchSize => "aesthetic batch size",
        })
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error of reading `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// `value` of `setting` is outside `lo..=hi`.
    pub fn out_of_range(setting: Setting, value: usize, lo: usize, hi: usize) -> Self {
        Error::Setting {
            setting,
            value: value.to_string(),
            allowed: format!("must be between {lo} and {hi}"),
        }
    }

    /// `Ok(v)` unless `v` is `Some(0)`: for counts where unset (`None`) picks a default.
    pub fn positive(setting: Setting, v: Option<usize>) -> Result<Option<usize>> {
        match v {
            Some(0) => Err(Error::Setting {
                setting,
                value: "0".into(),
                allowed: "must be at least 1 (leave it unset for the default)".into(),
            }),
            v => Ok(v),
        }
    }

    /// A checkpoint parse error for `path`.
    pub fn checkpoint(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            msg: msg.into(),
        }
    }
}
