//! `viclip aesthetic`: LAION aesthetic scores of images (or preprocessed image tensors, or clips) with a
//! CLIP image tower and a predictor head. Writes `{"scores": [...], ...}` in input order; an input that
//! fails is `null` in `scores` and explained in `items`, and the rest are still scored.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Tensor};
use clap::Args;
use serde_json::{json, Value};
use viclip::aesthetic::{
    AestheticScorer, ClipScore, ClipVisionConfig, HeadKind, Reduce, ScorerOptions,
};
use viclip::preprocess::RgbFrame;

/// The flags of `viclip aesthetic` for images (`--images`, `--tensor`), with the CLIP tower, head,
/// device and output flags that clip inputs share.
#[derive(Args, Debug, Clone)]
pub struct AestheticArgs {
    /// CLIP weights with HF names (`openai/clip-vit-large-patch14` model.safetensors, or .pth).
    #[arg(long)]
    pub clip_weights: PathBuf,
    /// HF config.json of the CLIP (vision or full), or the preset `clip-vit-l14`.
    #[arg(long, default_value = "clip-vit-l14")]
    pub clip_config: String,
    /// Aesthetic head: LAION V1 `sa_0_4_vit_l_14_linear.pth` or V2 `sac+logos+ava1-l14-linearMSE.pth`.
    #[arg(long)]
    pub head: PathBuf,
    /// Force the head kind (v1, v2, v2-relu) instead of detecting it from the file's keys.
    #[arg(long, value_parser = parse_head_kind)]
    pub head_kind: Option<HeadKind>,
    /// Image files (PNG, JPEG), one score each.
    #[arg(long, num_args = 1.., conflicts_with = "tensor")]
    pub images: Vec<PathBuf>,
    /// Already CLIP-preprocessed images: float32 .npy of shape (N, 3, S, S).
    #[arg(long)]
    pub tensor: Option<PathBuf>,
    /// Frames sampled per clip (uniform: round(linspace(0, n-1, k))); clip inputs only.
    #[arg(long, default_value_t = 4)]
    pub frames_per_clip: usize,
    /// Clip score from its frame scores: max (InternVid), mean or min; clip inputs only.
    #[arg(long, default_value = "max", value_parser = parse_reduce)]
    pub reduce: Reduce,
    /// cpu, cuda, cuda:N, metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// CLIP dtype: f32, f16, bf16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Output JSON file.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_head_kind(s: &str) -> std::result::Result<HeadKind, String> {
    s.parse().map_err(|e: viclip::Error| e.to_string())
}

fn parse_reduce(s: &str) -> std::result::Result<Reduce, String> {
    s.parse().map_err(|e: viclip::Error| e.to_string())
}

/// Loads the CLIP tower and the head the flags name.
pub fn load_scorer(args: &AestheticArgs) -> Result<AestheticScorer> {
    let cfg = ClipVisionConfig::from_name_or_path(&args.clip_config)?;
    let opts = ScorerOptions::new(
        viclip::parse_device(&args.device)?,
        viclip::parse_dtype(&args.dtype)?,
    )
    .with_batch_size(args.batch_size.max(1));
    let scorer =
        AestheticScorer::from_files(&args.clip_weights, &cfg, &args.head, args.head_kind, &opts)?;
    let head = scorer.head();
    if let (Some(forced), Some(detected)) = (args.head_kind, head.detected_kind()) {
        if forced != detected {
            eprintln!(
                "warning: {} looks like a {detected} head; computing it as {forced} (--head-kind)",
                args.head.display()
            );
        }
    }
    Ok(scorer)
}

/// Runs `viclip aesthetic` for `--images` or `--tensor`.
pub fn run(args: &AestheticArgs) -> Result<()> {
    let scorer = load_scorer(args)?;
    let (input, labels, results): (&str, Vec<String>, Vec<viclip::Result<f32>>) =
        if let Some(path) = &args.tensor {
            let x = read_pixels(path)?;
            let n = x.dim(0)?;
            let scores = scorer.score_pixels(&x)?;
            let labels = (0..n).map(|i| format!("{}[{i}]", path.display())).collect();
            ("tensor", labels, scores.into_iter().map(Ok).collect())
        } else if !args.images.is_empty() {
            // A FIFO or device among the images would block the reader: refuse it up front.
            for p in &args.images {
                if let Err(msg) = viclip::frames::check_regular_file(p, "an image file") {
                    bail!("{}: {msg}", p.display());
                }
            }
            let labels = args
                .images
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            ("images", labels, scorer.score_image_files(&args.images))
        } else {
            bail!("nothing to score: pass --images FILE... or --tensor X.npy");
        };
    let items: Vec<Value> = labels
        .iter()
        .zip(&results)
        .map(|(label, r)| match r {
            Ok(s) => json!({"input": label, "score": s}),
            Err(e) => json!({"input": label, "score": null, "error": e.to_string()}),
        })
        .collect();
    let scores: Vec<Value> = results
        .iter()
        .map(|r| r.as_ref().ok().map_or(Value::Null, |s| json!(s)))
        .collect();
    let mut out = header(args, &scorer, input, false);
    out["scores"] = json!(scores);
    out["items"] = json!(items);
    finish(args, out, &results)
}

