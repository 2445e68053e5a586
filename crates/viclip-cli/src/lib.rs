//! The `viclip` command's code, one module per command, as a library so tests call it directly.
//!
//! Dependencies run one way: this crate uses `viclip_data` (tables, scoring, subsets) and `viclip` (the
//! model); neither knows about the command line.

#![warn(missing_docs)]

pub mod aesthetic_clips;
pub mod aesthetic_cmd;
pub mod args;
pub mod demo;
pub mod embed_video;
pub mod flags;
pub mod io;
pub mod score_cmd;
pub mod status_cmd;
pub mod subset_cmd;
pub mod video_args;
pub mod view;

use std::path::PathBuf;

use anyhow::{bail, Result};
use viclip::{LoadOptions, ViClip};

pub use args::ModelArgs;

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
