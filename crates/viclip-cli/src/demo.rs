//! `viclip demo`: the whole embedding path on data that ships in the repository: a tiny ViCLIP (random
//! weights exported from the original code), three preprocessed synthetic clips and eleven captions.
//! The numbers carry no meaning beyond showing the pipeline; point the flags at real files for that.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use viclip::{LoadOptions, ViClip, ViClipConfig};

use crate::io;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/tiny_a");

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/tiny_a/model.safetensors"))]
    weights: PathBuf,
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/tiny_a/config.json"))]
    config: String,
    /// float32 (B, T, 3, H, W) preprocessed clips.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/tiny_a/raw_videos.npy"))]
    tensor: PathBuf,
    /// JSON lines, each {"text": "..."}.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/tiny_a/captions.jsonl"))]
    texts: PathBuf,
    /// Captions listed per clip.
    #[arg(long, default_value_t = 3)]
    top: usize,
}

fn short(s: &str, n: usize) -> String {
    if s.trim().is_empty() {
        return format!("{s:?} (blank)");
    }
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out.replace(['\n', '\t', '\r'], " ")
}

pub fn run(args: &DemoArgs) -> Result<()> {
    let cfg = ViClipConfig::from_name_or_path(&args.config)?;
    let model = ViClip::from_files(&args.weights, &cfg, LoadOptions::default())?;
    let videos = io::read_npy(&args.tensor)?;
    let texts = io::read_texts(&args.texts)?;
    if args.weights.starts_with(FIXTURES) {
        println!("demo model: tiny ViCLIP with random weights (tests/fixtures/tiny_a); scores show the pipeline, not meaning");
    }
    println!(
        "model: embed_dim {}, vision {}px/{} patch, {} frames, {} layers; text {} layers",
        cfg.embed_dim,
        cfg.vision.input_resolution,
        cfg.vision.patch_size,
        cfg.vision.num_frames,
        cfg.vision.layers,
        cfg.text.layers
    );

    let v = model.embed_videos(&videos)?;
    let t = model.embed_texts(&texts)?;
    println!(
        "\nvideo embeddings {:?} (L2-normalised), first 6 dims:",
        v.tensor().dims()
    );
    for (i, row) in v.to_vec2()?.iter().enumerate() {
        let head: Vec<String> = row.iter().take(6).map(|x| format!("{x:+.4}")).collect();
        println!("  clip {i}: [{} …]", head.join(", "));
    }
    println!("caption embeddings {:?}", t.tensor().dims());

    let cos = v.cosine_matrix(&t)?.to_vec2::<f32>()?;
    println!("\ncosine similarity (rows: clips, columns: captions)");
    let header: Vec<String> = (0..texts.len())
        .map(|j| format!("{:>7}", format!("c{j}")))
        .collect();
    println!("        {}", header.join(""));
    for (i, row) in cos.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|x| format!("{x:>7.3}")).collect();
        println!("clip {i:<2} {}", cells.join(""));
    }

    let probs = v.demo_probs(&t)?;
    println!("\ntop {} captions per clip, softmax(100 · v·t):", args.top);
    for (i, row) in viclip::top_k(&probs, args.top)?.iter().enumerate() {
        for &(j, p) in row {
            println!("  clip {i}  {p:.4}  c{j}: {}", short(&texts[j], 70));
        }
    }
    println!("\ncaptions:");
    for (j, text) in texts.iter().enumerate() {
        println!("  c{j}: {}", short(text, 90));
    }
    Ok(())
}
