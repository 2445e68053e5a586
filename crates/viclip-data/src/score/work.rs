//! Scoring the rows of one shard: clips through the decode pipeline and the video tower, captions
//! through the text tower, cosine per row, and optionally the aesthetic score.
//!
//! Determinism: the shard's good clips go to the model in row order (grouped by file, files in order
//! of first appearance) in batches of `batch_size`, so a batch's composition depends only on the
//! shard's rows, and a rerun after a crash computes the same values bit for bit.

use std::collections::HashMap;
use std::path::PathBuf;

use super::options::AestheticOptions;
use super::shard_rows::{RowFailure, RowStatus, RowTask};
use crate::Result;
use viclip::engine::{AestheticRule, ClipEngine, ClipResult, EngineOptions};
use viclip::pipeline::{ClipSource, PipelineOptions};
use viclip::video::ClipSpan;
use viclip::ViClip;

/// What the job computed for one row.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowOut {
    pub failure: Option<RowFailure>,
    pub sim: Option<f32>,
    pub aesthetic: Option<f32>,
    pub frames: Option<Vec<i32>>,
    /// The clip's colour conversion, e.g. `bt709 limited 8-bit rot0` (`video_color`).
    pub color: Option<String>,
    /// A decode warning (`warning`), e.g. the share of frames lost to damage.
    pub warning: Option<String>,
    pub video_emb: Option<Vec<f32>>,
    pub text_emb: Option<Vec<f32>>,
}

pub(crate) struct Ctx<'a> {
    pub model: &'a ViClip,
    pub pipeline: PipelineOptions,
    pub aesthetic: Option<&'a AestheticOptions>,
    pub pool: &'a rayon::ThreadPool,
    /// Set to stop between two batches ([`viclip::Error::Interrupted`]).
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
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
    let mut aes_fail: Vec<Option<RowFailure>> = vec![None; n];

    // Video side: every file decoded once for all its spans in this shard; with the aesthetic column
    // the same decode also hands over each clip's uniformly sampled frames for the CLIP tower.
    let groups = groups(tasks, |_| true);
    let clip_rows: Vec<usize> = groups
        .iter()
        .flat_map(|g| g.1.iter().map(|c| c.0))
        .collect();
    let sources: Vec<ClipSource> = groups
        .iter()
        .map(|(p, spans)| ClipSource::Video {
            path: p.clone(),
            spans: spans.iter().map(|s| s.1).collect(),
        })
        .collect();
    if !clip_rows.is_empty() {
        let rule = ctx.aesthetic.map(|a| AestheticRule {
            scorer: &a.scorer,
            frames: a.frames.max(1),
            reduce: a.reduce,
        });
        // The aesthetic scorer's parallel parts on the job's pool, so they use its thread count.
        let opts = EngineOptions::new(ctx.pipeline.clone())
            .with_aesthetic(rule)
            .with_cancel(ctx.cancel.clone())
            .with_pool(ctx.pool);
        for result in ClipEngine::start(ctx.model, sources, opts)? {
            let ClipResult {
                clip_index,
                outcome,
                ..
            } = result?;
            on_clips(1);
            let Some(&r) = clip_rows.get(clip_index) else {
                continue;
            };
            match outcome {
                Err(e) => video_fail[r] = Some(clip_failure(&e)),
                Ok(c) => {
                    out[r].video_emb = Some(c.embedding);
                    out[r].frames = Some(c.info.frame_indices.iter().map(|&i| i as i32).collect());
                    out[r].color = c.info.color.as_ref().map(|c| c.to_string());
                    out[r].warning = c.info.warning.clone();
                    match c.aesthetic {
                        Some(Ok(s)) => out[r].aesthetic = Some(s.score),
                        Some(Err(e)) => aes_fail[r] = Some(aesthetic_failure(r, e)),
                        None => {}
                    }
                }
            }
        }
    }

    let mut text_fail = embed_captions(ctx.model, tasks, &mut out);
    for (r, o) in out.iter_mut().enumerate() {
        if let (Some(v), Some(t)) = (&o.video_emb, &o.text_emb) {
            o.sim = Some(viclip::clip_sim(v, t));
        }
        o.failure = merge([
            video_fail[r].take(),
            text_fail[r].take(),
            aes_fail[r].take(),
        ]);
    }
    Ok(out)
}

/// Text side: every caption of the shard in one call (the model packs captions by their own
/// lengths and batches them itself), into `out[r].text_emb`; returns each row's caption failure.
fn embed_captions(
    model: &ViClip,
    tasks: &[RowTask],
    out: &mut [RowOut],
) -> Vec<Option<RowFailure>> {
    let mut text_fail: Vec<Option<RowFailure>> =
        tasks.iter().map(|t| t.caption.clone().err()).collect();
    let text_rows: Vec<usize> = (0..tasks.len())
        .filter(|&r| tasks[r].caption.is_ok())
        .collect();
    let captions: Vec<&str> = text_rows
        .iter()
        .filter_map(|&r| tasks[r].caption.as_ref().ok().map(String::as_str))
        .collect();
    if captions.is_empty() {
        return text_fail;
    }
    match model.embed_texts(&captions).and_then(|e| e.to_vec2()) {
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
    text_fail
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

/// A clip's failure as its row's: the model failing on its batch is `model_error`, the clip's own
/// decode, span or sampling error its status.
fn clip_failure(e: &viclip::Error) -> RowFailure {
    let kind = match e {
        viclip::Error::Candle(_) => RowStatus::ModelError,
        e => RowStatus::of_error(e),
    };
    RowFailure::new(kind, e.to_string())
}

/// Why row `r` has no aesthetic score: too few frames (named by row, as the row's other messages
/// are), or the scorer's error.
fn aesthetic_failure(r: usize, e: viclip::Error) -> RowFailure {
    let msg = match e {
        viclip::Error::TooFewFrames { needed, got, .. } => format!(
            "aesthetic frames: {}",
            viclip::Error::TooFewFrames {
                clip: format!("row {r}"),
                needed,
                got,
            }
        ),
        e => format!("aesthetic scorer: {e}"),
    };
    RowFailure::new(RowStatus::AestheticError, msg)
}
