//! From decoded frames to the model's input: frame sampling, resize to the square model size, ImageNet
//! normalisation, `(B, T, 3, S, S)` float32.
//!
//! Two reference pipelines exist and both are reproduced:
//!
//! | pipeline | sampling | resize | normalisation |
//! |---|---|---|---|
//! | demo (`frames2tensor`) | [`FrameSampling::Demo`] | [`ResizeFilter::Cv2Linear`] (bit-exact) | float64, then f32 |
//! | evaluation (zero-shot numbers) | [`FrameSampling::Middle`] | [`ResizeFilter::Bicubic`] | float32 |
//!
//! The normalisation precision follows the resize filter (each filter belongs to one pipeline).
//!
//! ```
//! use viclip::preprocess::{FrameSampling, Preprocess, ResizeFilter, RgbFrame};
//! # fn main() -> viclip::Result<()> {
//! let p = Preprocess::new(8, 224).with_sampling(FrameSampling::Demo).with_resize(ResizeFilter::Cv2Linear);
//! let frames: Vec<RgbFrame> = (0..20).map(|i| RgbFrame::new(64, 36, vec![i as u8; 64 * 36 * 3])).collect::<Result<_, _>>()?;
//! let clip = p.process_all(&frames, "example", "all frames")?;
//! assert_eq!(clip.indices, vec![0, 2, 4, 6, 8, 10, 12, 14]);
//! let videos = viclip::preprocess::stack_clips(&[clip], &p)?; // (1, 8, 3, 224, 224)
//! assert_eq!(videos.dims(), &[1, 8, 3, 224, 224]);
//! # Ok(()) }
//! ```

mod color;
mod cubic;
mod frame;
mod linear;
mod normalize;
mod sampling;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use color::{ColorInfo, ColorMatrix, RgbConversion};
pub use cubic::resize_bicubic;
pub use frame::RgbFrame;
pub use linear::resize_cv2_linear;
pub use normalize::{Precision, IMAGENET_MEAN, IMAGENET_STD};
pub use sampling::{uniform_indices, FrameSampling};

use crate::{Error, Result, ViClipConfig};

/// How frames are resized to the square model input. Aspect ratio is never kept and nothing is cropped,
/// as in both references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ResizeFilter {
    /// OpenCV `cv2.resize` INTER_LINEAR on u8, bit-exact (the demo); see [`resize_cv2_linear`].
    Cv2Linear,
    /// torchvision `Resize((S, S), BICUBIC)` on u8 tensors without anti-aliasing (the evaluation
    /// pipeline); see [`resize_bicubic`].
    #[default]
    Bicubic,
}

impl ResizeFilter {
    /// Resizes one frame to `size x size`.
    pub fn resize(&self, frame: &RgbFrame, size: usize) -> Result<RgbFrame> {
        match self {
            ResizeFilter::Cv2Linear => resize_cv2_linear(frame, size, size),
            ResizeFilter::Bicubic => resize_bicubic(frame, size, size),
        }
    }

    /// The normalisation precision of the pipeline this filter comes from.
    pub fn precision(&self) -> Precision {
        match self {
            ResizeFilter::Cv2Linear => Precision::Float64,
            ResizeFilter::Bicubic => Precision::Float32,
        }
    }
}

impl fmt::Display for ResizeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResizeFilter::Cv2Linear => "cv2-linear",
            ResizeFilter::Bicubic => "bicubic",
        })
    }
}

impl FromStr for ResizeFilter {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "cv2-linear" | "cv2" | "linear" | "bilinear" => Ok(ResizeFilter::Cv2Linear),
            "bicubic" | "cubic" => Ok(ResizeFilter::Bicubic),
            _ => Err(Error::InvalidInput(format!(
                "resize filter `{s}`: expected `cv2-linear` (the demo) or `bicubic` (the evaluation pipeline)"
            ))),
        }
    }
}

