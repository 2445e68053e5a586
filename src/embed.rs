//! The high-level API: a loaded model plus its tokenizer, embedding batches of preprocessed videos and
//! of captions into L2-normalised vectors, in input order, in chunks of `batch_size`.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::checkpoint::load_model;
use crate::config::ViClipConfig;
use crate::embeddings::Embeddings;
use crate::model::ViClipModel;
use crate::tokenizer::Tokenizer;
use crate::{Error, Result};

/// Where and how to run: device, dtype and batch sizes.
///
/// Built with [`LoadOptions::new`] (or [`Default`]: the CPU, f32) and the `with_…` methods; `None`
/// batch sizes are picked when the model is loaded ([`ViClip::new`]). `#[non_exhaustive]`: other
/// crates build it through those methods, so options can be added without breaking them.
///
/// ```
/// use candle_core::{DType, Device};
/// let opts = viclip::LoadOptions::new(Device::Cpu, DType::F32).with_batch_size(16);
/// assert_eq!(opts.batch_size, Some(16));
/// assert_eq!(opts.text_batch_size, None);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Where the weights live and the model runs.
    pub device: Device,
    /// Dtype of weights and activations (LayerNorm and softmax always accumulate in f32).
    pub dtype: DType,
    /// Videos per forward pass of the video tower; `None` picks it when the model is loaded: from
    /// the free memory on a GPU ([`crate::device::auto_video_batch`]), 8 on the CPU.
    pub batch_size: Option<usize>,
    /// Captions per forward pass of the text tower; `None`: 32 times the video batch, at least 256
    /// (a caption costs about 1/300 of a clip).
    pub text_batch_size: Option<usize>,
}

impl Default for LoadOptions {
    /// The CPU, f32, batch sizes picked at load time.
    fn default() -> Self {
        Self::new(Device::Cpu, DType::F32)
    }
}

impl LoadOptions {
    /// `device` and `dtype`, batch sizes picked when the model is loaded.
    pub fn new(device: Device, dtype: DType) -> Self {
        Self {
            device,
            dtype,
            batch_size: None,
            text_batch_size: None,
        }
    }

    /// From the device and dtype as text: `cpu`, `cuda`, `cuda:N` or `metal` ([`crate::parse_device`])
    /// and `f32`, `f16` or `bf16` ([`crate::parse_dtype`]); batch sizes picked at load time.
    pub fn from_names(device: &str, dtype: &str) -> Result<Self> {
        Ok(Self::new(
            crate::parse_device(device)?,
            crate::parse_dtype(dtype)?,
        ))
    }

    /// Runs on `device`.
    pub fn with_device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Weights and activations in `dtype`.
    pub fn with_dtype(mut self, dtype: DType) -> Self {
        self.dtype = dtype;
        self
    }

    /// `n` videos per forward pass (1 ..= [`crate::limits::MAX_BATCH_SIZE`]; the loaders refuse
    /// others); `None` picks it at load time.
    pub fn with_batch_size(mut self, n: impl Into<Option<usize>>) -> Self {
        self.batch_size = n.into();
        self
    }

    /// `n` captions per forward pass (>= 1; the loaders refuse 0); `None` derives it from the video
    /// batch.
    pub fn with_text_batch_size(mut self, n: impl Into<Option<usize>>) -> Self {
        self.text_batch_size = n.into();
        self
    }
}

impl LoadOptions {
    /// Refuses batch sizes of 0 or over [`crate::limits::MAX_BATCH_SIZE`] ([`crate::Error::Setting`]).
    pub fn check(&self) -> Result<()> {
        use crate::limits::{check_batch_size, check_count, MAX_TEXT_BATCH_SIZE};
        if let Some(n) = self.batch_size {
            check_batch_size(n)?;
        }
        if let Some(n) = self.text_batch_size {
            check_count(crate::Setting::TextBatchSize, n, MAX_TEXT_BATCH_SIZE)?;
        }
        Ok(())
    }
}

/// The text batch that goes with a video batch: 32 times as many, at least 256.
fn text_batch_for(video_batch: usize) -> usize {
    video_batch.saturating_mul(32).max(256)
}

/// A ViCLIP model ready to embed. `Clone + Send + Sync`; every method takes `&self`.
#[derive(Debug, Clone)]
pub struct ViClip {
    model: ViClipModel,
    tokenizer: Tokenizer,
    opts: LoadOptions,
}

