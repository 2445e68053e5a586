//! Zero-shot text-to-video and video-to-text retrieval (MSR-VTT style): R@1, R@5, R@10, median and
//! mean rank in both directions. Published (MSR-VTT 1k-A, R@1 t2v / v2t): ViCLIP-L-FLT 42.4 / 41.3.
//!
//! Input: a list `--pairs LIST.csv` with `path,caption` columns (a video may appear on several rows,
//! one per caption; relative paths from the list's directory), each path a video file (decoded whole,
//! evaluation preprocessing), a frame directory or a preprocessed `.npy` clip; or precomputed
//! embeddings `--video-emb V.npy --text-emb T.npy` where caption i describes video i (no model needed).
//! Similarities are plain cosines (no dual softmax or other re-ranking); ties rank the lower index first.
//!
//! ```text
//! cargo run --release --example retrieval -- \
//!     --weights ViClip-InternVid-10M-FLT.pth --config viclip-l14 --pairs msrvtt_1ka.csv
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use viclip::preprocess::Preprocess;
use viclip::{Embeddings, LoadOptions, ViClip, ViClipConfig};
use viclip_data::eval;

#[derive(Parser)]
#[command(about = "Text-video retrieval metrics with ViCLIP")]
struct Args {
    /// Checkpoint (.pth or .safetensors); not needed with --video-emb and --text-emb.
    #[arg(long, required_unless_present = "video_emb")]
    weights: Option<PathBuf>,
    /// Preset (viclip-l14, viclip-b16) or a JSON config.
    #[arg(long, required_unless_present = "video_emb")]
    config: Option<String>,
    /// Caption list with `path` and `caption` columns.
    #[arg(long, required_unless_present = "video_emb")]
    pairs: Option<PathBuf>,
    /// Precomputed video embeddings (N, E) .npy.
    #[arg(long, requires = "text_emb", conflicts_with = "pairs")]
    video_emb: Option<PathBuf>,
    /// Precomputed caption embeddings (N, E) .npy, caption i of video i.
    #[arg(long)]
    text_emb: Option<PathBuf>,
    #[arg(long, default_value = "path")]
    path_col: String,
    #[arg(long, default_value = "caption")]
    caption_col: String,
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

fn read_emb(path: &PathBuf) -> Result<Embeddings> {
    let t = candle_core::Tensor::read_npy(path)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(Embeddings::from_unnormalized(&t)?)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (texts, videos, text_video) = match (&args.video_emb, &args.text_emb, &args.pairs) {
        (Some(v), Some(t), _) => {
            let (v, t) = (read_emb(v)?, read_emb(t)?);
            if v.len() != t.len() {
                bail!("{} video and {} caption embeddings; with precomputed embeddings caption i describes video i", v.len(), t.len());
            }
            let n = v.len();
            (t, v, (0..n).collect::<Vec<_>>())
        }
        (None, _, Some(list)) => {
            let weights = args
                .weights
                .as_ref()
                .ok_or_else(|| anyhow!("--weights is required with --pairs"))?;
            let cfg = ViClipConfig::from_name_or_path(args.config.as_deref().unwrap_or_default())?;
            let opts = LoadOptions::from_names(&args.device, &args.dtype)?
                .with_batch_size(args.batch_size);
            let model = ViClip::from_files(weights, &cfg, opts)
                .with_context(|| format!("loading {}", weights.display()))?;
            let rows = eval::read_pairs(list, &args.path_col, &args.caption_col)?;
            // Videos in order of first appearance; each row is one caption.
            let mut index: HashMap<PathBuf, usize> = HashMap::new();
            let mut paths = Vec::new();
            let caption_video: Vec<usize> = rows
                .iter()
                .map(|(p, _)| {
                    let p = eval::resolve(list, p);
                    *index.entry(p.clone()).or_insert_with(|| {
                        paths.push(p);
                        paths.len() - 1
                    })
                })
                .collect();
            let clips = eval::embed_clip_files(
                &model,
                &paths,
                &Preprocess::for_config(&cfg),
                args.batch_size,
            )?;
            for (i, msg) in &clips.failures {
                eprintln!("skipping {} and its captions: {msg}", paths[*i].display());
            }
            // Renumber the videos that were embedded; drop the captions of the others.
            let renum: HashMap<usize, usize> =
                clips.ok.iter().enumerate().map(|(k, &i)| (i, k)).collect();
            let (captions, text_video): (Vec<&str>, Vec<usize>) = rows
                .iter()
                .zip(&caption_video)
                .filter_map(|((_, c), v)| renum.get(v).map(|&k| (c.as_str(), k)))
                .unzip();
            (model.embed_texts(&captions)?, clips.embeddings, text_video)
        }
        _ => bail!(
            "pass --pairs LIST with --weights and --config, or --video-emb V.npy --text-emb T.npy"
        ),
    };
    let sim = texts.cosine_matrix(&videos)?.to_vec2::<f32>()?;
    let m = eval::retrieval_metrics(&sim, &text_video)?;
    println!("{} captions, {} videos", texts.len(), videos.len());
    for (name, r) in [("text-to-video", m.t2v), ("video-to-text", m.v2t)] {
        println!(
            "{name}: R@1 {:.2}  R@5 {:.2}  R@10 {:.2}  median rank {:.1}  mean rank {:.2}",
            r.r1, r.r5, r.r10, r.median_rank, r.mean_rank
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&m)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
