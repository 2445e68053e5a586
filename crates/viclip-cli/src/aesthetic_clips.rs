//! `viclip aesthetic --video V [--start S --end E] | --frames DIR`: the clips' `uniform(k)` frames
//! (`round(linspace(0, n-1, k))`, InternVid's 4 frames) scored on the clip engine by
//! `aesthetic_cmd::run_clips`; reported frame indices are positions among the clip's own frames.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::aesthetic_cmd::{self, AestheticArgs};
use crate::video_args::VideoArgs;

/// The flags of `viclip aesthetic`: [`AestheticArgs`] (model, head, images or tensor, output) plus the
/// clip inputs `--video` (with `--start`/`--end` spans) and `--frames`.
#[derive(Args)]
pub struct AestheticCmd {
    /// Model, head, image and tensor input, and output flags; on their own (no `--video` or `--frames`)
    /// they are the whole command.
    #[command(flatten)]
    pub args: AestheticArgs,
    /// Video file; one clip per --start/--end pair (none: the whole file). Repeatable.
    #[arg(long = "video", value_name = "FILE", conflicts_with_all = ["images", "tensor"])]
    pub videos: Vec<PathBuf>,
    /// Clip start: seconds, `MM:SS(.mmm)` or `HH:MM:SS(.mmm)`. Repeatable, one per --end.
    #[arg(long, value_name = "TIME", requires = "videos")]
    pub start: Vec<String>,
    /// Clip end (exclusive). Repeatable, one per --start.
    #[arg(long, value_name = "TIME", requires = "videos")]
    pub end: Vec<String>,
    /// Directory of frame images (natural name order), one clip. Repeatable.
    #[arg(long = "frames", value_name = "DIR", conflicts_with_all = ["images", "tensor"])]
    pub frames: Vec<PathBuf>,
}

/// Runs `viclip aesthetic`. Without `--video`/`--frames` it scores images or a tensor as
/// [`aesthetic_cmd::run`] does; otherwise each clip (a video without spans is one clip) is scored
/// from its `--frames-per-clip` uniformly sampled frames by [`aesthetic_cmd::run_clips`]. A clip that
/// cannot be read, or has fewer frames than that, is `null` in the output with its error in `items`;
/// the command fails when every clip does.
pub fn run(cmd: &AestheticCmd) -> Result<()> {
    if cmd.videos.is_empty() && cmd.frames.is_empty() {
        return aesthetic_cmd::run(&cmd.args);
    }
    let sources = VideoArgs {
        videos: cmd.videos.clone(),
        start: cmd.start.clone(),
        end: cmd.end.clone(),
        frames: cmd.frames.clone(),
        ..VideoArgs::default()
    }
    .sources()?;
    aesthetic_cmd::run_clips(&cmd.args, sources)
}