impl ViClip {
    /// Wraps an already-built model; batch sizes left `None` are picked here (see [`LoadOptions`]),
    /// so [`ViClip::options`] holds `Some` for both.
    pub fn new(model: ViClipModel, tokenizer: Tokenizer, mut opts: LoadOptions) -> Self {
        let video = *opts.batch_size.get_or_insert_with(|| {
            crate::device::auto_video_batch(model.config(), &opts.device).unwrap_or(8)
        });
        opts.text_batch_size
            .get_or_insert_with(|| text_batch_for(video));
        Self {
            model,
            tokenizer,
            opts,
        }
    }

    /// Loads a `.pth` or `.safetensors` checkpoint strictly for `cfg`, with the embedded tokenizer.
    pub fn from_files(
        weights: impl AsRef<Path>,
        cfg: &ViClipConfig,
        opts: LoadOptions,
    ) -> Result<Self> {
        opts.check()?;
        let model = load_model(weights.as_ref(), cfg, &opts.device, opts.dtype)?;
        Ok(Self::new(model, Tokenizer::new()?, opts))
    }

    /// Loads a released checkpoint by its name in the built-in weights manifest (`viclip models`
    /// lists them; e.g. `viclip-l14-internvid-10m-flt`) with the entry's config (`hub` feature).
    ///
    /// The file is fetched into the Hugging Face cache, or found there when `HF_HUB_OFFLINE` is set,
    /// and checked against the manifest's sha256 ([`crate::manifest::fetch`]). Fails with
    /// [`Error::Config`] naming `name` when the manifest has no ViCLIP checkpoint of that name (before
    /// any download), [`Error::Download`] naming it when the file cannot be had, and
    /// [`Error::Checksum`] when it does not match.
    #[cfg(feature = "hub")]
    pub fn from_pretrained(name: &str, opts: LoadOptions) -> Result<Self> {
        Ok(Self::from_pretrained_with_path(name, opts)?.0)
    }

    /// [`ViClip::from_pretrained`], also returning the fetched file: its path in the cache and its
    /// sha256 (for a record of which weights produced a result, e.g. a run identity).
    #[cfg(feature = "hub")]
    pub fn from_pretrained_with_path(
        name: &str,
        opts: LoadOptions,
    ) -> Result<(Self, crate::manifest::Fetched)> {
        opts.check()?;
        let entry = crate::manifest::find(name)?;
        // Before the download: a name that is not a ViCLIP checkpoint costs no transfer.
        let cfg = entry.config()?;
        let fetched = crate::manifest::fetch(&entry)?;
        let model = Self::from_files(&fetched.path, &cfg, opts)?;
        Ok((model, fetched))
    }

    /// The model's two towers.
    pub fn model(&self) -> &ViClipModel {
        &self.model
    }

    /// The CLIP BPE tokenizer captions go through.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The model's config.
    pub fn config(&self) -> &ViClipConfig {
        self.model.config()
    }

    /// The options the model runs with, batch sizes resolved.
    pub fn options(&self) -> &LoadOptions {
        &self.opts
    }

    /// Videos per forward pass of the video tower (at least 1).
    pub fn batch_size(&self) -> usize {
        self.opts.batch_size.unwrap_or(8).max(1)
    }

    /// Captions per forward pass of the text tower (at least 1).
    pub fn text_batch_size(&self) -> usize {
        self.opts
            .text_batch_size
            .unwrap_or_else(|| text_batch_for(self.batch_size()))
            .max(1)
    }

    /// Checks a video batch and moves it to the run device and dtype.
    ///
    /// # Shapes
    /// `videos [B, T, 3, S, S]` with `S = input_resolution` and `T = num_frames` (or 1: single images).
    fn prepare_videos(&self, videos: &Tensor) -> Result<Tensor> {
        let v = &self.config().vision;
        let dims = videos.dims();
        let bad = |what: String| {
            Error::InvalidInput(format!(
                "video tensor of shape {dims:?}: {what}; expected (B, {}, 3, {s}, {s}) float32, preprocessed (ImageNet mean/std)",
                v.num_frames,
                s = v.input_resolution
            ))
        };
        if dims.len() != 5 {
            return Err(bad("not 5-D".into()));
        }
        if dims[1] != v.num_frames && dims[1] != 1 {
            return Err(bad(format!(
                "{} frames, the model takes {} (or 1 for single images)",
                dims[1], v.num_frames
            )));
        }
        if dims[2] != 3 {
            return Err(bad(format!("{} channels, expected 3 (RGB)", dims[2])));
        }
        if dims[3] != v.input_resolution || dims[4] != v.input_resolution {
            return Err(bad(format!(
                "frames are {}x{}, the model takes {s}x{s}",
                dims[3],
                dims[4],
                s = v.input_resolution
            )));
        }
        if !videos.dtype().is_float() {
            return Err(bad(format!("dtype {:?}, expected float", videos.dtype())));
        }
        check_finite(videos, "video")?;
        Ok(videos
            .to_device(&self.opts.device)?
            .to_dtype(self.opts.dtype)?)
    }