impl From<ResizeFilter> for String {
    fn from(r: ResizeFilter) -> String {
        r.to_string()
    }
}

impl TryFrom<String> for ResizeFilter {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

/// Everything that turns a clip's frames into model input: `T`, the square size `S`, sampling, resize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preprocess {
    /// Frames the model takes per clip (`T`; [`FrameSampling::Uniform`] overrides it).
    pub num_frames: usize,
    /// Side of the square model input in pixels (`S`).
    pub size: usize,
    /// Which frames of a clip are taken (the evaluation pipeline's `middle` by default).
    pub sampling: FrameSampling,
    /// How frames are resized to `S x S` (the evaluation pipeline's bicubic by default).
    pub resize: ResizeFilter,
}

/// One clip after preprocessing.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessedClip {
    /// Indices of the sampled frames among the clip's frames, in output order.
    pub indices: Vec<usize>,
    /// How many frames the clip had before sampling.
    pub num_source_frames: usize,
    /// Normalised pixels.
    ///
    /// # Shapes
    /// `(F, 3, S, S)` flattened, `F = sampling.frames_per_clip(T)`.
    pub pixels: Vec<f32>,
}

impl Preprocess {
    /// `T` frames of `size x size`, with the evaluation pipeline's defaults (middle, bicubic).
    pub fn new(num_frames: usize, size: usize) -> Self {
        Preprocess {
            num_frames,
            size,
            sampling: FrameSampling::default(),
            resize: ResizeFilter::default(),
        }
    }

    /// The model's `T` and `S`, evaluation pipeline defaults (middle sampling, bicubic): the published
    /// zero-shot numbers use these.
    pub fn for_config(cfg: &ViClipConfig) -> Self {
        Self::new(cfg.vision.num_frames, cfg.vision.input_resolution)
    }

    /// The demo's `frames2tensor`: demo sampling, bit-exact cv2 INTER_LINEAR, float64 normalisation.
    pub fn demo(cfg: &ViClipConfig) -> Self {
        Self::for_config(cfg)
            .with_sampling(FrameSampling::Demo)
            .with_resize(ResizeFilter::Cv2Linear)
    }

    /// With another frame sampling.
    pub fn with_sampling(mut self, sampling: FrameSampling) -> Self {
        self.sampling = sampling;
        self
    }

    /// With another resize filter.
    pub fn with_resize(mut self, resize: ResizeFilter) -> Self {
        self.resize = resize;
        self
    }

    /// Frames per output clip (`T`, or `k` for `Uniform(k)`).
    pub fn frames_per_clip(&self) -> usize {
        self.sampling.frames_per_clip(self.num_frames)
    }

    /// Refuses a clip shape (frames per clip, input size) beyond the documented bounds
    /// ([`crate::limits::check_clip_shape`]) before anything is allocated for it.
    pub fn check(&self) -> Result<()> {
        crate::limits::check_clip_shape(self.frames_per_clip(), self.size)
    }

    /// The indices to keep among `n` frames, or a [`Error::Sampling`] naming `path` and `span`.
    pub fn sample(&self, n: usize, path: impl Into<PathBuf>, span: &str) -> Result<Vec<usize>> {
        self.check()?;
        sample_indices(self.sampling, self.num_frames, n, path, span)
    }

    /// Resizes and normalises already-sampled frames into `(F, 3, S, S)` values.
    pub fn process_sampled(&self, frames: &[RgbFrame]) -> Result<Vec<f32>> {
        self.process_refs(&frames.iter().collect::<Vec<_>>())
    }

