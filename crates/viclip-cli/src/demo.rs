//! `viclip demo`: the main job end to end on data compiled into the binary, so it runs from any
//! directory with no source tree. A clip table over four short sample videos (`assets/demo/`, made
//! with the ffmpeg CLI by `assets/demo/make.sh`) is scored by the tiny bundled ViCLIP exactly as
//! `viclip score` scores a real table: decoding, frame sampling and resizing, video and caption
//! embeddings, CLIP-SIM, a parquet shard written to a temporary directory. The rows are then read back
//! and printed. The tiny model's weights are random, so its numbers show the pipeline, not meaning;
//! point the flags at a real checkpoint and table for that.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use tempfile::TempDir;
use viclip::{ViClip, ViClipConfig};
use viclip_data::score::{
    score, Columns, Input, Progress, ScoreOptions, ShareRequest, VideoLocator,
};
use viclip_data::table::{columns, ReadOptions, Table};

// The bundled model and samples live in their own file next to this one.
#[path = "demo_assets.rs"]
mod assets;

/// Clips per video-tower batch: `viclip score`'s default.
const BATCH_SIZE: usize = 16;
/// Rows per output shard: `viclip score`'s default (the samples make one shard).
const SHARD_SIZE: u64 = 10_000;
/// Where the bundled samples are written inside a kept `--out` directory (see [`run`]).
const KEPT_SAMPLES: &str = ".demo-samples";

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
    /// Keep the scored output in this directory instead of a temporary one (with the bundled
    /// samples in DIR/.demo-samples, where a rerun into DIR finds them and resumes).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs the demo: scores the table, then prints its rows. The bundled files are written to a private
/// temporary directory, removed at the end, also when SIGINT or SIGTERM stops the run.
pub fn run(args: &DemoArgs) -> Result<()> {
    let signals = Signals::register()?;
    let temp = tempfile::Builder::new()
        .prefix("viclip-demo-")
        .tempdir()
        .context("creating a temporary directory for the demo")?;
    match demo(args, &temp, &signals.any) {
        Err(e)
            if matches!(
                e.downcast_ref::<viclip_data::Error>(),
                Some(viclip_data::Error::Interrupted)
            ) =>
        {
            eprintln!("viclip demo: interrupted; its temporary directory is removed");
            // `exit` runs no destructors: the directory goes first.
            drop(temp);
            std::process::exit(signals.exit_code());
        }
        r => r,
    }
}

/// The demo in the temporary directory `temp`; `cancel` is set by a signal.
fn demo(args: &DemoArgs, temp: &TempDir, cancel: &Arc<AtomicBool>) -> Result<()> {
    let out = match &args.out {
        Some(o) => o.clone(),
        None => temp.path().join("scored"),
    };
    let table = match &args.table {
        Some(t) => t.clone(),
        None => {
            // A run's record names its video directory, and a rerun into the same --out resumes
            // only with the same one: kept output gets its samples at a path that stays.
            let dir = match &args.out {
                Some(o) => o.join(KEPT_SAMPLES),
                None => temp.path().join("samples"),
            };
            assets::write(&dir, &assets::SAMPLES)?;
            dir.join(assets::SAMPLES[0].0)
        }
    };
    let video_root = match &args.video_root {
        Some(r) => r.clone(),
        None => table
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let (weights, config) = match (&args.weights, &args.config) {
        (Some(w), Some(c)) => (w.clone(), ViClipConfig::from_name_or_path(c)?),
        _ => {
            let dir = temp.path().join("model");
            assets::write(&dir, &assets::MODEL)?;
            println!(
                "demo model: the tiny ViCLIP bundled for tests (tests/fixtures/tiny_a), with RANDOM weights:\n\
                 its similarities show the pipeline working, not what the clips mean.\n"
            );
            let config = ViClipConfig::from_json_file(&dir.join(assets::MODEL[1].0))?;
            (dir.join(assets::MODEL[0].0), config)
        }
    };
    println!("table:  {}", table.display());
    println!("videos: {}", video_root.display());
    match &args.out {
        Some(_) => println!("output: {}\n", out.display()),
        None => println!(
            "output: {} (removed at the end; --out DIR keeps it)\n",
            out.display()
        ),
    }

    let opts = viclip::LoadOptions::default().with_batch_size(BATCH_SIZE);
    let model = ViClip::from_files(&weights, &config, opts)?;
    // A signal while a large checkpoint loads waits for the run's first check otherwise.
    if cancel.load(Ordering::Relaxed) {
        return Err(viclip_data::Error::Interrupted.into());
    }
    let opts = options(table, video_root, out.clone(), weights, cancel);
    let mut show = |p: &Progress| {
        if let Some(n) = &p.note {
            eprintln!("viclip demo: {n}");
        }
    };
    let summary = score(&model, &opts, &mut show)?;
    let rows: u64 = summary.scored.iter().map(|s| s.rows).sum();
    let ok: u64 = summary.scored.iter().map(|s| s.ok).sum();
    eprintln!(
        "viclip demo: {rows} rows scored ({ok} ok), {} shard(s) already complete, {:.1} s",
        summary.skipped, summary.seconds
    );
    print_rows(&out)
}

/// What `viclip score --input TABLE --out OUT --video-root ROOT --weights W --config C --path-col
/// path --caption-col caption --start-col start --end-col end --no-report` runs, on the CPU in f32,
/// as one process (a demo started inside a scheduler's job does not take a share of an array).
fn options(
    table: PathBuf,
    video_root: PathBuf,
    out: PathBuf,
    weights: PathBuf,
    cancel: &Arc<AtomicBool>,
) -> ScoreOptions {
    let columns = Columns {
        video: VideoLocator::Column("path".into()),
        video_root: Some(video_root),
        caption: "caption".into(),
        start: Some("start".into()),
        end: Some("end".into()),
        clips: None,
    };
    let model_name = weights
        .file_name()
        .map_or(weights.display().to_string(), |f| {
            f.to_string_lossy().into_owned()
        });
    ScoreOptions {
        input: Input::Table {
            path: table,
            columns,
        },
        out,
        shard_size: SHARD_SIZE,
        shards: ShareRequest::default(),
        clips: viclip::ClipOptions::default(),
        embeddings: false,
        aesthetic: None,
        model_name,
        weights: Some(weights),
        write_report: false,
        cancel: Some(Arc::clone(cancel)),
    }
}

/// SIGINT and SIGTERM set `any`, which the run checks between batches, so the temporary directory
/// (the unpacked 7 MB model among it) is removed before the process exits with 130 or 143; a second
/// signal ends the process at once.
struct Signals {
    int: Arc<AtomicBool>,
    any: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let s = Signals {
            int: Arc::new(AtomicBool::new(false)),
            any: Arc::new(AtomicBool::new(false)),
        };
        for sig in [SIGINT, SIGTERM] {
            // Order matters: the shutdown hook sees the flag set only from the second signal on.
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&s.any))?;
            if sig == SIGINT {
                flag::register(sig, Arc::clone(&s.int))?;
            }
            flag::register(sig, Arc::clone(&s.any))?;
        }
        Ok(s)
    }

    /// The exit code of a process killed by the signal received.
    fn exit_code(&self) -> i32 {
        if self.int.load(Ordering::Relaxed) {
            130
        } else {
            143
        }
    }
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
