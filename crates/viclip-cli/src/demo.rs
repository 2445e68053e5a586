//! `viclip demo`: the main job end to end on data that ships in the repository. A clip table over four
//! short sample videos (`assets/demo/`, made with the ffmpeg CLI by `assets/demo/make.sh`) is scored by
//! the tiny bundled ViCLIP exactly as `viclip score` scores a real table: decoding, frame sampling and
//! resizing, video and caption embeddings, CLIP-SIM, a parquet shard written to a temporary directory.
//! The rows are then read back and printed. The tiny model's weights are random, so its numbers show
//! the pipeline, not meaning; point the flags at a real checkpoint and table for that.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser};
use viclip_data::table::{columns, ReadOptions, Table};

use crate::score_cmd::{self, ScoreArgs};

/// The crate's directory, where the bundled assets and fixtures live.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The bundled tiny model (random weights exported from the original code).
fn tiny_model() -> (PathBuf, PathBuf) {
    let dir = Path::new(ROOT).join("../../tests/fixtures/tiny_a");
    (dir.join("model.safetensors"), dir.join("config.json"))
}

/// The flags of `viclip demo`: the bundled sample table and tiny model unless a table or a
/// checkpoint is given.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Clip table with `path`, `start`, `end` and `caption` columns (default: the bundled samples).
    #[arg(long)]
    table: Option<PathBuf>,
    /// Directory the table's video paths are relative to (default: the table's directory).
    #[arg(long)]
    video_root: Option<PathBuf>,
    /// Checkpoint (.pth or .safetensors); default: the bundled tiny model with random weights.
    #[arg(long, requires = "config")]
    weights: Option<PathBuf>,
    /// Preset (viclip-l14, viclip-b16) or JSON config of --weights.
    #[arg(long, requires = "weights")]
    config: Option<String>,
    /// Keep the scored output in this directory instead of a temporary one.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `viclip score`'s flags, parsed the way the command line parses them.
#[derive(Parser)]
struct ScoreCli {
    #[command(flatten)]
    args: ScoreArgs,
}

/// Runs the demo: scores the table, then prints its rows.
pub fn run(args: &DemoArgs) -> Result<()> {
    let table = args.table.clone().unwrap_or_else(|| {
        Path::new(ROOT)
            .join("assets/demo/clips.jsonl")
            .components()
            .collect()
    });
    let video_root = match &args.video_root {
        Some(r) => r.clone(),
        None => table
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let (weights, config, random) = match (&args.weights, &args.config) {
        (Some(w), Some(c)) => (w.clone(), PathBuf::from(c), false),
        _ => {
            let (w, c) = tiny_model();
            (w, c, true)
        }
    };
    let temp;
    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("viclip-demo-")
                .tempdir()
                .context("creating a temporary directory for the demo's output")?;
            temp.path().join("scored")
        }
    };
    if random {
        println!(
            "demo model: the tiny ViCLIP bundled for tests (tests/fixtures/tiny_a), with RANDOM weights:\n\
             its similarities show the pipeline working, not what the clips mean.\n"
        );
    }
    println!("table:  {}", table.display());
    println!("videos: {}", video_root.display());
    match &args.out {
        Some(_) => println!("output: {}\n", out.display()),
        None => println!(
            "output: {} (removed at the end; --out DIR keeps it)\n",
            out.display()
        ),
    }

    let flags: Vec<std::ffi::OsString> = vec![
        "score".into(),
        "--input".into(),
        table.clone().into(),
        "--out".into(),
        out.clone().into(),
        "--video-root".into(),
        video_root.into(),
        "--weights".into(),
        weights.into(),
        "--config".into(),
        config.into(),
        "--no-report".into(),
    ];
    let columns = ["--path-col", "path", "--caption-col", "caption"];
    let spans = ["--start-col", "start", "--end-col", "end"];
    let flags = flags
        .into_iter()
        .chain(columns.into_iter().chain(spans).map(Into::into));
    let score = ScoreCli::try_parse_from(flags)?.args;
    score_cmd::run(&score)?;
    print_rows(&out)
}

/// Prints each scored row of `out`'s parquet shards: clip, span, colour, status, CLIP-SIM, caption
/// (and the error of a row that failed).
fn print_rows(out: &Path) -> Result<()> {
    let mut shards: Vec<PathBuf> = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    shards.sort();
    println!(
        "\n{:<20} {:>9} {:<24} {:<6} {:>9}  caption",
        "video", "span (s)", "colour", "status", "CLIP-SIM"
    );
    for shard in &shards {
        let table = Table::open(shard)?;
        for batch in table.batches(&ReadOptions::default()) {
            let batch = batch?;
            let text = |name| columns::StrColumn::new(&batch, name);
            let (path, caption) = (text("path")?, text("caption")?);
            let (status, colour) = (text("status")?, text("video_color")?);
            let error = text("error")?;
            let start = columns::seconds_values(&batch, "start")?;
            let end = columns::seconds_values(&batch, "end")?;
            let sim = columns::f64_values(&batch, "viclip_sim")?;
            for i in 0..batch.batch.num_rows() {
                let span = match (start[i], end[i]) {
                    (Some(s), Some(e)) => format!("{s:.1}-{e:.1}"),
                    _ => "whole".into(),
                };
                let sim = sim[i].map_or("-".into(), |x| format!("{x:+.4}"));
                println!(
                    "{:<20} {span:>9} {:<24} {:<6} {sim:>9}  {}",
                    path.get(i).unwrap_or("-"),
                    colour.get(i).unwrap_or("-"),
                    status.get(i).unwrap_or("-"),
                    caption.get(i).unwrap_or("-"),
                );
                if let Some(e) = error.get(i).filter(|e| !e.is_empty()) {
                    println!("{:>20} error: {e}", "");
                }
            }
        }
    }
    println!(
        "\nCLIP-SIM is the cosine of the clip's and its caption's ViCLIP embeddings (InternVid's FLT \
         subset keeps the top 10M clips by it); the shard above also holds every input column and the \
         decode details (docs/score.md)."
    );
    Ok(())
}
