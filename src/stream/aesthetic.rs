//! The aesthetic column of the streaming scorer, from the frames the pipeline handed over.

use super::missing;
use crate::aesthetic::{AestheticScorer, Reduce};
use crate::pipeline::ClipInfo;
use crate::preprocess::RgbFrame;
use crate::{Error, Result};

/// Aesthetic scores of a batch's clips from their extra frames, one per clip of `clips`.
pub(super) fn score_aesthetic(
    (scorer, k, reduce): (&AestheticScorer, usize, Reduce),
    clips: &[ClipInfo],
    extra: &[Vec<RgbFrame>],
) -> Vec<Result<f32>> {
    let labels: Vec<String> = clips
        .iter()
        .map(|c| format!("{}, {}", c.source.display(), c.span))
        .collect();
    let empty: &[RgbFrame] = &[];
    let items: Vec<(&str, &[RgbFrame])> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), extra.get(i).map_or(empty, Vec::as_slice)))
        .collect();
    let mut scores = scorer.score_clips(&items, k, reduce).into_iter();
    clips
        .iter()
        .zip(&labels)
        .map(|(c, label)| match scores.next() {
            // The pipeline hands over no frames for a clip shorter than `k`: say how long it was.
            Some(Err(Error::TooFewFrames { needed, .. })) => Err(Error::TooFewFrames {
                clip: label.clone(),
                needed,
                got: c.num_source_frames,
            }),
            Some(r) => r.map(|s| s.score),
            None => Err(missing(c)),
        })
        .collect()
}