/// A clip the caller decoded (`--frames DIR`, `--video V`): its label, its frames (or why they could
/// not be read) and, when the frames are a sample of a longer clip, their positions in it.
pub struct DecodedInput {
    /// Names the clip in `items` and in messages: the frame directory, or the video path and span.
    pub label: String,
    /// The clip's frames, or why they could not be read (the clip then scores `null` and `items`
    /// carries the error).
    pub frames: viclip::Result<Vec<RgbFrame>>,
    /// Position in the source clip of each given frame; reported frame indices are mapped through it.
    pub indices: Option<Vec<usize>>,
}

/// Runs `viclip aesthetic` for clips the caller decoded. Writes `scores` (one per clip),
/// `frame_scores`, `frame_indices` and `items`.
pub fn run_clips(args: &AestheticArgs, clips: Vec<DecodedInput>) -> Result<()> {
    let scorer = load_scorer(args)?;
    let batch: Vec<(&str, &[RgbFrame])> = clips
        .iter()
        .filter_map(|c| {
            c.frames
                .as_ref()
                .ok()
                .map(|f| (c.label.as_str(), f.as_slice()))
        })
        .collect();
    // Decoded clips come back in order, so the i-th decoded clip takes the i-th result.
    let mut scored = scorer
        .score_clips(&batch, args.frames_per_clip, args.reduce)
        .into_iter();
    let results: Vec<viclip::Result<ClipScore>> = clips
        .iter()
        .map(|c| match &c.frames {
            Ok(_) => scored
                .next()
                .unwrap_or_else(|| {
                    Err(viclip::Error::Internal(format!(
                        "{}: the scorer returned no result",
                        c.label
                    )))
                })
                .map(|mut s| {
                    if let Some(map) = &c.indices {
                        s.frame_indices = s
                            .frame_indices
                            .iter()
                            .map(|&i| map.get(i).copied().unwrap_or(i))
                            .collect();
                    }
                    s
                }),
            Err(e) => Err(viclip::Error::InvalidInput(format!("{}: {e}", c.label))),
        })
        .collect();
    let pick = |f: &dyn Fn(&ClipScore) -> Value| -> Vec<Value> {
        results
            .iter()
            .map(|r| r.as_ref().map_or(Value::Null, f))
            .collect()
    };
    let mut out = header(args, &scorer, "clips", true);
    out["scores"] = json!(pick(&|c| json!(c.score)));
    out["frame_scores"] = json!(pick(&|c| json!(c.frame_scores)));
    out["frame_indices"] = json!(pick(&|c| json!(c.frame_indices)));
    out["items"] = json!(clips
        .iter()
        .zip(&results)
        .map(|(DecodedInput { label, .. }, r)| match r {
            Ok(c) => json!({"input": label, "score": c.score, "frame_indices": c.frame_indices, "frame_scores": c.frame_scores}),
            Err(e) => json!({"input": label, "score": null, "error": e.to_string()}),
        })
        .collect::<Vec<_>>());
    let flat: Vec<viclip::Result<f32>> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map(|c| c.score)
                .map_err(|e| viclip::Error::InvalidInput(e.to_string()))
        })
        .collect();
    finish(args, out, &flat)
}

/// What produced the scores: CLIP variant, head file and kind, frame count and reduction (the last two
/// `null` for per-image inputs, where they do not apply).
fn header(args: &AestheticArgs, scorer: &AestheticScorer, input: &str, clips: bool) -> Value {
    json!({
        "model": scorer.info(&args.clip_weights, &args.clip_config),
        "input": input,
        "frames_per_clip": if clips { json!(args.frames_per_clip) } else { Value::Null },
        "reduce": if clips { json!(args.reduce.as_str()) } else { Value::Null },
    })
}

/// Writes the JSON (atomically) and reports failures: some failed → a warning; all failed → an error.
fn finish(args: &AestheticArgs, mut out: Value, results: &[viclip::Result<f32>]) -> Result<()> {
    let failed = results.iter().filter(|r| r.is_err()).count();
    out["failed"] = json!(failed);
    write_json(&args.out, &out)?;
    for r in results {
        if let Err(e) = r {
            eprintln!("warning: {e}");
        }
    }
    if failed > 0 && failed == results.len() {
        bail!("all {failed} inputs failed (see {})", args.out.display());
    }
    eprintln!(
        "{} scores written to {}",
        results.len() - failed,
        args.out.display()
    );
    Ok(())
}

/// Reads float `(N, 3, S, S)` pixel values from `.npy` as f32.
fn read_pixels(path: &Path) -> Result<Tensor> {
    // The shared checked reader: refuses non-regular files and compares the header's shape with the
    // file's length before allocating.
    if let Err(m) = viclip::frames::check_regular_file(path, "a .npy file") {
        bail!("{}: {m}", path.display());
    }
    let (h, values) = viclip::npy::read_npy_f32(path)?;
    let t = Tensor::from_vec(values, h.shape, &candle_core::Device::Cpu)?;
    if !t.dtype().is_float() || t.rank() != 4 || t.dim(1)? != 3 {
        bail!(
            "{}: {:?} array of shape {:?}; expected float32 (N, 3, S, S) CLIP-preprocessed images",
            path.display(),
            t.dtype(),
            t.dims()
        );
    }
    Ok(t.to_dtype(DType::F32)?)
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create directory", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    viclip_data::atomic::write_atomic(path, text.as_bytes())?;
    Ok(())
}
