//! What a run is asked to do: [`ScoreOptions`] and its [`AestheticOptions`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::input::Input;
use super::tasks::ShareRequest;
use viclip::aesthetic::{AestheticScorer, Reduce};
use viclip::ClipOptions;

/// The aesthetic column: a scorer and how clips are reduced to one score.
#[derive(Debug, Clone)]
pub struct AestheticOptions {
    /// The loaded CLIP image tower and LAION aesthetic head that score the frames.
    pub scorer: AestheticScorer,
    /// Frames sampled uniformly per clip (InternVid: 4).
    pub frames: usize,
    /// How frame scores become the clip's (InternVid: max).
    pub reduce: Reduce,
    /// What the scorer is (e.g. [`viclip::aesthetic::ScorerInfo`] as JSON), recorded in the output.
    pub info: serde_json::Value,
    /// The files the scorer was loaded from (CLIP weights, then the head), hashed into the run
    /// identity.
    pub files: Vec<PathBuf>,
}

/// Everything `viclip score` needs besides the model.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// The clip table or webdataset shards to score.
    pub input: Input,
    /// Output directory (created); reruns into it resume.
    pub out: PathBuf,
    /// Rows per shard (the unit of output files, of resume and of splitting across processes).
    pub shard_size: u64,
    /// Which share of the table this process takes (flags and scheduler variables), resolved
    /// against the run's records `OUT/table.json` and `OUT/split.json` when the run starts.
    pub shards: ShareRequest,
    /// Frame sampling and resize (the model fixes `T` and `S`), the video batch size (`None`: the
    /// model's) and the decode threads (`None`: one per core).
    pub clips: ClipOptions,
    /// Also write clip-retrieval's `video_emb/`, `text_emb/`, `metadata/`.
    pub embeddings: bool,
    /// Also fill the `aesthetic` column with this scorer; `None`: the column stays null.
    pub aesthetic: Option<AestheticOptions>,
    /// How the model was named (weights file or manifest name), recorded in the output.
    pub model_name: String,
    /// The checkpoint file, hashed into the run identity (`None`: only `model_name` is recorded).
    pub weights: Option<PathBuf>,
    /// Set (by a signal handler) to stop the run between two batches: the run then returns
    /// [`Error::Interrupted`](viclip::Error::Interrupted) after removing its temporary files.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Write the report (quantiles, histograms) when every shard of the table is complete.
    pub write_report: bool,
}
