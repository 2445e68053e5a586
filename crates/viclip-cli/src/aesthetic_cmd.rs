//! `viclip aesthetic`: LAION aesthetic scores of images (or preprocessed image tensors, or clips) with a
//! CLIP image tower and a predictor head. Writes `{"scores": [...], ...}` in input order; an input that
//! fails is `null` in `scores` and explained in `items`, and the rest are still scored.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::{DType, Tensor};
use clap::Args;
use serde_json::{json, Value};
use viclip::aesthetic::{AestheticScorer, ClipScore};
use viclip::engine::{AestheticRule, ClipEngine, EngineOptions};
use viclip::pipeline::{ClipSource, PipelineOptions};
use viclip::preprocess::Preprocess;

use crate::args::AestheticModelArgs;

/// The flags of `viclip aesthetic` for images (`--images`, `--tensor`), with the CLIP tower, head,
/// device and output flags that clip inputs share.
#[derive(Args, Debug, Clone)]
// Here the CLIP tower is the only model, so its batch flag also answers to the plain name.
#[command(mut_arg("aesthetic_batch_size", |a| a.visible_alias("batch-size")))]
pub struct AestheticArgs {
    /// The CLIP tower and LAION head (both needed here), and how clips' frames are scored.
    #[command(flatten)]
    pub model: AestheticModelArgs,
    /// Image files (PNG, JPEG), one score each.
    #[arg(long, num_args = 1.., conflicts_with = "tensor")]
    pub images: Vec<PathBuf>,
    /// Already CLIP-preprocessed images: float32 .npy of shape (N, 3, S, S).
    #[arg(long)]
    pub tensor: Option<PathBuf>,
    /// cpu, cuda, cuda:N, metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// CLIP dtype: f32, f16, bf16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Output JSON file.
    #[arg(long)]
    pub out: PathBuf,
}

/// Loads the CLIP tower and the head the flags name.
pub fn load_scorer(args: &AestheticArgs) -> Result<AestheticScorer> {
    args.model.load(&args.device, &args.dtype)
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

/// Runs `viclip aesthetic` for clips (`--video`, `--frames`, or frames in memory) on the clip
/// engine: each clip's `--frames-per-clip` uniformly sampled frames are decoded (video frames
/// straight to CLIP's crop) and scored. Writes `scores` (one per clip), `frame_scores`,
/// `frame_indices` (positions among the clip's own frames) and `items`; a clip that cannot be read,
/// or has fewer frames than asked, is `null` with its error in `items`.
pub fn run_clips(args: &AestheticArgs, sources: Vec<ClipSource>) -> Result<()> {
    let scorer = load_scorer(args)?;
    let labels: Vec<ClipSource> = sources.clone();
    let label = |source_index: usize, span: &str, source: &Path| match labels.get(source_index) {
        Some(ClipSource::Video { .. }) => format!("{} {span}", source.display()),
        _ => source.display().to_string(),
    };
    // The engine runs without the video tower; the pipeline still makes a model input per clip,
    // which is not used here: its least, one middle frame at 16 x 16.
    let pipeline = PipelineOptions::new(Preprocess::new(1, 16));
    let rule = AestheticRule {
        scorer: &scorer,
        frames: args.model.aesthetic_frames,
        reduce: args.model.aesthetic_reduce,
    };
    let engine =
        ClipEngine::without_model(sources, EngineOptions::new(pipeline).with_aesthetic(rule))?;
    let mut clips: Vec<(String, viclip::Result<ClipScore>)> = Vec::new();
    for r in engine {
        let r = r?;
        let name = label(r.source_index, &r.span, &r.source);
        let score = r.outcome.and_then(|c| {
            c.aesthetic.unwrap_or_else(|| {
                Err(viclip::Error::Internal(format!(
                    "{name}: no aesthetic score"
                )))
            })
        });
        let score = score.map_err(|e| viclip::Error::InvalidInput(format!("{name}: {e}")));
        clips.push((name, score));
    }
    let pick = |f: &dyn Fn(&ClipScore) -> Value| -> Vec<Value> {
        clips
            .iter()
            .map(|(_, r)| r.as_ref().map_or(Value::Null, f))
            .collect()
    };
    let mut out = header(args, &scorer, "clips", true);
    out["scores"] = json!(pick(&|c| json!(c.score)));
    out["frame_scores"] = json!(pick(&|c| json!(c.frame_scores)));
    out["frame_indices"] = json!(pick(&|c| json!(c.frame_indices)));
    out["items"] = json!(clips
        .iter()
        .map(|(label, r)| match r {
            Ok(c) => json!({"input": label, "score": c.score, "frame_indices": c.frame_indices, "frame_scores": c.frame_scores}),
            Err(e) => json!({"input": label, "score": null, "error": e.to_string()}),
        })
        .collect::<Vec<_>>());
    let flat: Vec<viclip::Result<f32>> =
        clips.into_iter().map(|(_, r)| r.map(|c| c.score)).collect();
    finish(args, out, &flat)
}

/// What produced the scores: CLIP variant, head file and kind, frame count and reduction (the last two
/// `null` for per-image inputs, where they do not apply).
fn header(args: &AestheticArgs, scorer: &AestheticScorer, input: &str, clips: bool) -> Value {
    json!({
        "model": scorer.info(args.model.clip_weights.as_deref().unwrap_or(Path::new("")), &args.model.clip_config),
        "input": input,
        "frames_per_clip": if clips { json!(args.model.aesthetic_frames) } else { Value::Null },
        "reduce": if clips { json!(args.model.aesthetic_reduce.as_str()) } else { Value::Null },
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
