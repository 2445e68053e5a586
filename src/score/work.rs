//! Scoring the rows of one shard: clips through the decode pipeline and the video tower, captions
//! through the text tower, cosine per row, and optionally the aesthetic score.
//!
//! Determinism: the shard's good clips go to the model in row order (grouped by file, files in order
//! of first appearance) in batches of `batch_size`, so a batch's composition depends only on the
//! shard's rows, and a rerun after a crash computes the same values bit for bit.

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbImage;
use rayon::prelude::*;

use super::run::AestheticOptions;
use super::{RowFailure, RowStatus, RowTask};
use crate::pipeline::{ClipSource, Pipeline, PipelineOptions};
use crate::preprocess::FrameSampling;
use crate::video::{decode_clips, ClipSpan, DecodeOptions};
use crate::{Result, ViClip};

/// What the job computed for one row.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowOut {
    pub failure: Option<RowFailure>,
    pub sim: Option<f32>,
    pub aesthetic: Option<f32>,
    pub frames: Option<Vec<i32>>,
    pub video_emb: Option<Vec<f32>>,
    pub text_emb: Option<Vec<f32>>,
}

pub(crate) struct Ctx<'a> {
    pub model: &'a ViClip,
    pub pipeline: PipelineOptions,
    pub aesthetic: Option<&'a AestheticOptions>,
    pub pool: &'a rayon::ThreadPool,
    /// Set to stop between two batches ([`crate::Error::Interrupted`]).
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

/// Clip groups: one per file, files in order of first appearance, spans in row order.
fn groups(
    tasks: &[RowTask],
    rows: impl Fn(usize) -> bool,
) -> Vec<(PathBuf, Vec<(usize, ClipSpan)>)> {
    let mut out: Vec<(PathBuf, Vec<(usize, ClipSpan)>)> = Vec::new();
    let mut at: HashMap<PathBuf, usize> = HashMap::new();
    for (r, t) in tasks.iter().enumerate() {
        if let (Ok((p, s)), true) = (&t.clip, rows(r)) {
            let g = *at.entry(p.clone()).or_insert_with(|| {
                out.push((p.clone(), Vec::new()));
                out.len() - 1
            });
            out[g].1.push((r, *s));
        }
    }
    out
}

/// Scores a shard's rows; `on_clips(n)` reports clips as they leave the video tower. Errors are
/// per row; the `Result` is only for the pipeline failing to start.
pub(crate) fn score_shard(
    ctx: &Ctx,
    tasks: &[RowTask],
    on_clips: &mut dyn FnMut(u64),
) -> Result<Vec<RowOut>> {
    let n = tasks.len();
    let mut video_fail: Vec<Option<RowFailure>> =
        tasks.iter().map(|t| t.clip.clone().err()).collect();
    let mut out: Vec<RowOut> = vec![RowOut::default(); n];

    // Video side: every file decoded once for all its spans in this shard.
    let groups = groups(tasks, |_| true);
    let clip_rows: Vec<usize> = groups
        .iter()
        .flat_map(|g| g.1.iter().map(|c| c.0))
        .collect();
    let sources = groups
        .iter()
        .map(|(p, spans)| ClipSource::Video {
            path: p.clone(),
            spans: spans.iter().map(|s| s.1).collect(),
        })
        .collect();
    if !clip_rows.is_empty() {
        for batch in Pipeline::spawn(sources, ctx.pipeline.clone())? {
            if ctx
                .cancel
                .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
            {
                return Err(crate::Error::Interrupted);
            }
            for f in &batch.failures {
                if let Some(&r) = clip_rows.get(f.clip_index) {
                    video_fail[r] = Some(RowFailure::new(
                        RowStatus::of_error(&f.error),
                        f.error.to_string(),
                    ));
                }
            }
            let rows: Vec<usize> = batch
                .clips
                .iter()
                .filter_map(|c| clip_rows.get(c.clip_index).copied())
                .collect();
            if let Some(videos) = &batch.videos {
                match ctx.model.embed_videos(videos).and_then(|e| e.to_vec2()) {
                    Ok(embs) => {
                        for ((&r, info), e) in rows.iter().zip(&batch.clips).zip(embs) {
                            out[r].video_emb = Some(e);
                            out[r].frames =
                                Some(info.frame_indices.iter().map(|&i| i as i32).collect());
                        }
                    }
                    Err(e) => {
                        for &r in &rows {
                            video_fail[r] = Some(RowFailure::new(
                                RowStatus::ModelError,
                                format!("video tower failed on the batch holding this clip: {e}"),
                            ));
                        }
                    }
                }
            }
            on_clips((batch.clips.len() + batch.failures.len()) as u64);
        }
    }

    // Text side: one call; the model packs captions by their own lengths and batches them itself.
    let mut text_fail: Vec<Option<RowFailure>> =
        tasks.iter().map(|t| t.caption.clone().err()).collect();
    let text_rows: Vec<usize> = (0..n).filter(|&r| tasks[r].caption.is_ok()).collect();
    let captions: Vec<&str> = text_rows
        .iter()
        .filter_map(|&r| tasks[r].caption.as_ref().ok().map(String::as_str))
        .collect();
    if !captions.is_empty() {
        match ctx.model.embed_texts(&captions).and_then(|e| e.to_vec2()) {
            Ok(embs) => {
                for (&r, e) in text_rows.iter().zip(embs) {
                    out[r].text_emb = Some(e);
                }
            }
            Err(e) => {
                for &r in &text_rows {
                    text_fail[r] = Some(RowFailure::new(
                        RowStatus::ModelError,
                        format!("text tower failed: {e}"),
                    ));
                }
            }
        }
    }

    let mut aes_fail: Vec<Option<RowFailure>> = vec![None; n];
    if let Some(a) = ctx.aesthetic {
        aesthetic(ctx, a, tasks, &mut out, &mut aes_fail, |r| {
            video_fail[r].is_none()
        });
    }

    for (r, o) in out.iter_mut().enumerate() {
        if let (Some(v), Some(t)) = (&o.video_emb, &o.text_emb) {
            o.sim = Some(v.iter().zip(t).map(|(a, b)| a * b).sum());
        }
        o.failure = merge([
            video_fail[r].take(),
            text_fail[r].take(),
            aes_fail[r].take(),
        ]);
    }
    Ok(out)
}