    /// Normalises frames already resized to `S x S` with this filter (e.g. by the video decoder,
    /// `video::FrameShape::Square`) into `(F, 3, S, S)` values: [`Self::process_sampled`]
    /// without its resize, so the same values.
    pub fn process_resized(&self, frames: &[RgbFrame]) -> Result<Vec<f32>> {
        self.check_batch(frames.len())?;
        let s = self.size;
        if let Some(f) = frames.iter().find(|f| (f.width(), f.height()) != (s, s)) {
            return Err(Error::InvalidInput(format!(
                "a frame handed over as resized is {}x{}, not the model input {s}x{s}",
                f.width(),
                f.height()
            )));
        }
        let lut = normalize::table(self.resize.precision());
        let per = 3 * s * s;
        let mut out = vec![0f32; frames.len() * per];
        for (f, o) in frames.iter().zip(out.chunks_exact_mut(per)) {
            normalize::frame_into(f, &lut, o);
        }
        Ok(out)
    }

    /// [`Self::check`], and `n` frames (what a caller hands over) within the clip bound too.
    fn check_batch(&self, n: usize) -> Result<()> {
        self.check()?;
        crate::limits::check_clip_shape(n, self.size)
    }

    fn process_refs(&self, frames: &[&RgbFrame]) -> Result<Vec<f32>> {
        self.check_batch(frames.len())?;
        let lut = normalize::table(self.resize.precision());
        let per = 3 * self.size * self.size;
        let mut out = vec![0f32; frames.len() * per];
        for (f, o) in frames.iter().zip(out.chunks_exact_mut(per)) {
            let r = self.resize.resize(f, self.size)?;
            normalize::frame_into(&r, &lut, o);
        }
        Ok(out)
    }

    /// Samples, resizes and normalises all frames of a clip held in memory. `path` and `span` only name
    /// the clip in errors.
    pub fn process_all(
        &self,
        frames: &[RgbFrame],
        path: impl Into<PathBuf>,
        span: &str,
    ) -> Result<ProcessedClip> {
        let indices = self.sample(frames.len(), path, span)?;
        let picked: Vec<&RgbFrame> = indices.iter().map(|&i| &frames[i]).collect();
        Ok(ProcessedClip {
            pixels: self.process_refs(&picked)?,
            num_source_frames: frames.len(),
            indices,
        })
    }
}

/// [`FrameSampling::indices`] for a clip of `n` frames with `t` wanted, or an [`Error::Sampling`] naming
/// the clip (`path`, `span`) and what would fix it.
pub fn sample_indices(
    sampling: FrameSampling,
    t: usize,
    n: usize,
    path: impl Into<PathBuf>,
    span: &str,
) -> Result<Vec<usize>> {
    sampling.indices(n, t).ok_or_else(|| {
        let need = sampling.min_frames(t);
        let msg = if n == 0 {
            "the clip has no frames; check the span or the frame source".to_string()
        } else if sampling.frames_per_clip(t) == 0 {
            "the sampling asks for 0 frames per clip; use T >= 1 / uniform(k >= 1)".to_string()
        } else {
            format!(
                "{sampling} sampling needs at least {need} frames but the clip has {n}; \
                 use a longer span or `middle` sampling, which repeats frames"
            )
        };
        Error::Sampling {
            path: path.into(),
            span: span.to_string(),
            msg,
        }
    })
}

/// Stacks clips into the model's video batch on the CPU.
///
/// # Shapes
/// Returns `(B, F, 3, S, S)` float32 with `B = clips.len()`, `F = p.frames_per_clip()`.
pub fn stack_clips(clips: &[ProcessedClip], p: &Preprocess) -> Result<Tensor> {
    let (f, s) = (p.frames_per_clip(), p.size);
    let per = f * 3 * s * s;
    let mut all = Vec::with_capacity(clips.len() * per);
    for (i, c) in clips.iter().enumerate() {
        if c.pixels.len() != per {
            return Err(Error::InvalidInput(format!(
                "clip {i} holds {} values, expected {per} for ({f}, 3, {s}, {s}); preprocess every clip with the same settings",
                c.pixels.len()
            )));
        }
        all.extend_from_slice(&c.pixels);
    }
    Ok(Tensor::from_vec(
        all,
        (clips.len(), f, 3, s, s),
        &Device::Cpu,
    )?)
}
