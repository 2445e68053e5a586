//! Text-to-video and video-to-text retrieval metrics (MSR-VTT style): recall at 1, 5 and 10 in percent,
//! median and mean rank, from a similarity matrix `[texts][videos]` and each text's video.
//!
//! Ranks are 1-based and ties are broken deterministically toward the lower index (see
//! [`super::rank_of`]): a correct item tied with another counts as ranked after it only if the other
//! has a lower index. With several captions per video, video-to-text takes the best-ranked of the
//! video's captions (as CLIP4Clip-style evaluations do); videos without a caption are an error.

use serde::Serialize;

use super::zero_shot::rank_of;
use crate::{Error, Result};

/// Recalls (percent) and rank statistics in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Recall {
    /// Recall at 1: percent of queries (0..=100) whose correct item ranks first.
    pub r1: f64,
    /// Recall at 5: percent of queries (0..=100) whose correct item ranks in the top 5.
    pub r5: f64,
    /// Recall at 10: percent of queries (0..=100) whose correct item ranks in the top 10.
    pub r10: f64,
    /// Median of the 1-based ranks (mean of the two middle ones for an even count).
    pub median_rank: f64,
    /// Mean of the 1-based ranks.
    pub mean_rank: f64,
    /// Queries evaluated.
    pub n: usize,
}

impl Recall {
    fn from_ranks(mut ranks: Vec<usize>) -> Self {
        let n = ranks.len();
        let pct =
            |k: usize| 100.0 * ranks.iter().filter(|&&r| r <= k).count() as f64 / n.max(1) as f64;
        let (r1, r5, r10) = (pct(1), pct(5), pct(10));
        ranks.sort_unstable();
        let median_rank = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => ranks[n / 2] as f64,
            _ => (ranks[n / 2 - 1] + ranks[n / 2]) as f64 / 2.0,
        };
        let mean_rank = ranks.iter().sum::<usize>() as f64 / n.max(1) as f64;
        Recall {
            r1,
            r5,
            r10,
            median_rank,
            mean_rank,
            n,
        }
    }
}

/// Both directions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetrievalMetrics {
    /// Text-to-video: each caption queries the videos for its own video.
    pub t2v: Recall,
    /// Video-to-text: each video queries the captions; its rank is that of its best-ranked caption.
    pub v2t: Recall,
}

/// Metrics for `sim[text][video]` where text `i` describes video `text_video[i]`.
pub fn retrieval_metrics(sim: &[Vec<f32>], text_video: &[usize]) -> Result<RetrievalMetrics> {
    let n_videos = sim.first().map_or(0, Vec::len);
    if sim.len() != text_video.len() || sim.is_empty() || n_videos == 0 {
        return Err(Error::InvalidInput(format!(
            "retrieval: {} similarity rows for {} captions over {n_videos} videos; need one row per caption",
            sim.len(),
            text_video.len()
        )));
    }
    if let Some((i, row)) = sim.iter().enumerate().find(|(_, r)| r.len() != n_videos) {
        return Err(Error::InvalidInput(format!(
            "retrieval: row {i} has {} columns, row 0 has {n_videos}",
            row.len()
        )));
    }
    if let Some((i, &v)) = text_video.iter().enumerate().find(|(_, &v)| v >= n_videos) {
        return Err(Error::InvalidInput(format!(
            "retrieval: caption {i} points at video {v}, there are {n_videos}"
        )));
    }
    let t2v: Vec<usize> = sim
        .iter()
        .zip(text_video)
        .map(|(row, &v)| rank_of(row, v))
        .collect();
    let mut best = vec![usize::MAX; n_videos];
    let mut column = vec![0f32; sim.len()];
    for (v, b) in best.iter_mut().enumerate() {
        for (c, row) in column.iter_mut().zip(sim) {
            *c = row[v];
        }
        for (t, _) in text_video.iter().enumerate().filter(|(_, &tv)| tv == v) {
            *b = (*b).min(rank_of(&column, t));
        }
    }
    if let Some(v) = best.iter().position(|&b| b == usize::MAX) {
        return Err(Error::InvalidInput(format!(
            "retrieval: video {v} has no caption; every video needs at least one"
        )));
    }
    Ok(RetrievalMetrics {
        t2v: Recall::from_ranks(t2v),
        v2t: Recall::from_ranks(best),
    })
}
