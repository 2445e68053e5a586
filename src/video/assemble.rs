//! Handing a group's decoded frames to its clips, moving each frame to the last clip that uses it.

use std::collections::HashMap;
use std::path::Path;

use super::decode::Output;
use super::demux::Source;
use super::plan::Plan;
use super::{decode_err, ClipSpan, DecodedClip};
use crate::preprocess::{ColorInfo, RgbFrame};
use crate::Result;

/// Hands the decoded frames of a group to its clips: the last clip that uses a frame takes it, the
/// others get copies.
pub(super) struct Take<'a> {
    pub src: &'a Source,
    pub path: &'a Path,
    pub span: ClipSpan,
    pub got: &'a mut Output<i64>,
    pub uses: &'a mut HashMap<(i64, usize), usize>,
}

impl Take<'_> {
    fn frame(&mut self, pts: i64, slot: usize) -> Result<(RgbFrame, ColorInfo)> {
        let left = self.uses.get_mut(&(pts, slot)).map_or(0, |n| {
            *n = n.saturating_sub(1);
            *n
        });
        let held = self.got.frames.get_mut(&pts);
        let color = held.as_ref().map(|h| h.color);
        let frame = held.and_then(|h| match left {
            0 => h.frames[slot].take(),
            _ => h.frames[slot].clone(),
        });
        match (frame, color) {
            (Some(f), Some(c)) => Ok((f, c)),
            _ => {
                let why = self.got.error.as_deref().unwrap_or("no picture came out");
                let msg = format!(
                    "the frame at {:.3} s could not be decoded ({why}); the file may be corrupt",
                    self.src.ts_to_secs(pts)
                );
                Err(decode_err(self.path, &self.span, &msg))
            }
        }
    }

    pub fn assemble(&mut self, plan: Plan, extra_slot: usize) -> Result<DecodedClip> {
        let mut color = None;
        let mut frames = Vec::with_capacity(plan.indices.len());
        for &k in &plan.indices {
            let (f, c) = self.frame(plan.pts[k], 0)?;
            color.get_or_insert(c);
            frames.push(f);
        }
        let extra_frames = plan
            .extra
            .iter()
            .map(|&k| Ok(self.frame(plan.pts[k], extra_slot)?.0))
            .collect::<Result<_>>()?;
        let (src, got) = (self.src, &self.got);
        Ok(DecodedClip {
            past_end: plan.past_end,
            span: self.span,
            num_frames: plan.pts.len(),
            timestamps: plan
                .indices
                .iter()
                .map(|&k| src.ts_to_secs(plan.pts[k]))
                .collect(),
            color,
            frames_lost: if got.sent == 0 {
                0.0
            } else {
                got.lost.min(got.sent) as f64 / got.sent as f64
            },
            frames,
            indices: plan.indices,
            extra_frames,
            extra_indices: plan.extra,
        })
    }
}
