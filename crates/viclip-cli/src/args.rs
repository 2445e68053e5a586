//! Flag groups shared by several commands (`#[command(flatten)]`), so a flag has one name, one
//! default and one meaning everywhere: the ViCLIP model ([`ModelArgs`]), the CLIP + LAION aesthetic
//! model ([`AestheticModelArgs`]) and how clips are decoded ([`DecodeArgs`]). Counts that the
//! library can pick itself take `auto`, which becomes `None` in the library's options.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{bail, Result};
use clap::Args;
use viclip::aesthetic::{
    AestheticScorer, ClipVisionConfig, HeadKind, Reduce, ScorerOptions, DEFAULT_BATCH_SIZE,
};
use viclip::preprocess::{FrameSampling, Preprocess, ResizeFilter};
use viclip::{LoadOptions, ViClip, ViClipConfig};

/// A count the library can also pick: `auto` or a number in `1..=max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Count {
    /// The library picks (`None` in its options).
    #[default]
    Auto,
    /// This many.
    Fixed(usize),
}

impl Count {
    /// `None` for `auto`.
    pub fn get(self) -> Option<usize> {
        match self {
            Count::Auto => None,
            Count::Fixed(n) => Some(n),
        }
    }
}

impl FromStr for Count {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "auto" {
            return Ok(Count::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Count::Fixed(n)),
            _ => Err(format!("`{s}` is not `auto` or a whole number >= 1")),
        }
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Auto => f.write_str("auto"),
            Count::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// The ViCLIP model: `--weights/--config` or `--model NAME`, device, dtype and the video tower's
/// batch size.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Checkpoint: the original .pth (with its `model` entry) or .safetensors.
    #[arg(long, required_unless_present = "model")]
    pub weights: Option<PathBuf>,
    /// Preset name (viclip-l14, viclip-b16) or a JSON config path.
    #[arg(long, required_unless_present = "model")]
    pub config: Option<String>,
    /// A released checkpoint by manifest name instead of --weights/--config (downloads; `hub` feature).
    #[arg(long, conflicts_with_all = ["weights", "config"])]
    pub model: Option<String>,
    /// cpu, cuda, cuda:N or metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// f32, f16 or bf16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Clips per forward pass of the video tower (the text tower takes 32 times as many captions,
    /// at least 256); auto: from the GPU's free memory, 8 on the CPU.
    #[arg(long, default_value = "auto", value_name = "N|auto")]
    pub batch_size: Count,
}

impl ModelArgs {
    /// The load options of `--device`, `--dtype` and `--batch-size`.
    pub fn load_options(&self) -> Result<LoadOptions> {
        if let Some(n) = self.batch_size.get() {
            viclip::limits::check_batch_size(n)?;
        }
        Ok(LoadOptions::from_names(&self.device, &self.dtype)?
            .with_batch_size(self.batch_size.get()))
    }

    /// Loads the model the flags name.
    pub fn load(&self) -> Result<ViClip> {
        Ok(self.load_with_name()?.0)
    }

    /// The model, its name for outputs (the weights file's name or the manifest name) and the
    /// checkpoint file (hashed into a run identity).
    pub fn load_with_name(&self) -> Result<(ViClip, String, PathBuf)> {
        let opts = self.load_options()?;
        match (&self.model, &self.weights, &self.config) {
            (Some(name), _, _) => {
                let (model, weights) = crate::pretrained(name, opts)?;
                Ok((model, name.clone(), weights))
            }
            (None, Some(w), Some(c)) => {
                let model = ViClip::from_files(w, &ViClipConfig::from_name_or_path(c)?, opts)?;
                Ok((model, file_name(w), w.clone()))
            }
            _ => bail!("pass --weights W --config C, or --model NAME"),
        }
    }

    /// The model's config without its weights (a manifest entry's is read, not downloaded), its
    /// name, and its weights file when one is given.
    pub fn config_only(&self) -> Result<(ViClipConfig, String, Option<PathBuf>)> {
        match (&self.model, &self.weights, &self.config) {
            (Some(name), _, _) => Ok((viclip::manifest::find(name)?.config()?, name.clone(), None)),
            (None, Some(w), Some(c)) => Ok((
                ViClipConfig::from_name_or_path(c)?,
                file_name(w),
                Some(w.clone()),
            )),
            _ => bail!("pass --weights W --config C, or --model NAME"),
        }
    }
}

fn file_name(w: &std::path::Path) -> String {
    w.file_name().map_or(w.display().to_string(), |f| {
        f.to_string_lossy().into_owned()
    })
}

/// How clips are decoded: frame sampling, resize and decode threads.
#[derive(Args, Debug, Clone)]
pub struct DecodeArgs {
    /// Frame sampling: `middle` (evaluation pipeline, published zero-shot numbers) or `demo` (the
    /// demo's `frames[::n//T][:T]`, needs >= T frames).
    #[arg(long, default_value = "middle", value_name = "middle|demo")]
    pub sampling: FrameSampling,
    /// Resize to the model size: `bicubic` (evaluation pipeline, torchvision without antialias) or
    /// `cv2-linear` (the demo's OpenCV INTER_LINEAR, bit-exact).
    #[arg(long, default_value = "bicubic", value_name = "bicubic|cv2-linear")]
    pub resize: ResizeFilter,
    /// Threads decoding and preprocessing clips (files in parallel); auto: one per core.
    #[arg(
        long,
        default_value = "auto",
        value_name = "N|auto",
        visible_alias = "workers",
        alias = "decode-workers"
    )]
    pub decode_threads: Count,
}

