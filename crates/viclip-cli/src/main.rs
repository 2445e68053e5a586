//! `viclip`: tokenize captions, embed captions and preprocessed videos, score clip tables, build
//! subsets, run the built-in demo. The commands live in the `viclip_cli` library.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use viclip::Tokenizer;
use viclip_cli::{
    aesthetic_clips, demo, embed_video, io, score_cmd, status_cmd, subset_cmd, view, ModelArgs,
};

#[derive(Parser)]
#[command(
    name = "viclip",
    version,
    about = "ViCLIP video-text embeddings (InternVid) on candle"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CLIP BPE ids of each caption (32 by default), one JSON array per line.
    Tokenize {
        /// JSON lines, each {"text": "..."}.
        #[arg(long)]
        texts: PathBuf,
        /// Ids per caption, start and end tokens included (ViCLIP's text tower takes 32).
        #[arg(long, default_value_t = viclip::tokenizer::CONTEXT_LENGTH)]
        context_length: usize,
    },
    /// Embed captions: writes (n, E) float32 L2-normalised rows to a .npy file.
    #[command(mut_arg("batch_size", |a| a.help(
        "Captions per forward pass of the text tower are 32 times this, at least 256; auto: 8 on \
         the CPU (256 captions), from the GPU's free memory on a GPU"
    )))]
    EmbedText {
        #[command(flatten)]
        model: ModelArgs,
        /// JSON lines, each {"text": "..."}.
        #[arg(long)]
        texts: PathBuf,
        /// The .npy file written: (n, E) float32.
        #[arg(long)]
        out: PathBuf,
    },
    /// Embed clips: preprocessed tensors (--tensor, (B, T, 3, H, W) float32 .npy), or videos with spans
    /// (--video, --start/--end) and frame directories (--frames), decoded and preprocessed here; (B, E)
    /// float32 L2-normalised out.
    EmbedVideo(embed_video::EmbedVideoArgs),
    /// LAION aesthetic scores (CLIP ViT-L/14 + predictor head) of images, preprocessed tensors, video
    /// clips or frame directories (max of 4 uniformly sampled frames per clip, as InternVid).
    Aesthetic(aesthetic_clips::AestheticCmd),
    /// Score a clip table: CLIP-SIM, aesthetic scores and embeddings per row, in resumable shards.
    Score(Box<score_cmd::ScoreArgs>),
    /// Quantiles and histograms of a finished `viclip score` run.
    Report(score_cmd::ReportArgs),
    /// Where a `viclip score` run stands: shards complete, in flight, missing; tasks to resubmit.
    Status(status_cmd::StatusArgs),
    /// Build InternVid's subsets (random, DIV, FLT, AES, SemDeDup) from a scored table.
    Subset(subset_cmd::SubsetArgs),
    /// Score a bundled clip table of short sample videos end to end with the tiny built-in model (random
    /// weights): decoding, embeddings, CLIP-SIM, a parquet shard; prints the rows.
    Demo(demo::DemoArgs),
    /// A local web page over a scored run: distributions, clips with their frames, thresholds, search.
    View(view::ViewArgs),
    /// List the released checkpoints of the built-in manifest.
    Models,
    /// Download a released checkpoint into the Hugging Face cache and print its path and sha256
    /// (needs the `hub` feature).
    Download {
        /// A name from `viclip models`.
        name: String,
    },
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Tokenize {
            texts,
            context_length,
        } => {
            if !(2..=viclip::limits::MAX_CONTEXT_LENGTH).contains(&context_length) {
                bail!(
                    "--context-length {context_length} is outside 2..={}",
                    viclip::limits::MAX_CONTEXT_LENGTH
                );
            }
            let tok = Tokenizer::new()?;
            let texts = io::read_texts(&texts)?;
            let mut out = String::new();
            for ids in tok.tokenize_batch(&texts, context_length) {
                out.push_str(&serde_json::to_string(&ids)?);
                out.push('\n');
            }
            print!("{out}");
        }
        Command::EmbedText { model, texts, out } => {
            let texts_v = io::read_texts(&texts)?;
            let m = model.load()?;
            let emb = m.embed_texts(&texts_v)?;
            io::write_npy(emb.tensor(), &out)?;
            eprintln!(
                "{} captions -> {} {:?}",
                texts_v.len(),
                out.display(),
                emb.tensor().dims()
            );
        }
        Command::EmbedVideo(args) => embed_video::run(&args)?,
        Command::Demo(args) => demo::run(&args)?,
        Command::Subset(args) => subset_cmd::run(&args)?,
        Command::Score(args) => score_cmd::run(&args)?,
        Command::Report(args) => score_cmd::run_report(&args)?,
        Command::Status(args) => status_cmd::run(&args)?,
        Command::View(args) => view::run(&args)?,
        Command::Aesthetic(cmd) => aesthetic_clips::run(&cmd)?,
        Command::Models => {
            for e in viclip::manifest::entries()? {
                let sha = e.sha256.as_deref().unwrap_or("not pinned");
                let what = e
                    .preset
                    .as_deref()
                    .or(e.head_kind.as_deref())
                    .unwrap_or("-");
                println!(
                    "{}\t{:?}\t{what}\t{}\tsha256: {sha}\n    {}",
                    e.name,
                    e.kind,
                    e.source(),
                    e.description
                );
            }
        }
        Command::Download { name } => {
            let entry = viclip::manifest::find(&name)?;
            let f =
                viclip::manifest::fetch(&entry).with_context(|| format!("downloading {name}"))?;
            println!("{}", f.path.display());
            if f.pinned {
                eprintln!("sha256 {} (matches the manifest)", f.sha256);
            } else {
                eprintln!("sha256 {} (not pinned in the manifest; compare with the hub's listing before pinning)", f.sha256);
            }
        }
    }
    Ok(())
}

fn main() {
    viclip::device::keep_freed_memory();
    // A panic outside the library's deliberate catches (a bug, or a dependency failing under memory
    // pressure) ends the process, releasing its shard locks, instead of leaving threads waiting.
    viclip::panics::exit_on_uncaught_panic();
    if let Err(e) = run(Cli::parse()) {
        // One line naming the file, tensor or line at fault.
        eprintln!("viclip: error: {}", viclip_cli::flags::error_line(&e));
        std::process::exit(1);
    }
}
