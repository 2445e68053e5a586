//! The pipeline's units of parallel work and how each turns into model-ready clips.

use std::path::PathBuf;

use super::{ClipFailure, ClipInfo, ClipSource, Outcome, PipelineOptions};
use crate::frames::{FramesDir, DIR_SPAN};
#[cfg(feature = "video")]
use crate::preprocess::RgbConversion;
use crate::preprocess::{ColorInfo, ProcessedClip, RgbFrame};
#[cfg(feature = "video")]
use crate::video::{decode_clips_with, ClipSpan, FrameRequest, FrameShape};
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
            color: None,
            warning: None,
        }
    }
}

/// Splits sources into jobs lazily, pulling a source only when its first job is wanted (so an endless
/// source iterator is read only as far as the pipeline has got); a video's spans go in chunks of at
/// most `max_spans` to bound memory.
pub(super) struct Split<I> {
    sources: I,
    #[cfg_attr(not(feature = "video"), allow(dead_code))]
    max_spans: usize,
    source_index: usize,
    clip: usize,
    queue: std::collections::VecDeque<Numbered>,
}

impl<I: Iterator<Item = ClipSource>> Split<I> {
    pub(super) fn new(sources: I, max_spans: usize) -> Self {
        Split {
            sources,
            max_spans: max_spans.max(1),
            source_index: 0,
            clip: 0,
            queue: std::collections::VecDeque::new(),
        }
    }

    #[cfg_attr(not(feature = "video"), allow(unused_variables))]
    fn push(&mut self, s: ClipSource) {
        let source_index = self.source_index;
        self.source_index += 1;
        let mut push = |job: Job, source: PathBuf, spans: Vec<String>| {
            let n = spans.len();
            self.queue.push_back(Numbered {
                job,
                source_index,
                first_clip: self.clip,
                source,
                spans,
            });
            self.clip += n;
        };
        match s {
            #[cfg(feature = "video")]
            ClipSource::Video { path, spans } => {
                let spans = if spans.is_empty() {
                    vec![ClipSpan::whole()]
                } else {
                    spans
                };
                for chunk in spans.chunks(self.max_spans) {
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
}

impl<I: Iterator<Item = ClipSource>> Iterator for Split<I> {
    type Item = Numbered;
    fn next(&mut self) -> Option<Numbered> {
        while self.queue.is_empty() {
            let s = self.sources.next()?;
            self.push(s);
        }
        self.queue.pop_front()
    }
}

/// Runs a job. A panic (a bug, or in FFmpeg glue) must not hang the pipeline: it becomes a failure of
/// each of the job's clips.
pub(super) fn run(n: Numbered, opts: &PipelineOptions) -> Vec<Outcome> {
    let infos: Vec<ClipInfo> = (0..n.spans.len()).map(|k| n.info(k, opts)).collect();
    let results = crate::panics::catch(|| work(&n, opts)).unwrap_or_else(|_| {
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
            Ok(d) => Ok((
                ClipInfo {
                    num_source_frames: d.clip.num_source_frames,
                    frame_indices: d.clip.indices,
                    frame_times: d.times,
                    color: d.color,
                    warning: d.warning,
                    ..info
                },
                d.clip.pixels,
                d.extra,
            )),
            Err(e) => Err(ClipFailure::new(info, e)),
        })
        .collect()
}

/// What a job made of one clip.
struct Done {
    clip: ProcessedClip,
    /// Frame times (video only).
    times: Option<Vec<f64>>,
    color: Option<ColorInfo>,
    warning: Option<String>,
    /// The extra uniformly sampled frames ([`PipelineOptions::extra_frames`]).
    extra: Vec<RgbFrame>,
}

impl Done {
    fn plain(clip: ProcessedClip) -> Self {
        Done {
            clip,
            times: None,
            color: None,
            warning: None,
            extra: Vec::new(),
        }
    }
}

/// The extra frames of a clip that is not a video: `uniform(k)` of all its frames, when it has `k`.
fn extra_of(frames: &[RgbFrame], k: usize) -> Vec<RgbFrame> {
    if k == 0 || frames.len() < k {
        return Vec::new();
    }
    crate::preprocess::uniform_indices(frames.len(), k)
        .into_iter()
        .filter_map(|i| frames.get(i).cloned())
        .collect()
}

fn work(n: &Numbered, opts: &PipelineOptions) -> Vec<Result<Done>> {
    let p = &opts.preprocess;
    match &n.job {
        #[cfg(feature = "video")]
        Job::Video { path, spans } => {
            // Frames come out of the decoder already resized to the model input (and the extra frames
            // to the aesthetic input when its size is known), so no native frame outlives its
            // conversion; the pixels are those `process_sampled` would make of the native frames.
            let shape = match p.size {
                0 => FrameShape::Native, // refused by `process_sampled` below, as before
                size => FrameShape::Square {
                    filter: p.resize,
                    size,
                },
            };
            let req = FrameRequest {
                sampling: p.sampling,
                num_frames: p.num_frames,
                extra_uniform: opts.extra_frames,
                shape,
                extra_shape: opts
                    .extra_frame_size
                    .map_or(FrameShape::Native, FrameShape::ClipCrop),
            };
            let mut dec = opts.decode.clone();
            dec.conversion = dec.conversion.or(Some(RgbConversion::for_resize(p.resize)));
            decode_clips_with(path, spans, &req, &dec)
                .into_iter()
                .map(|r| {
                    let c = r?;
                    let lost = (c.frames_lost > 0.0).then(|| {
                        format!(
                            "{:.1}% of the frames decoded for this file were damaged or undecodable \
                             (bit rot?); the embedding may be off",
                            100.0 * c.frames_lost
                        )
                    });
                    let past = c.past_end.map(|(end, last)| {
                        format!(
                            "the span ends at {end:.3} s, {:.3} s after the video's last frame \
                             ({last:.3} s); the clip holds the frames up to the end",
                            end - last
                        )
                    });
                    let warning = match (lost, past) {
                        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                        (a, b) => a.or(b),
                    };
                    let pixels = match shape {
                        FrameShape::Native => p.process_sampled(&c.frames)?,
                        _ => p.process_resized(&c.frames)?,
                    };
                    let clip = ProcessedClip {
                        pixels,
                        num_source_frames: c.num_frames,
                        indices: c.indices,
                    };
                    Ok(Done {
                        clip,
                        times: Some(c.timestamps),
                        color: c.color,
                        warning,
                        extra: c.extra_frames,
                    })
                })
                .collect()
        }
        Job::Dir(dir) => vec![FramesDir::open(dir).and_then(|d| {
            let clip = d.preprocess(p)?;
            let k = opts.extra_frames;
            let extra = if k > 0 && d.len() >= k {
                crate::preprocess::uniform_indices(d.len(), k)
                    .into_iter()
                    .map(|i| d.load(i))
                    .collect::<Result<Vec<_>>>()?
            } else {
                Vec::new()
            };
            Ok(Done {
                extra,
                ..Done::plain(clip)
            })
        })],
        Job::Frames(frames) => {
            let name = n.source.to_string_lossy();
            vec![p.process_all(frames, &*name, DIR_SPAN).map(|c| Done {
                extra: extra_of(frames, opts.extra_frames),
                ..Done::plain(c)
            })]
        }
    }
}
