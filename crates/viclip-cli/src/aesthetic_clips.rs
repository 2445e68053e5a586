//! `viclip aesthetic --video V [--start S --end E] | --frames DIR`: decodes only the `uniform(k)` frames
//! of each clip (`round(linspace(0, n-1, k))`, InternVid's 4 frames) and scores them with
//! `aesthetic_cmd::run_clips`; reported frame indices are positions among the clip's own frames.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use viclip::frames::FramesDir;
use viclip::pipeline::ClipSource;

use crate::aesthetic_cmd::{self, AestheticArgs, DecodedInput};
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
/// [`aesthetic_cmd::run`] does; otherwise it reads `--frames-per-clip` uniformly sampled frames of
/// each clip (a video without spans is one clip) and scores them with [`aesthetic_cmd::run_clips`].
/// A clip that cannot be read, or has fewer frames than that, is `null` in the output with its error
/// in `items`; the command fails when every clip does.
pub fn run(cmd: &AestheticCmd) -> Result<()> {
    if cmd.videos.is_empty() && cmd.frames.is_empty() {
        return aesthetic_cmd::run(&cmd.args);
    }
    let k = cmd.args.frames_per_clip;
    let sources = VideoArgs {
        videos: cmd.videos.clone(),
        start: cmd.start.clone(),
        end: cmd.end.clone(),
        frames: cmd.frames.clone(),
        ..VideoArgs::default()
    }
    .sources()?;
    let mut clips = Vec::new();
    for source in sources {
        match source {
            ClipSource::Video { path, spans } => {
                let spans = if spans.is_empty() {
                    vec![viclip::video::ClipSpan::whole()]
                } else {
                    spans
                };
                let sampling = viclip::preprocess::FrameSampling::Uniform(k);
                let opts = viclip::video::DecodeOptions::default();
                for (span, r) in spans.iter().zip(viclip::video::decode_clips(
                    &path, &spans, sampling, k, &opts,
                )) {
                    let label = format!("{} {}", path.display(), span);
                    clips.push(match r {
                        Ok(c) if c.num_frames < k => DecodedInput {
                            frames: Err(viclip::Error::TooFewFrames {
                                clip: label.clone(),
                                needed: k,
                                got: c.num_frames,
                            }),
                            label,
                            indices: None,
                        },
                        Ok(c) => DecodedInput {
                            label,
                            frames: Ok(c.frames),
                            indices: Some(c.indices),
                        },
                        Err(e) => DecodedInput {
                            label,
                            frames: Err(e),
                            indices: None,
                        },
                    });
                }
            }
            ClipSource::FramesDir(dir) => {
                let label = dir.display().to_string();
                let loaded = FramesDir::open(&dir).and_then(|d| {
                    if d.len() < k {
                        return Err(viclip::Error::TooFewFrames {
                            clip: label.clone(),
                            needed: k,
                            got: d.len(),
                        });
                    }
                    let idx = viclip::aesthetic::uniform_indices(d.len(), k);
                    let frames = idx
                        .iter()
                        .map(|&i| d.load(i))
                        .collect::<viclip::Result<Vec<_>>>()?;
                    Ok((frames, idx))
                });
                clips.push(match loaded {
                    Ok((frames, idx)) => DecodedInput {
                        label,
                        frames: Ok(frames),
                        indices: Some(idx),
                    },
                    Err(e) => DecodedInput {
                        label,
                        frames: Err(e),
                        indices: None,
                    },
                });
            }
            _ => {}
        }
    }
    aesthetic_cmd::run_clips(&cmd.args, clips)
}
