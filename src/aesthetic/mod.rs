//! Aesthetic scores as InternVid computes them (docs/reference/datasets.md §1, §3; frames: docs/reference/preprocessing.md §3): the LAION aesthetic predictor on
//! L2-normalised OpenAI CLIP ViT-L/14 image embeddings, per image, and per clip over `uniform(4)` frames
//! reduced by their maximum.
//!
//! ```no_run
//! use viclip::aesthetic::{AestheticScorer, ClipVisionConfig, Reduce, ScorerOptions};
//! use viclip::preprocess::RgbFrame;
//! # fn main() -> viclip::Result<()> {
//! let scorer = AestheticScorer::from_files(
//!     "clip-vit-large-patch14/model.safetensors",
//!     &ClipVisionConfig::clip_vit_l14(),
//!     "sac+logos+ava1-l14-linearMSE.pth",
//!     None, // detect the head kind from its keys
//!     &ScorerOptions::default(),
//! )?;
//! let frames: Vec<RgbFrame> = (0..30)
//!     .map(|_| RgbFrame::new(320, 240, vec![0; 320 * 240 * 3]))
//!     .collect::<viclip::Result<_>>()?;
//! let clip = scorer.score_clip("clip0", &frames, 4, Reduce::Max)?;
//! println!("{} from frames {:?}: {:?}", clip.score, clip.frame_indices, clip.frame_scores);
//! # Ok(()) }
//! ```
//!
//! A clip is a list of decoded RGB frames, [`RgbFrame`] (wrap raw `(H, W, 3)` u8 buffers with
//! [`RgbFrame::new`]): the type the video decoder hands over, so decoded frames go to the scorer
//! without conversion, and any other decoder can feed it too. To score clips of video files, run
//! the [clip engine](crate::engine::ClipEngine) with an
//! [`AestheticRule`](crate::engine::AestheticRule): it decodes each clip once and scores its frames.

mod clip_vision;
mod config;
mod heads;
pub mod preprocess;
mod scorer;

use std::path::Path;

pub use clip_vision::{ClipVisionModel, ClipVisionTrace};
pub use config::{ClipVisionConfig, CLIP_PRESETS};
pub use heads::{AestheticHead, HeadKind};
pub use preprocess::{clip_pixel_values, clip_preprocess, CLIP_MEAN, CLIP_STD};
pub use scorer::{AestheticScorer, ScorerInfo, ScorerOptions, DEFAULT_BATCH_SIZE};
// Where the pipeline and the samplers take it from too; kept here for the scorer's users.
pub use crate::preprocess::uniform_indices;

use crate::preprocess::RgbFrame;
use crate::{Error, Result};

/// How a clip's frame scores become its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduce {
    /// InternVid's rule (paper §3.3).
    #[default]
    Max,
    /// The mean of the frame scores.
    Mean,
    /// The lowest frame score.
    Min,
}

impl Reduce {
    /// The name `FromStr` reads and outputs record: `max`, `mean` or `min`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reduce::Max => "max",
            Reduce::Mean => "mean",
            Reduce::Min => "min",
        }
    }

    /// Reduces non-empty `scores` (the mean accumulates in f64).
    pub fn apply(self, scores: &[f32]) -> f32 {
        match self {
            Reduce::Max => scores.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            Reduce::Min => scores.iter().copied().fold(f32::INFINITY, f32::min),
            Reduce::Mean => {
                (scores.iter().map(|&s| s as f64).sum::<f64>() / scores.len().max(1) as f64) as f32
            }
        }
    }
}

impl std::str::FromStr for Reduce {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "max" => Ok(Reduce::Max),
            "mean" => Ok(Reduce::Mean),
            "min" => Ok(Reduce::Min),
            other => Err(Error::InvalidInput(format!(
                "reduction `{other}`: use max, mean or min"
            ))),
        }
    }
}

/// A clip's score with the frames it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipScore {
    /// The frame scores reduced ([`Reduce`]).
    pub score: f32,
    /// The scored frames' positions among the clip's frames given to the scorer.
    pub frame_indices: Vec<usize>,
    /// One score per scored frame, same order.
    pub frame_scores: Vec<f32>,
}

/// Decodes an image file to 8-bit RGB (alpha dropped, grey and palette expanded). No EXIF rotation, as
/// PIL's `Image.open` does none. Needs the `image` feature (the PNG and JPEG codecs); without it this
/// is an error that says so.
pub fn load_image(path: impl AsRef<Path>) -> Result<RgbFrame> {
    let path = path.as_ref();
    #[cfg(not(feature = "image"))]
    return Err(Error::InvalidInput(format!(
        "{}: decoding PNG/JPEG images needs viclip's `image` feature",
        path.display()
    )));
    #[cfg(feature = "image")]
    {
        let reader = image::ImageReader::open(path)
            .map_err(|e| Error::io(path, e))?
            .with_guessed_format()
            .map_err(|e| Error::io(path, e))?;
        let img = reader.decode().map_err(|source| Error::ImageDecode {
            path: path.to_path_buf(),
            source,
        })?;
        let rgb = img.to_rgb8();
        let (w, h) = (rgb.width() as usize, rgb.height() as usize);
        RgbFrame::new(w, h, rgb.into_raw())
    }
}
