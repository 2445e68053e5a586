//! The pipeline's units of parallel work and how each turns into model-ready clips.

use std::path::PathBuf;

use super::{ClipFailure, ClipInfo, ClipSource, Outcome, PipelineOptions};
use crate::frames::{FramesDir, DIR_SPAN};
use crate::preprocess::{ProcessedClip, RgbFrame};
#[cfg(feature = "video")]
use crate::video::{decode_clips, ClipSpan};
use crate::{Error, Result};

/// What one job reads.
enum Job {
    /// Up to `batch_size` spans of one file, decoded in one pass.
    #[cfg(feature = "video")]
    Video {
        path: PathBuf,
        spans: Vec<ClipSpan>,
    },
    Dir(PathBuf),
    Frames(Vec<RgbFrame>),
}

/// A job with the numbers of the clips it yields.
pub(super) struct Numbered {
    job: Job,
    source_index: usize,
    first_clip: usize,
    source: PathBuf,
    /// Span label of each clip the job yields, in order.
    spans: Vec<String>,
}

impl Numbered {
    fn info(&self, k: usize, opts: &PipelineOptions) -> ClipInfo {
        ClipInfo {
            clip_index: self.first_clip + k,
            source_index: self.source_index,
            source: self.source.clone(),
            span: self.spans.get(k).cloned().unwrap_or_default(),
            sampling: opts.preprocess.sampling,
            resize: opts.preprocess.resize,
            num_source_frames: 0,
            frame_indices: Vec::new(),
            frame_times: None,
        }
    }
}

/// Splits sources into jobs; a video's spans go in chunks of at most `max_spans` to bound memory.
#[cfg_attr(not(feature = "video"), allow(unused_variables))]
pub(super) fn split(sources: Vec<ClipSource>, max_spans: usize) -> Vec<Numbered> {
    let mut jobs = Vec::new();
    let mut clip = 0;
    for (source_index, s) in sources.into_iter().enumerate() {
        let mut push = |job: Job, source: PathBuf, spans: Vec<String>| {
            let n = spans.len();
            jobs.push(Numbered {
                job,
                source_index,
                first_clip: clip,
                source,
                spans,
            });
            clip += n;
        };
        match s {
            #[cfg(feature = "video")]
            ClipSource::Video { path, spans } => {
                let spans = if spans.is_empty() {
                    vec![ClipSpan::whole()]
                } else {
                    spans
                };
                for chunk in spans.chunks(max_spans.max(1)) {
                    let labels = chunk.iter().map(ClipSpan::to_string).collect();
                    let job = Job::Video {
                        path: path.clone(),
                        spans: chunk.to_vec(),
                    };
                    push(job, path.clone(), labels);
                }
            }
            ClipSource::FramesDir(p) => push(Job::Dir(p.clone()), p, vec![DIR_SPAN.into()]),
            ClipSource::Frames { name, frames } => {
                push(Job::Frames(frames), name.into(), vec![DIR_SPAN.into()])
            }
        }
    }
    jobs
}

/// Runs a job. A panic (a bug, or in FFmpeg glue) must not hang the pipeline: it becomes a failure of
/// each of the job's clips.
pub(super) fn run(n: Numbered, opts: &PipelineOptions) -> Vec<Outcome> {
    let infos: Vec<ClipInfo> = (0..n.spans.len()).map(|k| n.info(k, opts)).collect();
    let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&n, opts)))
        .unwrap_or_else(|_| {
            let msg = |i: &ClipInfo| {
                format!(
                    "{}, {}: internal error (panic) while decoding; please report it",
                    i.source.display(),
                    i.span
                )
            };
            infos
                .iter()
                .map(|i| Err(Error::InvalidInput(msg(i))))
                .collect()
        });
    infos
        .into_iter()
        .zip(results)
        .map(|(info, r)| match r {
            Ok((c, times)) => Ok((
                ClipInfo {
                    num_source_frames: c.num_source_frames,
                    frame_indices: c.indices,
                    frame_times: times,
                    ..info
                },
                c.pixels,
            )),
            Err(e) => Err(ClipFailure::new(info, e)),
        })
        .collect()
}

/// One result per clip of the job: the preprocessed clip and, for video, its frame times.
type ClipResult = Result<(ProcessedClip, Option<Vec<f64>>)>;

fn work(n: &Numbered, opts: &PipelineOptions) -> Vec<ClipResult> {
    let p = &opts.preprocess;
    match &n.job {
        #[cfg(feature = "video")]
        Job::Video { path, spans } => {
            decode_clips(path, spans, p.sampling, p.num_frames, &opts.decode)
                .into_iter()
                .map(|r| {
                    let c = r?;
                    let clip = ProcessedClip {
                        pixels: p.process_sampled(&c.frames)?,
                        num_source_frames: c.num_frames,
                        indices: c.indices,
                    };
                    Ok((clip, Some(c.timestamps)))
                })
                .collect()
        }
        Job::Dir(dir) => vec![FramesDir::open(dir)
            .and_then(|d| d.preprocess(p))
            .map(|c| (c, None))],
        Job::Frames(frames) => {
            let name = n.source.to_string_lossy();
            vec![p.process_all(frames, &*name, DIR_SPAN).map(|c| (c, None))]
        }
    }
}
