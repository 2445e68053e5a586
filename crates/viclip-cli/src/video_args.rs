//! `viclip embed-video` inputs that need decoding and preprocessing: video files with clip spans
//! (`--video V [--start S --end E]`) and frame directories (`--frames DIR`), with the frame sampling and
//! resize filter recorded in every output row.
//!
//! Spans pair with videos by count: no `--start/--end` embeds each whole file; with one `--video`, every
//! `--start/--end` pair is a clip of that file (all decoded in one pass); with N videos and N pairs, pair
//! i belongs to video i. `--start` and `--end` come in pairs, in order.

use std::path::PathBuf;

use anyhow::Context;
use anyhow::{bail, Result};
use clap::Args;
use viclip::pipeline::{ClipSource, PipelineOptions};
use viclip::ViClipConfig;

use crate::args::DecodeArgs;

/// Video and frame-directory inputs of `embed-video`.
#[derive(Args, Debug, Clone, Default)]
pub struct VideoArgs {
    /// Video file (mp4, webm, mkv; h264, vp9, av1, ...). Repeatable.
    #[arg(long = "video", value_name = "FILE")]
    pub videos: Vec<PathBuf>,
    /// Clip start: seconds (`12.5`), `MM:SS(.mmm)` or `HH:MM:SS(.mmm)`. Repeatable, one per --end.
    #[arg(long, value_name = "TIME", requires = "videos")]
    pub start: Vec<String>,
    /// Clip end (exclusive: a frame at exactly this time is not in the clip). One per --start.
    #[arg(long, value_name = "TIME", requires = "videos")]
    pub end: Vec<String>,
    /// Directory of frame images (png/jpg, natural name order), one clip. Repeatable.
    #[arg(long = "frames", value_name = "DIR")]
    pub frames: Vec<PathBuf>,
    /// Frame sampling, resize and decode threads.
    #[command(flatten)]
    pub decode: DecodeArgs,
}

impl VideoArgs {
    /// Whether any video or frame directory was given.
    #[allow(dead_code)] // used by the tests that include this file
    pub fn is_set(&self) -> bool {
        !self.videos.is_empty() || !self.frames.is_empty()
    }

    /// The clip sources in output-row order: videos (their spans in order), then frame directories.
    pub fn sources(&self) -> Result<Vec<ClipSource>> {
        let mut out = self.video_sources()?;
        out.extend(self.frames.iter().cloned().map(ClipSource::FramesDir));
        if out.is_empty() {
            bail!("nothing to embed: pass --video FILE or --frames DIR");
        }
        Ok(out)
    }

    fn video_sources(&self) -> Result<Vec<ClipSource>> {
        use viclip::video::ClipSpan;
        if self.start.len() != self.end.len() {
            bail!(
                "{} --start but {} --end: give them in pairs, one --start and one --end per clip",
                self.start.len(),
                self.end.len()
            );
        }
        let mut spans = Vec::with_capacity(self.start.len());
        for (s, e) in self.start.iter().zip(&self.end) {
            spans.push(
                ClipSpan::parse(s, Some(e)).with_context(|| format!("--start {s} --end {e}"))?,
            );
        }
        let video = |path: &PathBuf, spans: Vec<ClipSpan>| ClipSource::Video {
            path: path.clone(),
            spans,
        };
        Ok(match (self.videos.len(), spans.len()) {
            (_, 0) => self.videos.iter().map(|v| video(v, Vec::new())).collect(),
            (1, _) => vec![video(&self.videos[0], spans)],
            (n, k) if n == k => self.videos.iter().zip(spans).map(|(v, s)| video(v, vec![s])).collect(),
            (n, k) => bail!(
                "{n} --video but {k} --start/--end pairs: give one pair per video, or any number of pairs for a single video"
            ),
        })
    }

    /// Pipeline options: `batch_size` clips per model batch.
    pub fn options(
        &self,
        cfg: &ViClipConfig,
        batch_size: usize,
        num_sources: usize,
    ) -> Result<PipelineOptions> {
        let mut o = PipelineOptions::new(self.decode.preprocess(cfg)?);
        o.batch_size = batch_size.max(1);
        o.workers = self.decode.threads()?;
        // One file: let FFmpeg use every core; several: one file per core.
        if num_sources == 1 {
            o.decode.threads = None;
        }
        Ok(o)
    }

    /// The clips on the engine, embedded as they are decoded: one result per clip, in input order.
    pub fn engine<'a>(&self, model: &'a viclip::ViClip) -> Result<viclip::engine::ClipEngine<'a>> {
        let sources = self.sources()?;
        let opts = self.options(model.config(), model.batch_size(), sources.len())?;
        let opts = viclip::engine::EngineOptions::new(opts);
        Ok(viclip::engine::ClipEngine::start(model, sources, opts)?)
    }
}

/// The JSON row of a clip: `ClipInfo`'s metadata (clip index, source, span, sampling, resize, frame
/// count, sampled indices and times).
pub fn clip_row(info: &viclip::pipeline::ClipInfo) -> serde_json::Value {
    serde_json::to_value(info).unwrap_or(serde_json::Value::Null)
}

/// The JSON row of a failed clip.
pub fn failure_row(
    clip_index: usize,
    source_index: usize,
    source: &std::path::Path,
    span: &str,
    error: &viclip::Error,
) -> serde_json::Value {
    serde_json::json!({
        "clip_index": clip_index,
        "source_index": source_index,
        "source": source,
        "span": span,
        "error": error.to_string(),
    })
}