impl Default for DecodeArgs {
    fn default() -> Self {
        DecodeArgs {
            sampling: FrameSampling::default(),
            resize: ResizeFilter::default(),
            decode_threads: Count::Auto,
        }
    }
}

impl DecodeArgs {
    /// The preprocessing for `cfg` (its `T` and input size) with the chosen sampling and resize.
    pub fn preprocess(&self, cfg: &ViClipConfig) -> Result<Preprocess> {
        let t = cfg.vision.num_frames;
        if let FrameSampling::Uniform(k) = self.sampling {
            if k != t {
                bail!(
                    "--sampling {}: the model takes {t} frames per clip; use middle or demo",
                    self.sampling
                );
            }
        }
        Ok(Preprocess::for_config(cfg)
            .with_sampling(self.sampling)
            .with_resize(self.resize))
    }

    /// The clip options of these flags for a model of `cfg` (its `T` fixes what `uniform` may
    /// ask); the video batch size is left to the model's.
    pub fn clip_options(&self, cfg: &ViClipConfig) -> Result<viclip::ClipOptions> {
        self.preprocess(cfg)?;
        let mut o = viclip::ClipOptions::new()
            .with_sampling(self.sampling)
            .with_resize(self.resize);
        if let Some(n) = self.threads()? {
            o = o.with_workers(n);
        }
        Ok(o)
    }

    /// `--decode-threads` checked against the library's bound (`None`: one per core).
    pub fn threads(&self) -> Result<Option<usize>> {
        match self.decode_threads.get() {
            None => Ok(None),
            Some(n) => Ok(Some(viclip::limits::check_workers(n)?)),
        }
    }
}

/// The CLIP image tower and LAION head that give aesthetic scores, and how a clip's frames become
/// its score.
#[derive(Args, Debug, Clone)]
pub struct AestheticModelArgs {
    /// CLIP ViT-L/14 weights with HF names (`openai/clip-vit-large-patch14` model.safetensors, or .pth).
    #[arg(long)]
    pub clip_weights: Option<PathBuf>,
    /// CLIP config: the preset `clip-vit-l14` or an HF config.json (vision or full).
    #[arg(long, default_value = "clip-vit-l14")]
    pub clip_config: String,
    /// LAION head: V1 `sa_0_4_vit_l_14_linear.pth` or V2 `sac+logos+ava1-l14-linearMSE.pth`.
    #[arg(long, visible_alias = "head")]
    pub aesthetic_head: Option<PathBuf>,
    /// Force the head kind (v1, v2, v2-relu) instead of detecting it from the file's keys.
    #[arg(long, value_parser = parse_head_kind)]
    pub head_kind: Option<HeadKind>,
    /// Frames sampled uniformly per clip, round(linspace(0, n-1, k)) (InternVid: 4).
    #[arg(long, default_value_t = 4, visible_alias = "frames-per-clip")]
    pub aesthetic_frames: usize,
    /// Clip score from its frame scores: max (InternVid), mean or min.
    #[arg(long, default_value = "max", value_parser = parse_reduce, visible_alias = "reduce")]
    pub aesthetic_reduce: Reduce,
    /// Frames per forward pass of the CLIP image tower.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    pub aesthetic_batch_size: usize,
}

impl AestheticModelArgs {
    /// The CLIP weights and head files, or which flag is missing.
    pub fn files(&self) -> Result<(&PathBuf, &PathBuf)> {
        match (&self.clip_weights, &self.aesthetic_head) {
            (Some(w), Some(h)) => Ok((w, h)),
            (None, _) => bail!("aesthetic scores need --clip-weights (the CLIP ViT-L/14 weights)"),
            (_, None) => bail!("aesthetic scores need --aesthetic-head (the LAION head file)"),
        }
    }

    /// Loads the scorer on `device` at `dtype` (the names as the flags give them).
    pub fn load(&self, device: &str, dtype: &str) -> Result<AestheticScorer> {
        let (weights, head) = self.files()?;
        if !(1..=viclip::limits::MAX_BATCH_SIZE).contains(&self.aesthetic_batch_size) {
            bail!(
                "--aesthetic-batch-size {}: must be between 1 and {}",
                self.aesthetic_batch_size,
                viclip::limits::MAX_BATCH_SIZE
            );
        }
        if self.aesthetic_frames == 0 {
            bail!("--aesthetic-frames 0: must be at least 1");
        }
        let cfg = ClipVisionConfig::from_name_or_path(&self.clip_config)?;
        let opts = ScorerOptions::new(viclip::parse_device(device)?, viclip::parse_dtype(dtype)?)
            .with_batch_size(self.aesthetic_batch_size);
        let scorer = AestheticScorer::from_files(weights, &cfg, head, self.head_kind, &opts)?;
        if let (Some(forced), Some(detected)) = (self.head_kind, scorer.head().detected_kind()) {
            if forced != detected {
                eprintln!(
                    "warning: {} looks like a {detected} head; computing it as {forced} (--head-kind)",
                    head.display()
                );
            }
        }
        Ok(scorer)
    }
}

fn parse_head_kind(s: &str) -> std::result::Result<HeadKind, String> {
    s.parse().map_err(|e: viclip::Error| e.to_string())
}

fn parse_reduce(s: &str) -> std::result::Result<Reduce, String> {
    s.parse().map_err(|e: viclip::Error| e.to_string())
}
