//! The `viclip` command's code, one module per command, as a library so tests call it directly.
//!
//! Dependencies run one way: this crate uses `viclip_data` (tables, scoring, subsets) and `viclip` (the
//! model); neither knows about the command line.

#![warn(missing_docs)]

pub mod aesthetic_clips;
pub mod aesthetic_cmd;
pub mod demo;
pub mod embed_video;
pub mod flags;
pub mod io;
pub mod score_cmd;
pub mod status_cmd;
pub mod subset_cmd;
pub mod video_args;

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;
use viclip::{LoadOptions, ViClip, ViClipConfig};

/// The model flags shared by the commands that embed: `--weights/--config` or `--model NAME`, device,
/// dtype and batch size.
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

/// The load options of the `--device`, `--dtype` and `--batch-size` flags; `--batch-size 0` (the
/// command line's "automatic") leaves the batch to be picked when the model is loaded.
pub fn load_options(device: &str, dtype: &str, batch_size: usize) -> Result<LoadOptions> {
    viclip::limits::check_batch_size(batch_size)?;
    Ok(LoadOptions::from_names(device, dtype)?
        .with_batch_size((batch_size > 0).then_some(batch_size)))
}

/// The ViCLIP checkpoint that `--model NAME` names, loaded through
/// `ViClip::from_pretrained_with_path` (`hub` feature), and the file it came from (hashed into a run identity).
/// Without the `hub` feature the name is still checked, then the command says how to load it.
pub fn pretrained(name: &str, opts: LoadOptions) -> Result<(ViClip, PathBuf)> {
    #[cfg(feature = "hub")]
    {
        let (model, fetched) = ViClip::from_pretrained_with_path(name, opts)?;
        Ok((model, fetched.path))
    }
    #[cfg(not(feature = "hub"))]
    {
        let _ = opts;
        // A typo reads as one in any build.
        viclip::manifest::find(name)?.config()?;
        bail!(
            "--model {name}: this build has no hub support; rebuild with `--features hub`, or \
             download the file and pass --weights and --config"
        )
    }
}

impl ModelArgs {
    /// Loads the model the flags name.
    pub fn load(&self) -> Result<ViClip> {
        let opts = load_options(&self.device, &self.dtype, self.batch_size)?;
        match (&self.model, &self.weights, &self.config) {
            (Some(name), _, _) => Ok(pretrained(name, opts)?.0),
            (None, Some(w), Some(c)) => Ok(ViClip::from_files(
                w,
                &ViClipConfig::from_name_or_path(c)?,
                opts,
            )?),
            _ => bail!("pass --weights W --config C, or --model NAME"),
        }
    }
}
