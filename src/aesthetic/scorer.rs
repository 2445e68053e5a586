//! [`AestheticScorer`]: the CLIP tower and a head together, batching images and clips.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor, D};
use rayon::prelude::*;

use super::{
    clip_pixel_values, clip_preprocess, load_image, uniform_indices, AestheticHead, ClipScore,
    ClipVisionConfig, ClipVisionModel, HeadKind, Reduce,
};
use crate::preprocess::RgbFrame;
use crate::{Error, Result};

/// Images per forward pass of the CLIP image tower unless told otherwise (the aesthetic tower's one
/// default, in the library and the CLI).
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Device, dtype and batch size of a scorer: [`ScorerOptions::new`] and the `with_…` methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ScorerOptions {
    /// Where the CLIP tower and the head run.
    pub device: Device,
    /// The CLIP tower's dtype (the head always runs in f32).
    pub dtype: DType,
    /// Images per forward pass.
    pub batch_size: usize,
}

impl Default for ScorerOptions {
    fn default() -> Self {
        Self {
            device: Device::Cpu,
            dtype: DType::F32,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl ScorerOptions {
    /// On `device` in `dtype`, 32 images per forward pass.
    pub fn new(device: Device, dtype: DType) -> Self {
        Self {
            device,
            dtype,
            ..Self::default()
        }
    }

    /// Images per forward pass (>= 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
}

/// CLIP image tower + LAION head: images and clips in, aesthetic scores out. `Clone + Send + Sync`.
#[derive(Debug, Clone)]
pub struct AestheticScorer {
    clip: ClipVisionModel,
    head: AestheticHead,
    batch_size: usize,
}

impl AestheticScorer {
    /// Pairs a tower and a head; their widths must agree, and `batch_size` (images per pass of the
    /// tower) is 1..=[`crate::limits::MAX_BATCH_SIZE`].
    pub fn new(clip: ClipVisionModel, head: AestheticHead, batch_size: usize) -> Result<Self> {
        check_batch_size(batch_size)?;
        let p = clip.config().projection_dim;
        if head.input_dim() != p {
            return Err(Error::UnknownHead {
                path: head.path().to_path_buf(),
                msg: format!(
                    "the head takes {}-d embeddings but the CLIP tower projects to {p}; use the head \
                     trained for this CLIP (ViT-L/14 heads take 768)",
                    head.input_dim()
                ),
            });
        }
        Ok(Self {
            clip,
            head,
            batch_size,
        })
    }

    /// Loads the CLIP weights (`.safetensors`/`.pth`, HF names) and the head file.
    pub fn from_files(
        clip_weights: impl AsRef<Path>,
        cfg: &ClipVisionConfig,
        head: impl AsRef<Path>,
        head_kind: Option<HeadKind>,
        opts: &ScorerOptions,
    ) -> Result<Self> {
        // Before the weights are read: a wrong setting costs no load.
        check_batch_size(opts.batch_size)?;
        let clip = ClipVisionModel::load(clip_weights, cfg, &opts.device, opts.dtype)?;
        let head = AestheticHead::load(head, head_kind, &opts.device)?;
        Self::new(clip, head, opts.batch_size)
    }

    /// The CLIP image tower.
    pub fn clip(&self) -> &ClipVisionModel {
        &self.clip
    }

    /// The LAION head.
    pub fn head(&self) -> &AestheticHead {
        &self.head
    }

    /// Input side length the tower takes (224 for ViT-L/14).
    pub fn image_size(&self) -> u32 {
        self.clip.config().image_size as u32
    }

    fn check_pixels(&self, x: &Tensor) -> Result<()> {
        let s = self.clip.config().image_size;
        match x.dims() {
            [_, 3, h, w] if *h == s && *w == s => Ok(()),
            d => Err(Error::InvalidInput(format!(
                "pixel values have shape {d:?}, the CLIP tower takes [N, 3, {s}, {s}] \
                 (CLIP-preprocessed images)"
            ))),
        }
    }

    /// L2-normalised image embeddings (`x / ||x||₂`, f32), in batches of `batch_size`.
    ///
    /// # Shapes
    /// `pixel_values [N, 3, S, S]` → `[N, P]` f32.
    pub fn embed_pixels(&self, pixel_values: &Tensor) -> Result<Tensor> {
        self.check_pixels(pixel_values)?;
        let n = pixel_values.dim(0)?;
        let x = pixel_values.to_device(self.clip.device())?;
        let mut out = Vec::new();
        for start in (0..n).step_by(self.batch_size) {
            let len = self.batch_size.min(n - start);
            let e = self
                .clip
                .forward(&x.narrow(0, start, len)?)?
                .to_dtype(DType::F32)?;
            let norm = e.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
            out.push(e.broadcast_div(&norm)?);
        }
        if out.is_empty() {
            let p = self.clip.config().projection_dim;
            return Ok(Tensor::zeros((0, p), DType::F32, self.clip.device())?);
        }
        Ok(Tensor::cat(&out, 0)?)
    }

    /// Scores of already-preprocessed images.
    ///
    /// # Shapes
    /// `pixel_values [N, 3, S, S]` → N scores.
    pub fn score_pixels(&self, pixel_values: &Tensor) -> Result<Vec<f32>> {
        let e = self.embed_pixels(pixel_values)?;
        if e.dim(0)? == 0 {
            return Ok(Vec::new());
        }
        Ok(self.head.forward(&e)?.to_vec1()?)
    }

    /// Scores decoded images (any sizes; CLIP-preprocessed here), in input order.
    pub fn score_images(&self, images: &[RgbFrame]) -> Result<Vec<f32>> {
        let mut scores = Vec::with_capacity(images.len());
        for chunk in images.chunks(self.batch_size) {
            let x = clip_pixel_values(chunk, self.image_size(), self.clip.device())?;
            scores.extend(self.score_pixels(&x)?);
        }
        Ok(scores)
    }

    /// Scores items of `per_item` preprocessed images each (flat CHW pixel data), one result per item;
    /// an item that failed before stays failed, the others run through the model together.
    fn score_prepared(
        &self,
        items: Vec<Result<Vec<f32>>>,
        per_item: usize,
    ) -> Vec<Result<Vec<f32>>> {
        let s = self.image_size() as usize;
        let n_ok = items.iter().filter(|r| r.is_ok()).count();
        let flat: Vec<f32> = items.iter().flatten().flatten().copied().collect();
        let scores = Tensor::from_vec(flat, (n_ok * per_item, 3, s, s), self.clip.device())
            .map_err(Error::from)
            .and_then(|x| self.score_pixels(&x));
        let mut at = 0;
        items
            .into_iter()
            .map(|item| {
                item?;
                let s = scores
                    .as_ref()
                    .map_err(|e| Error::InvalidInput(format!("scoring failed: {e}")))?;
                at += per_item;
                Ok(s[at - per_item..at].to_vec())
            })
            .collect()
    }

    /// Scores image files, one result per file in input order: a file that cannot be read or decoded
    /// is an error in its slot, the others are scored.
    pub fn score_image_files<P: AsRef<Path> + Sync>(&self, paths: &[P]) -> Vec<Result<f32>> {
        let n_px = self.image_size();
        let mut results = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(self.batch_size) {
            let prepared: Vec<Result<Vec<f32>>> = chunk
                .par_iter()
                .map(|p| clip_preprocess(&load_image(p)?, n_px))
                .collect();
            results.extend(
                self.score_prepared(prepared, 1)
                    .into_iter()
                    .map(|r| r.map(|s| s[0])),
            );
        }
        results
    }

    /// Scores a clip: `frames_per_clip` frames at `uniform_indices`, each scored like an image, then
    /// reduced. `name` labels errors (a path, a clip id).
    pub fn score_clip(
        &self,
        name: &str,
        frames: &[RgbFrame],
        frames_per_clip: usize,
        reduce: Reduce,
    ) -> Result<ClipScore> {
        self.score_clips(&[(name, frames)], frames_per_clip, reduce)
            .pop()
            .unwrap_or_else(|| Err(Error::InvalidInput(format!("{name}: no result"))))
    }

    /// Scores several clips, batching their sampled frames together (about `batch_size` frames per
    /// forward pass); one result per clip (a clip with too few frames fails alone).
    pub fn score_clips(
        &self,
        clips: &[(&str, &[RgbFrame])],
        frames_per_clip: usize,
        reduce: Reduce,
    ) -> Vec<Result<ClipScore>> {
        let per_chunk = (self.batch_size / frames_per_clip.max(1)).max(1);
        clips
            .chunks(per_chunk)
            .flat_map(|chunk| self.score_clip_chunk(chunk, frames_per_clip, reduce))
            .collect()
    }

    fn score_clip_chunk(
        &self,
        clips: &[(&str, &[RgbFrame])],
        frames_per_clip: usize,
        reduce: Reduce,
    ) -> Vec<Result<ClipScore>> {
        let n_px = self.image_size();
        let indices: Vec<Result<Vec<usize>>> = clips
            .iter()
            .map(|(name, frames)| {
                if frames_per_clip == 0 || frames.len() < frames_per_clip {
                    return Err(Error::TooFewFrames {
                        clip: name.to_string(),
                        needed: frames_per_clip.max(1),
                        got: frames.len(),
                    });
                }
                Ok(uniform_indices(frames.len(), frames_per_clip))
            })
            .collect();
        let prepared: Vec<Result<Vec<f32>>> = clips
            .par_iter()
            .zip(&indices)
            .map(|((name, frames), idx)| {
                let idx = idx
                    .as_ref()
                    .map_err(|e| Error::InvalidInput(e.to_string()))?;
                let mut px = Vec::with_capacity(idx.len() * 3 * (n_px * n_px) as usize);
                for &i in idx {
                    let p = clip_preprocess(&frames[i], n_px)
                        .map_err(|e| Error::InvalidInput(format!("{name}: frame {i}: {e}")))?;
                    px.extend(p);
                }
                Ok(px)
            })
            .collect();
        self.score_prepared(prepared, frames_per_clip.max(1))
            .into_iter()
            .zip(indices)
            .map(|(scores, idx)| {
                let frame_indices = idx?;
                let frame_scores = scores?;
                Ok(ClipScore {
                    score: reduce.apply(&frame_scores),
                    frame_indices,
                    frame_scores,
                })
            })
            .collect()
    }
}

/// What produced a set of scores, for recording next to them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScorerInfo {
    /// The CLIP tower's weights file.
    pub clip_weights: PathBuf,
    /// The CLIP config it was loaded with (a preset name or a file).
    pub clip_config: String,
    /// Side of the tower's square input, pixels.
    pub image_size: usize,
    /// Width of the image embeddings the head scores.
    pub projection_dim: usize,
    /// The head's file.
    pub head: PathBuf,
    /// The head's layout (`HeadKind::as_str`).
    pub head_kind: &'static str,
    /// The layout detected from the head's keys, when it was not forced.
    pub detected_head_kind: Option<&'static str>,
}

impl AestheticScorer {
    /// Describes this scorer; `clip_weights` and `clip_config` are what it was loaded from.
    pub fn info(&self, clip_weights: &Path, clip_config: &str) -> ScorerInfo {
        let cfg = self.clip.config();
        ScorerInfo {
            clip_weights: clip_weights.to_path_buf(),
            clip_config: clip_config.to_string(),
            image_size: cfg.image_size,
            projection_dim: cfg.projection_dim,
            head: self.head.path().to_path_buf(),
            head_kind: self.head.kind().as_str(),
            detected_head_kind: self.head.detected_kind().map(HeadKind::as_str),
        }
    }
}

/// Images per pass of the CLIP tower: 1..=[`crate::limits::MAX_BATCH_SIZE`].
fn check_batch_size(batch_size: usize) -> Result<usize> {
    crate::limits::check_count(
        crate::Setting::AestheticBatchSize,
        batch_size,
        crate::limits::MAX_BATCH_SIZE,
    )
}
