//! The evaluation pipeline's `transforms.Resize((S, S), interpolation=BICUBIC)` on uint8 video tensors
//! (`TR/dataset/__init__.py` L63-70), as torchvision < 0.17 runs it: the frames are cast to float32,
//! `torch.nn.functional.interpolate(mode='bicubic', align_corners=False, antialias=False)` (Keys cubic,
//! a = -0.75, border indices clamped), clamped to [0, 255], rounded half to even and cast back to u8.
//!
//! Why no anti-aliasing: tensors were resized without it until torchvision 0.17 (2024) made
//! `antialias=True` the default, and the ViCLIP evaluation code predates that. The float operations
//! follow torch's CPU kernel in order (horizontal 4-tap sums per source row, then the vertical 4-tap sum,
//! each left to right), so results equal torch's except where a compiler fused multiply-adds differently
//! and a value sits on a .5 rounding boundary (rare, one LSB). No golden data exist for this path.

use super::frame::RgbFrame;
use crate::{Error, Result};

/// Keys' cubic convolution parameter used by PyTorch (`get_cubic_upsample_coefficients`).
const A: f32 = -0.75;

fn conv1(x: f32) -> f32 {
    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
}

fn conv2(x: f32) -> f32 {
    ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
}

/// Four clamped source indices and weights per output position (`HelperInterpCubic`).
fn taps(src: usize, dst: usize) -> (Vec<[usize; 4]>, Vec<[f32; 4]>) {
    // `area_pixel_compute_scale` without an explicit scale factor: input / output in float.
    let scale = src as f32 / dst as f32;
    let last = src as i64 - 1;
    let mut idx = Vec::with_capacity(dst);
    let mut wts = Vec::with_capacity(dst);
    for d in 0..dst {
        // `area_pixel_compute_source_index(.., cubic=true)`: no clamp at 0 for cubic.
        let real = scale * (d as f32 + 0.5) - 0.5;
        // `guard_index_and_lambda`.
        let i = (real.floor() as i64).min(last);
        let t = (real - i as f32).clamp(0.0, 1.0);
        // `x2 = 1 - t; coeffs[3] = conv2(x2 + 1)`: kept in two roundings like torch, not `2 - t`.
        let x2 = 1.0 - t;
        wts.push([conv2(t + 1.0), conv1(t), conv1(x2), conv2(x2 + 1.0)]);
        idx.push([0, 1, 2, 3].map(|j| (i - 1 + j).clamp(0, last) as usize));
    }
    (idx, wts)
}

/// Bicubic resize of an RGB u8 frame to `dst_w x dst_h`, torchvision (< 0.17) tensor semantics: no
/// anti-aliasing, aspect ratio not kept.
pub fn resize_bicubic(src: &RgbFrame, dst_w: usize, dst_h: usize) -> Result<RgbFrame> {
    if dst_w == 0 || dst_h == 0 {
        return Err(Error::InvalidInput(format!(
            "resize target {dst_w}x{dst_h} must be at least 1x1"
        )));
    }
    let (cx, wx) = taps(src.width(), dst_w);
    let (cy, wy) = taps(src.height(), dst_h);
    let n = dst_w * 3;
    // Horizontal pass over the source rows the output needs (all of them when downscaling).
    let (y0, y1) = match (cy.first(), cy.last()) {
        (Some(a), Some(b)) => (a[0], b[3]),
        _ => (0, 0),
    };
    let mut h = vec![0f32; (y1 - y0 + 1) * n];
    for (y, hrow) in (y0..=y1).zip(h.chunks_exact_mut(n)) {
        let row = src.row(y);
        for ((o, ix), w) in hrow.chunks_exact_mut(3).zip(&cx).zip(&wx) {
            for c in 0..3 {
                let px = |k: usize| f32::from(row[ix[k] * 3 + c]);
                o[c] = px(0) * w[0] + px(1) * w[1] + px(2) * w[2] + px(3) * w[3];
            }
        }
    }
    let mut out = vec![0u8; dst_h * n];
    for ((o, iy), w) in out.chunks_exact_mut(n).zip(&cy).zip(&wy) {
        let r = iy.map(|y| &h[(y - y0) * n..(y - y0 + 1) * n]);
        for (i, v) in o.iter_mut().enumerate() {
            let s = r[0][i] * w[0] + r[1][i] * w[1] + r[2][i] * w[2] + r[3][i] * w[3];
            *v = s.clamp(0.0, 255.0).round_ties_even() as u8;
        }
    }
    RgbFrame::new(dst_w, dst_h, out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_constant_images_stay() {
        let (_, w) = taps(720, 224);
        for q in w {
            assert!((q.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let c = RgbFrame::new(9, 4, vec![77; 9 * 4 * 3]).unwrap();
        assert!(resize_bicubic(&c, 5, 13)
            .unwrap()
            .data()
            .iter()
            .all(|&v| v == 77));
    }

    #[test]
    fn same_size_is_identity() {
        let f = RgbFrame::new(4, 3, (0..36).map(|v| (v * 7) as u8).collect()).unwrap();
        assert_eq!(resize_bicubic(&f, 4, 3).unwrap(), f);
    }
}
