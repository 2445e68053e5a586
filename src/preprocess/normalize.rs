//! ImageNet normalisation of resized u8 frames into the model's `(T, 3, S, S)` float32 layout.
//!
//! The two reference pipelines compute the same formula in different precisions: the demo
//! (`frames2tensor`) in float64 numpy, `((x / 255.0 - mean) / std)`, then casts to float32; the
//! evaluation pipeline in float32 torch (`x.float().div(255.0)`, then `Normalize(mean, std)`). The
//! output depends only on the byte value and the channel, so each is a 3 x 256 lookup table built with
//! the reference's own arithmetic: equal to the reference bit for bit, and cheaper than the arithmetic.

use super::frame::RgbFrame;

/// ImageNet channel means (R, G, B); ViCLIP uses these, not CLIP's.
pub const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (R, G, B).
pub const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// In which precision the normalisation is computed, as each reference pipeline does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// The demo's numpy float64, cast to float32 at the end.
    Float64,
    /// The evaluation pipeline's torch float32.
    Float32,
}

/// `lut[c][v]` = the normalised value of byte `v` in channel `c`.
pub(crate) fn table(precision: Precision) -> [[f32; 256]; 3] {
    let mut lut = [[0f32; 256]; 3];
    for (c, row) in lut.iter_mut().enumerate() {
        for (v, out) in row.iter_mut().enumerate() {
            *out = match precision {
                Precision::Float64 => {
                    ((v as f64 / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]) as f32
                }
                Precision::Float32 => {
                    (v as f32 / 255.0f32 - IMAGENET_MEAN[c] as f32) / IMAGENET_STD[c] as f32
                }
            };
        }
    }
    lut
}

/// Writes one `S x S` frame as three planes into `out` (`3 * S * S` values, channel-major: the
/// reference's `(H, W, 3) -> (3, H, W)` transpose).
pub(crate) fn frame_into(frame: &RgbFrame, lut: &[[f32; 256]; 3], out: &mut [f32]) {
    let plane = frame.width() * frame.height();
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in frame.data().chunks_exact(3).enumerate() {
        r[i] = lut[0][usize::from(px[0])];
        g[i] = lut[1][usize::from(px[1])];
        b[i] = lut[2][usize::from(px[2])];
    }
}
