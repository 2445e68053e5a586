//! OpenCV's `cv2.resize(img, (W, H))` (INTER_LINEAR) on 8-bit images, bit for bit.
//!
//! OpenCV does not compute a float bilinear: it quantises the weights to 11 bits and runs the vertical
//! pass in 16-bit SIMD (`VResizeLinearVec_32s8u`). The integer recipe below is checked at 0 LSB
//! against opencv-python 5.0.0 (`tests/it/preprocess_golden.rs`); a float bilinear is off by one on ~12% of pixels, and
//! `fast_image_resize` / `image` anti-alias when downscaling, so neither can stand in for it. An exact 2x
//! downscale, which OpenCV routes to INTER_AREA, gives the same bytes through this recipe (both average
//! the 2x2 block with `+2 >> 2`).

use super::frame::RgbFrame;
use crate::{Error, Result};

/// Weights are fixed point with this many fractional bits (`INTER_RESIZE_COEF_BITS`).
const COEF_SCALE: f32 = 2048.0;

/// The two source positions and weights of every output column (or row).
struct Taps {
    lo: Vec<usize>,
    hi: Vec<usize>,
    w0: Vec<i32>,
    w1: Vec<i32>,
}

/// OpenCV's coefficient table (`resize()` in imgproc/src/resize.cpp): the source coordinate is computed
/// in double and truncated to float, the fraction quantised with `saturate_cast<short>` (round half to
/// even). Columns reset out-of-range positions to the border with weight 0; rows only clamp the index.
fn taps(src: usize, dst: usize, columns: bool) -> Taps {
    // `scale = 1. / inv_scale` with `inv_scale = (double)dst / src`, in this order, as OpenCV does.
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    let mut t = Taps {
        lo: Vec::with_capacity(dst),
        hi: Vec::with_capacity(dst),
        w0: Vec::with_capacity(dst),
        w1: Vec::with_capacity(dst),
    };
    for d in 0..dst {
        let fx = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let fl = fx.floor();
        let mut sx = fl as i64;
        let mut f = fx - fl;
        if columns {
            if sx < 0 {
                (f, sx) = (0.0, 0);
            }
            if sx >= last {
                (f, sx) = (0.0, last);
            }
        }
        t.lo.push(sx.clamp(0, last) as usize);
        t.hi.push((sx + 1).clamp(0, last) as usize);
        t.w0.push(((1.0 - f) * COEF_SCALE).round_ties_even() as i32);
        t.w1.push((f * COEF_SCALE).round_ties_even() as i32);
    }
    t
}

/// The horizontal pass of one source row: `h = s[lo]·a0 + s[hi]·a1` per channel, scale 2048.
fn horizontal(row: &[u8], cols: &Taps, out: &mut [i32]) {
    for (dx, o) in out.chunks_exact_mut(3).enumerate() {
        let (l, h) = (cols.lo[dx] * 3, cols.hi[dx] * 3);
        let (a0, a1) = (cols.w0[dx], cols.w1[dx]);
        for c in 0..3 {
            o[c] = i32::from(row[l + c]) * a0 + i32::from(row[h + c]) * a1;
        }
    }
}

/// The vertical pass as `VResizeLinearVec_32s8u` computes it: `(h >> 4)` times the row weight keeping the
/// high 16 bits (`_mm_mulhi_epi16`), summed, rounded with `+2 >> 2`, saturated to u8. Written as a plain
/// slice loop so the compiler vectorises it.
fn vertical(h0: &[i32], h1: &[i32], b0: i32, b1: i32, out: &mut [u8]) {
    for ((o, &x0), &x1) in out.iter_mut().zip(h0).zip(h1) {
        let v = (((x0 >> 4) * b0) >> 16) + (((x1 >> 4) * b1) >> 16);
        *o = ((v + 2) >> 2).clamp(0, 255) as u8;
    }
}

/// `cv2.resize(src, (dst_w, dst_h))` with the default INTER_LINEAR, for RGB u8 frames. Aspect ratio is
/// not kept (the reference resizes straight to the square model input).
pub fn resize_cv2_linear(src: &RgbFrame, dst_w: usize, dst_h: usize) -> Result<RgbFrame> {
    if dst_w == 0 || dst_h == 0 {
        return Err(Error::InvalidInput(format!(
            "resize target {dst_w}x{dst_h} must be at least 1x1"
        )));
    }
    if (src.width(), src.height()) == (dst_w, dst_h) {
        // OpenCV copies; the recipe would give the same bytes, only slower.
        return Ok(src.clone());
    }
    let cols = taps(src.width(), dst_w, true);
    let rows = taps(src.height(), dst_h, false);
    let n = dst_w * 3;
    let mut out = vec![0u8; dst_h * n];
    // Output rows read source rows in increasing order, two at a time: keep the last two horizontal
    // passes instead of recomputing them (OpenCV does the same with its ring of row buffers).
    let mut cache: [(usize, Vec<i32>); 2] = [(usize::MAX, vec![0; n]), (usize::MAX, vec![0; n])];
    for (dy, o) in out.chunks_exact_mut(n).enumerate() {
        let (r0, r1) = (rows.lo[dy], rows.hi[dy]);
        let holds_r1 = cache.iter().position(|(row, _)| *row == r1);
        let s0 = slot(&mut cache, r0, holds_r1.unwrap_or(usize::MAX), src, &cols);
        let s1 = slot(&mut cache, r1, s0, src, &cols);
        vertical(&cache[s0].1, &cache[s1].1, rows.w0[dy], rows.w1[dy], o);
    }
    RgbFrame::new(dst_w, dst_h, out)
}

/// The cache slot holding the horizontal pass of source row `r`, computing it if absent without
/// evicting slot `keep`.
fn slot(
    cache: &mut [(usize, Vec<i32>); 2],
    r: usize,
    keep: usize,
    src: &RgbFrame,
    cols: &Taps,
) -> usize {
    if let Some(i) = cache.iter().position(|(row, _)| *row == r) {
        return i;
    }
    let i = if keep == 0 { 1 } else { 0 };
    horizontal(src.row(r), cols, &mut cache[i].1);
    cache[i].0 = r;
    i
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_constant_images() {
        let f = RgbFrame::new(3, 2, (0..18).collect()).unwrap();
        assert_eq!(resize_cv2_linear(&f, 3, 2).unwrap(), f);
        let c = RgbFrame::new(5, 7, vec![200; 5 * 7 * 3]).unwrap();
        let r = resize_cv2_linear(&c, 11, 3).unwrap();
        assert!(r.data().iter().all(|&v| v == 200));
    }

    #[test]
    fn exact_halving_averages_blocks() {
        // 2x2 -> 1x1: (10 + 20 + 30 + 41 + 2) >> 2 = 25 (OpenCV's INTER_AREA shortcut gives the same).
        let f = RgbFrame::new(
            2,
            2,
            [10, 20, 30, 41].iter().flat_map(|&v| [v; 3]).collect(),
        )
        .unwrap();
        assert_eq!(resize_cv2_linear(&f, 1, 1).unwrap().data(), &[25, 25, 25]);
    }
}