    /// Video embeddings before normalisation (`encode_vision(x, test=True)`), `[B, E]` float32.
    pub fn encode_videos(&self, videos: &Tensor) -> Result<Tensor> {
        let videos = self.prepare_videos(videos)?;
        let b = videos.dims()[0];
        let mut outs = Vec::new();
        for start in (0..b).step_by(self.batch_size()) {
            let n = self.batch_size().min(b - start);
            let chunk = videos.narrow(0, start, n)?;
            outs.push(self.model.encode_video(&chunk)?.to_dtype(DType::F32)?);
        }
        concat_rows(outs, self.config().embed_dim, &self.opts.device)
    }

    /// L2-normalised video embeddings (`get_vid_features`).
    ///
    /// # Shapes
    /// `videos [B, T, 3, S, S]` → `[B, E]`.
    pub fn embed_videos(&self, videos: &Tensor) -> Result<Embeddings> {
        Embeddings::from_unnormalized(&self.encode_videos(videos)?)
    }

    /// L2-normalised embeddings of single images through the video tower (T = 1: the mean temporal
    /// embedding, docs/reference/architecture.md §2.1).
    ///
    /// # Shapes
    /// `images [B, 3, S, S]` → `[B, E]`.
    pub fn embed_images(&self, images: &Tensor) -> Result<Embeddings> {
        if images.rank() != 4 {
            return Err(Error::InvalidInput(format!(
                "image tensor of shape {:?}: expected (B, 3, S, S)",
                images.dims()
            )));
        }
        self.embed_videos(&images.unsqueeze(1)?)
    }

    /// Token ids `[N][context_length]` → text embeddings before normalisation, `[N, E]` float32.
    pub fn encode_token_ids(&self, ids: &[Vec<u32>]) -> Result<Tensor> {
        let t = &self.config().text;
        for (row, r) in ids.iter().enumerate() {
            if r.len() != t.context_length {
                return Err(Error::InvalidInput(format!(
                    "token row {row}: {} ids, the model takes exactly {}",
                    r.len(),
                    t.context_length
                )));
            }
            if let Some(&id) = r.iter().find(|&&id| id as usize >= t.vocab_size) {
                return Err(Error::InvalidInput(format!(
                    "token row {row}: id {id} is outside the vocabulary of {}",
                    t.vocab_size
                )));
            }
        }
        let mut outs = Vec::new();
        for chunk in ids.chunks(self.text_batch_size()) {
            let e = self.model.encode_text(chunk, &self.opts.device)?;
            outs.push(e.to_dtype(DType::F32)?);
        }
        concat_rows(outs, self.config().embed_dim, &self.opts.device)
    }

    /// Captions → embeddings before normalisation (`encode_text`), `[N, E]` float32.
    pub fn encode_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<Tensor> {
        let ids = self
            .tokenizer
            .tokenize_batch(texts, self.config().text.context_length);
        self.encode_token_ids(&ids)
    }

    /// L2-normalised caption embeddings (`get_text_features`).
    ///
    /// # Shapes
    /// `N` captions → `[N, E]`.
    pub fn embed_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<Embeddings> {
        Embeddings::from_unnormalized(&self.encode_texts(texts)?)
    }
}

/// Concatenates `[n_i, E]` chunks; an empty input gives `[0, E]`.
fn concat_rows(outs: Vec<Tensor>, dim: usize, device: &Device) -> Result<Tensor> {
    if outs.is_empty() {
        return Ok(Tensor::zeros((0, dim), DType::F32, device)?);
    }
    Ok(Tensor::cat(&outs, 0)?)
}

/// Fails on NaN or infinite values, naming the first bad item along dim 0.
fn check_finite(x: &Tensor, what: &str) -> Result<()> {
    let x32 = x.to_dtype(DType::F32)?;
    let total = x32.sum_all()?.to_scalar::<f32>()?;
    if total.is_finite() {
        return Ok(());
    }
    let b = x.dims().first().copied().unwrap_or(0);
    let per_item = x32.flatten_from(1)?.sum(1)?.to_vec1::<f32>()?;
    let idx = per_item.iter().position(|s| !s.is_finite()).unwrap_or(0);
    Err(Error::InvalidInput(format!(
        "{what} {idx} of {b} holds NaN or infinite values; check the decoding and preprocessing of that item"
    )))
}
