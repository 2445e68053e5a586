//! `viclip embed-video`: preprocessed tensors (`--tensor`), or video files with spans and frame
//! directories (`--video`, `--frames`) decoded and preprocessed on a pipeline while the model runs.
//! One output row per clip, in input order.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{Device, Tensor};
use clap::Args;

use crate::{io, video_args, ModelArgs};

/// The flags of `viclip embed-video`: the model, one input (`--tensor`, or `--video`/`--frames`
/// clips) and the outputs.
#[derive(Args)]
pub struct EmbedVideoArgs {
    /// Checkpoint, device, dtype and batch size.
    #[command(flatten)]
    pub model: ModelArgs,
    /// float32 (B, T, 3, H, W), frames already resized and ImageNet-normalised; (B, 3, H, W) for images.
    #[arg(long, required_unless_present_any = ["videos", "frames"], conflicts_with_all = ["videos", "frames"])]
    pub tensor: Option<PathBuf>,
    /// Video files with spans, frame directories, and how their frames are sampled and resized.
    #[command(flatten)]
    pub video: video_args::VideoArgs,
    /// (B, E) float32 L2-normalised embeddings. With --video/--frames, a clip that cannot be read gets a
    /// row of NaN (and a warning), so row i is always clip i.
    #[arg(long)]
    pub out: PathBuf,
    /// With --video/--frames: one JSON line per clip (source, span, sampling, resize, frame indices and
    /// times; "error" for clips that failed).
    #[arg(long)]
    pub rows: Option<PathBuf>,
}

/// Runs `viclip embed-video`: embeds `--tensor` (rank 4 as images, otherwise as videos), or decodes
/// and embeds every `--video`/`--frames` clip and writes one row per clip in input order (`--out`,
/// and `--rows` when given). A clip that cannot be read gets a NaN row and a warning; the command
/// fails when no clip can be read.
pub fn run(args: &EmbedVideoArgs) -> Result<()> {
    let m = args.model.load()?;
    if let Some(tensor) = &args.tensor {
        let x = io::read_npy(tensor)?;
        let emb = match x.rank() {
            4 => m.embed_images(&x),
            _ => m.embed_videos(&x),
        }
        .map_err(|e| anyhow!("{}: {e}", tensor.display()))?;
        io::write_npy(emb.tensor(), &args.out)?;
        eprintln!(
            "{} clips -> {} {:?}",
            emb.len(),
            args.out.display(),
            emb.tensor().dims()
        );
        return Ok(());
    }

    let dim = m.config().embed_dim;
    let mut rows: Vec<(usize, Option<Vec<f32>>, serde_json::Value)> = Vec::new();
    for r in args.video.engine(&m)? {
        let viclip::engine::ClipResult {
            clip_index,
            source_index,
            source,
            span,
            outcome,
        } = r?;
        match outcome {
            Err(e) => {
                eprintln!("warning: {e}");
                let row = video_args::failure_row(clip_index, source_index, &source, &span, &e);
                rows.push((clip_index, None, row));
            }
            Ok(c) => {
                if let Some(w) = &c.info.warning {
                    eprintln!("warning: {}, {span}: {w}", source.display());
                }
                let row = video_args::clip_row(&c.info);
                rows.push((clip_index, Some(c.embedding), row));
            }
        }
    }
    rows.sort_by_key(|r| r.0);
    let ok = rows.iter().filter(|r| r.1.is_some()).count();
    if ok == 0 {
        bail!(
            "no clip could be read ({} failed); see the warnings above",
            rows.len()
        );
    }
    let flat: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.1.clone().unwrap_or_else(|| vec![f32::NAN; dim]))
        .collect();
    io::write_npy(
        &Tensor::from_vec(flat, (rows.len(), dim), &Device::Cpu)?,
        &args.out,
    )?;
    if let Some(path) = &args.rows {
        let mut f = std::fs::File::create(path)
            .with_context(|| format!("{}: cannot create", path.display()))?;
        for (_, _, row) in &rows {
            writeln!(f, "{row}").with_context(|| format!("{}: cannot write", path.display()))?;
        }
    }
    eprintln!(
        "{} clips ({ok} ok, {} failed) -> {} [{}, {dim}]",
        rows.len(),
        rows.len() - ok,
        args.out.display(),
        rows.len()
    );
    Ok(())
}