/// The row's status: its first failure (video, caption, aesthetic); distinct messages are joined.
fn merge(fails: [Option<RowFailure>; 3]) -> Option<RowFailure> {
    let fails: Vec<RowFailure> = fails.into_iter().flatten().collect();
    let first = fails.first()?.clone();
    let mut msgs: Vec<&str> = Vec::new();
    for f in &fails {
        if !msgs.contains(&f.message.as_str()) {
            msgs.push(&f.message);
        }
    }
    Some(RowFailure::new(first.kind, msgs.join("; ")))
}

/// Aesthetic scores of the rows whose clip decoded for ViCLIP. The pipeline yields model tensors, not
/// frames, so the clip is decoded a second time for its `k` uniformly sampled frames (only the GOPs
/// holding those frames are decoded); files go in chunks so memory stays bounded.
fn aesthetic(
    ctx: &Ctx,
    a: &AestheticOptions,
    tasks: &[RowTask],
    out: &mut [RowOut],
    fail: &mut [Option<RowFailure>],
    decoded: impl Fn(usize) -> bool,
) {
    let groups = groups(tasks, decoded);
    let k = a.frames.max(1);
    let opts = DecodeOptions {
        threads: 1,
        ..ctx.pipeline.decode.clone()
    };
    let mut start = 0;
    while start < groups.len() {
        // About 64 clips per chunk: 4 native-size frames each.
        let mut end = start;
        let mut clips = 0;
        while end < groups.len() && (clips < 64 || end == start) {
            clips += groups[end].1.len();
            end += 1;
        }
        let decoded: Vec<Vec<(usize, Result<Vec<RgbImage>>)>> = ctx.pool.install(|| {
            groups[start..end]
                .par_iter()
                .map(|(path, spans)| {
                    let s: Vec<ClipSpan> = spans.iter().map(|x| x.1).collect();
                    decode_clips(path, &s, FrameSampling::Uniform(k), k, &opts)
                        .into_iter()
                        .zip(spans)
                        .map(|(r, &(row, _))| (row, r.and_then(|c| to_images(c.frames))))
                        .collect()
                })
                .collect()
        });
        let flat: Vec<(usize, Result<Vec<RgbImage>>)> = decoded.into_iter().flatten().collect();
        let labels: Vec<String> = flat.iter().map(|(r, _)| format!("row {}", r)).collect();
        let ok: Vec<(usize, &str, &[RgbImage])> = flat
            .iter()
            .zip(&labels)
            .filter_map(|((r, f), l)| f.as_ref().ok().map(|f| (*r, l.as_str(), f.as_slice())))
            .collect();
        for (r, f) in &flat {
            if let Err(e) = f {
                fail[*r] = Some(RowFailure::new(
                    RowStatus::AestheticError,
                    format!("aesthetic frames: {e}"),
                ));
            }
        }
        let items: Vec<(&str, &[RgbImage])> = ok.iter().map(|x| (x.1, x.2)).collect();
        let scores = a.scorer.score_clips(&items, k, a.reduce);
        for ((r, _, _), s) in ok.iter().zip(scores) {
            match s {
                Ok(s) => out[*r].aesthetic = Some(s.score),
                Err(e) => {
                    fail[*r] = Some(RowFailure::new(
                        RowStatus::AestheticError,
                        format!("aesthetic scorer: {e}"),
                    ))
                }
            }
        }
        start = end;
    }
}

fn to_images(frames: Vec<crate::preprocess::RgbFrame>) -> Result<Vec<RgbImage>> {
    frames
        .into_iter()
        .map(|f| {
            let (w, h) = (f.width() as u32, f.height() as u32);
            RgbImage::from_raw(w, h, f.into_data()).ok_or_else(|| {
                crate::Error::InvalidInput(format!("a decoded frame of {w}x{h} has the wrong size"))
            })
        })
        .collect()
}
