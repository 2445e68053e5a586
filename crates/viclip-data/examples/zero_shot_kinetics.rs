//! Zero-shot Kinetics classification with the ViCLIP paper's protocol (docs/reference/evaluation.md §1): 16 prompt
//! templates per class, cleaned as the reference does, class score = mean cosine over its prompts;
//! prints top-1, top-5 and AVG. Published (ViCLIP-L, 10M-FLT): K400 64.80 top-1 / 75.70 AVG.
//!
//! Clips come from a list `--videos LIST.csv` with columns `path,label` (label: a class name or index;
//! relative paths from the list's directory), where each path is a video file (decoded whole, 8 frames
//! of middle sampling, bicubic 224: the evaluation pipeline), a directory of frames, or a `.npy` of
//! preprocessed frames `(T, 3, S, S)` / `(1, T, 3, S, S)`; or from precomputed, row-aligned video
//! embeddings `--video-emb V.npy` with `--labels LIST.csv`.
//!
//! ```text
//! cargo run --release --example zero_shot_kinetics -- \
//!     --weights ViClip-InternVid-10M-FLT.pth --config viclip-l14 --videos k400_val.csv
//! ```
//! The tiny test model runs it too: write its three clips (`tests/fixtures/tiny_a/videos.npy`) as
//! `clip{i}.npy` of shape (8, 3, 112, 112), list them with labels, and pass
//! `--weights tests/fixtures/tiny_a/model.safetensors --config tests/fixtures/tiny_a/config.json`.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use viclip::preprocess::Preprocess;
use viclip::{Embeddings, LoadOptions, ViClip, ViClipConfig};
use viclip_data::eval::{self, KINETICS_TEMPLATES};

#[derive(Parser)]
#[command(about = "Zero-shot Kinetics classification with ViCLIP")]
struct Args {
    /// Checkpoint (.pth or .safetensors).
    #[arg(long)]
    weights: PathBuf,
    /// Preset (viclip-l14, viclip-b16) or a JSON config.
    #[arg(long)]
    config: String,
    /// Class names, one per line, in label order.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/kinetics400_classnames.txt"))]
    classes: PathBuf,
    /// Clip list with `path` and `label` columns (csv, tsv, jsonl or parquet).
    #[arg(long, required_unless_present = "video_emb")]
    videos: Option<PathBuf>,
    /// Precomputed video embeddings (N, E) .npy, row i for row i of --labels.
    #[arg(long, requires = "labels", conflicts_with = "videos")]
    video_emb: Option<PathBuf>,
    /// Table with a `label` column for --video-emb.
    #[arg(long)]
    labels: Option<PathBuf>,
    #[arg(long, default_value = "path")]
    path_col: String,
    #[arg(long, default_value = "label")]
    label_col: String,
    /// Use the bare class name as the only prompt instead of the 16 templates.
    #[arg(long)]
    single_prompt: bool,
    #[arg(long, default_value = "cpu")]
    device: String,
    #[arg(long, default_value = "f32")]
    dtype: String,
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Also write the metrics as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let cfg = ViClipConfig::from_name_or_path(&args.config)?;
    let opts = LoadOptions::from_names(&args.device, &args.dtype)?.with_batch_size(args.batch_size);
    let model = ViClip::from_files(&args.weights, &cfg, opts)
        .with_context(|| format!("loading {}", args.weights.display()))?;
    let classes = eval::read_class_names(&args.classes)?;
    let to_class = |row: usize, label: &str| {
        eval::class_index(&classes, label).ok_or_else(|| {
            anyhow!(
                "row {row}: label `{label}` is neither a class of {} nor an index",
                args.classes.display()
            )
        })
    };

    let (videos, labels, failed): (Embeddings, Vec<usize>, usize) =
        match (&args.videos, &args.video_emb) {
            (Some(list), _) => {
                let rows = eval::read_pairs(list, &args.path_col, &args.label_col)?;
                let labels = rows
                    .iter()
                    .enumerate()
                    .map(|(i, (_, l))| to_class(i, l))
                    .collect::<Result<Vec<_>>>()?;
                let paths: Vec<PathBuf> =
                    rows.iter().map(|(p, _)| eval::resolve(list, p)).collect();
                let clips = eval::embed_clip_files(
                    &model,
                    &paths,
                    &Preprocess::for_config(&cfg),
                    args.batch_size,
                )?;
                for (i, msg) in &clips.failures {
                    eprintln!("skipping {}: {msg}", paths[*i].display());
                }
                let labels = clips.ok.iter().map(|&i| labels[i]).collect();
                (clips.embeddings, labels, clips.failures.len())
            }
            (None, Some(emb)) => {
                let t = candle_core::Tensor::read_npy(emb)
                    .with_context(|| format!("reading {}", emb.display()))?;
                let labels_path = args
                    .labels
                    .as_ref()
                    .ok_or_else(|| anyhow!("--video-emb needs --labels"))?;
                let raw = eval::read_column(labels_path, &args.label_col)?;
                let labels = raw
                    .iter()
                    .enumerate()
                    .map(|(i, l)| to_class(i, l))
                    .collect::<Result<Vec<_>>>()?;
                (Embeddings::from_unnormalized(&t)?, labels, 0)
            }
            (None, None) => bail!("pass --videos LIST or --video-emb V.npy --labels LIST"),
        };
    if videos.len() != labels.len() {
        bail!(
            "{} video embeddings but {} labels; the rows must be aligned",
            videos.len(),
            labels.len()
        );
    }
    let templates: &[&str] = if args.single_prompt {
        &["{}"]
    } else {
        &KINETICS_TEMPLATES
    };
    let scores = eval::zero_shot_scores(&model, &videos, &classes, templates)?;
    let acc = eval::accuracy(&scores, &labels)?;
    println!(
        "zero-shot: {} videos ({} skipped), {} classes x {} prompts\ntop-1 {:.2}  top-5 {:.2}  AVG {:.2}",
        acc.n,
        failed,
        classes.len(),
        templates.len(),
        acc.top1,
        acc.top5,
        acc.avg
    );
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&acc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
