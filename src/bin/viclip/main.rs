//! `viclip`: tokenize captions, embed captions and preprocessed videos, run the built-in demo.

mod aesthetic_clips;
mod aesthetic_cmd;
mod demo;
mod embed_video;
mod io;
#[cfg(feature = "video")]
mod score_cmd;
#[cfg(feature = "video")]
mod status_cmd;
mod subset_cmd;
mod video_args;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use viclip::{LoadOptions, Tokenizer, ViClip, ViClipConfig};

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
    /// Print the 32 CLIP BPE ids of each caption, one JSON array per line.
    Tokenize {
        /// JSON lines, each {"text": "..."}.
        #[arg(long)]
        texts: PathBuf,
        #[arg(long, default_value_t = viclip::tokenizer::CONTEXT_LENGTH)]
        context_length: usize,
    },
    /// Embed captions: writes (n, E) float32 L2-normalised rows to a .npy file.
    EmbedText {
        #[command(flatten)]
        model: ModelArgs,
        /// JSON lines, each {"text": "..."}.
        #[arg(long)]
        texts: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Embed preprocessed videos: (B, T, 3, H, W) float32 .npy in, (B, E) float32 L2-normalised out.
    /// Embed clips: preprocessed tensors (--tensor), or videos with spans (--video, --start/--end) and
    /// frame directories (--frames), decoded and preprocessed here. (B, E) float32 L2-normalised out.
    EmbedVideo(embed_video::EmbedVideoArgs),
    /// LAION aesthetic scores (CLIP ViT-L/14 + predictor head) of images, preprocessed tensors, video
    /// clips or frame directories (max of 4 uniformly sampled frames per clip, as InternVid).
    Aesthetic(aesthetic_clips::AestheticCmd),
    /// Score a clip table: CLIP-SIM, aesthetic scores and embeddings per row, in resumable shards.
    #[cfg(feature = "video")]
    Score(score_cmd::ScoreArgs),
    /// Quantiles and histograms of a finished `viclip score` run.
    #[cfg(feature = "video")]
    Report(score_cmd::ReportArgs),
    /// Where a `viclip score` run stands: shards complete, in flight, missing; tasks to resubmit.
    #[cfg(feature = "video")]
    Status(status_cmd::StatusArgs),
    /// Build InternVid's subsets (random, DIV, FLT, AES, SemDeDup) from a scored table.
    Subset(subset_cmd::SubsetArgs),
    /// Run the built-in tiny model on the bundled sample clips and captions: embeddings and a
    /// similarity table.
    Demo(demo::DemoArgs),
    /// List the released checkpoints of the built-in manifest.
    Models,
    /// Download a released checkpoint into the Hugging Face cache and print its path and sha256
    /// (needs the `hub` feature).
    Download {
        /// A name from `viclip models`.
        name: String,
    },
}

#[derive(Args)]
pub struct ModelArgs {
    /// Checkpoint: the original .pth (with its `model` entry) or .safetensors.
    #[arg(long, required_unless_present = "model")]
    weights: Option<PathBuf>,
    /// Preset name (viclip-l14, viclip-b16) or a JSON config path.
    #[arg(long, required_unless_present = "model")]
    config: Option<String>,
    /// A released checkpoint by manifest name instead of --weights/--config (downloads; `hub` feature).
    #[arg(long, conflicts_with_all = ["weights", "config"])]
    model: Option<String>,
    /// cpu, cuda, cuda:N or metal.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// f32, f16 or bf16.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Videos per forward pass (captions go 32x as many at a time); 0 picks it from the GPU's free
    /// memory (8 on the CPU).
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
}

impl ModelArgs {
    pub fn load(&self) -> Result<ViClip> {
        viclip::limits::check_batch_size(self.batch_size)?;
        let opts = LoadOptions::from_flags(&self.device, &self.dtype, self.batch_size)?;
        let (weights, cfg) = match (&self.model, &self.weights, &self.config) {
            (Some(name), _, _) => {
                let entry = viclip::manifest::find(name)?;
                let fetched = viclip::manifest::fetch(&entry)?;
                (fetched.path, entry.config()?)
            }
            (None, Some(w), Some(c)) => (w.clone(), ViClipConfig::from_name_or_path(c)?),
            _ => bail!("pass --weights W --config C, or --model NAME"),
        };
        Ok(ViClip::from_files(&weights, &cfg, opts)?)
    }
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
        #[cfg(feature = "video")]
        Command::Score(args) => score_cmd::run(&args)?,
        #[cfg(feature = "video")]
        Command::Report(args) => score_cmd::run_report(&args)?,
        #[cfg(feature = "video")]
        Command::Status(args) => status_cmd::run(&args)?,
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
    if let Err(e) = run(Cli::parse()) {
        // One line naming the file, tensor or line at fault.
        eprintln!("viclip: error: {}", error_line(&e));
        std::process::exit(1);
    }
}

/// The error and its causes on one line, each text once: the crate's errors already include their
/// source's text (`path: File exists (os error 17)`), so a cause whose text is already there is
/// skipped rather than repeated.
fn error_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.contains(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg.replace('\n', " ")
}
