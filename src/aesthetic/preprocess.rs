//! OpenAI CLIP image preprocessing, `clip._transform(n_px)` on a PIL image (docs/reference/preprocessing.md §3.2), bit-exact:
//!
//! 1. shortest side → `n_px`, long side → `int(n_px · long / short)` (truncation; torchvision `Resize`);
//! 2. Pillow's 8-bit BICUBIC resample (`libImaging/Resample.c`): separable, horizontal pass first, Keys
//!    cubic a = −0.5 with its support widened by the downscale factor (antialiasing), 22-bit fixed-point
//!    taps, each pass rounding and clamping to u8;
//! 3. `CenterCrop(n_px)` with Python's round-half-to-even offsets;
//! 4. `ToTensor` + `Normalize` in f32: `(x / 255 − mean) / std`, CHW.
//!
//! Only the pixels inside the crop window are resampled: every output pixel of a pass depends only on its
//! own taps, so this equals resizing the whole image and cropping, at a fraction of the work (and with
//! bounded memory for extreme aspect ratios).
//!
//! Known gaps to the reference, all outside decoded 8-bit RGB: Pillow resizes palette (`P`) images with
//! NEAREST and RGBA images premultiplied before `convert('RGB')`; here every image is first decoded to
//! 8-bit RGB (alpha dropped, palette expanded). JPEG decoders may differ from libjpeg by ±1 in places.

use candle_core::{Device, Tensor};
use rayon::prelude::*;

use crate::preprocess::RgbFrame;
use crate::{Error, Result};

// The digits are the reference's (clip/clip.py), kept verbatim; torch rounds them to f32 just as these do.
/// CLIP's per-channel normalisation mean (RGB).
#[allow(clippy::excessive_precision)]
pub const CLIP_MEAN: [f32; 3] = [0.48145466, 0.4578275, 0.40821073];
/// CLIP's per-channel normalisation standard deviation (RGB).
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.26862954, 0.26130258, 0.27577711];

/// Pillow's `PRECISION_BITS` for 8-bit images: 32 − 8 − 2.
const PRECISION_BITS: u32 = 22;

/// Refuses resampling windows whose intermediate buffer would exceed this many bytes (a garbage input,
/// not a photo).
const MAX_INTERMEDIATE_BYTES: usize = 1 << 30;

/// Size after torchvision's `Resize(n_px)` of a `w × h` image: the short side becomes `n_px`, the long
/// side `int(n_px · long / short)` (truncated, as torchvision does).
pub fn resized_size(w: u32, h: u32, n_px: u32) -> (u32, u32) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    // Python: int(size * long / short); the product is exact, the division correctly rounded.
    let new_long = ((n_px as f64 * long as f64) / short.max(1) as f64) as u32;
    if w <= h {
        (n_px, new_long)
    } else {
        (new_long, n_px)
    }
}

/// torchvision `CenterCrop` offsets `(top, left)` of an `n_px` square in a `w × h` image:
/// `int(round((d − n_px) / 2))` with Python's round-half-to-even.
pub fn center_crop_offsets(w: u32, h: u32, n_px: u32) -> (u32, u32) {
    let half_even = |d: u32| {
        let k = d / 2;
        // d odd: the exact offset is k + 0.5, which rounds to the even neighbour.
        if d % 2 == 1 && k % 2 == 1 {
            k + 1
        } else {
            k
        }
    };
    (
        half_even(h.saturating_sub(n_px)),
        half_even(w.saturating_sub(n_px)),
    )
}

/// Pillow's `bicubic_filter` (Keys cubic, a = −0.5).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// One resampling pass's fixed-point taps for outputs `first .. first + count` of `in_size → out_size`.
struct Taps {
    /// Per output: first input index and number of taps.
    bounds: Vec<(usize, usize)>,
    ksize: usize,
    coeffs: Vec<i32>,
}

impl Taps {
    /// `precompute_coeffs` + `normalize_coeffs_8bpc` of Pillow, term for term (same double arithmetic,
    /// multiplication by `1 / filterscale`, round-half-away-from-zero to 22 bits).
    fn new(in_size: usize, out_size: usize, first: usize, count: usize) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = 2.0 * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(count);
        let mut coeffs = vec![0i32; count * ksize];
        let mut w = vec![0f64; ksize];
        for (o, xx) in (first..first + count).enumerate() {
            let center = (xx as f64 + 0.5) * scale;
            // C `(int)` truncates toward zero, like `as`.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin).min(ksize);
            let mut ww = 0.0;
            for (x, wx) in w.iter_mut().enumerate().take(n) {
                *wx = bicubic(((x + xmin) as f64 - center + 0.5) * ss);
                ww += *wx;
            }
            let k = &mut coeffs[o * ksize..o * ksize + n];
            for (kx, &wx) in k.iter_mut().zip(&w) {
                let v = if ww != 0.0 { wx / ww } else { wx };
                let f = v * (1u32 << PRECISION_BITS) as f64;
                *kx = if v < 0.0 {
                    (f - 0.5) as i32
                } else {
                    (f + 0.5) as i32
                };
            }
            bounds.push((xmin, n));
        }
        Self {
            bounds,
            ksize,
            coeffs,
        }
    }

    /// Input range `[lo, hi)` the taps read.
    fn span(&self) -> (usize, usize) {
        let lo = self.bounds.iter().map(|b| b.0).min().unwrap_or(0);
        let hi = self.bounds.iter().map(|b| b.0 + b.1).max().unwrap_or(0);
        (lo, hi)
    }
}

/// Pillow's `clip8`: rounded (the 2^21 start value) fixed-point sum → u8.
#[inline]
fn clip8(acc: i64) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Horizontal pass over rows `rows` of `src` (HWC RGB, width `src_w`) → `rows.len() × taps.len()` RGB.
fn horizontal(src: &[u8], src_w: usize, rows: (usize, usize), taps: &Taps) -> Vec<u8> {
    let out_w = taps.bounds.len();
    let mut out = vec![0u8; (rows.1 - rows.0) * out_w * 3];
    for (r, y) in (rows.0..rows.1).enumerate() {
        let line = &src[y * src_w * 3..(y + 1) * src_w * 3];
        for (xx, &(xmin, n)) in taps.bounds.iter().enumerate() {
            let k = &taps.coeffs[xx * taps.ksize..xx * taps.ksize + n];
            let mut acc = [1i64 << (PRECISION_BITS - 1); 3];
            for (x, &kx) in k.iter().enumerate() {
                let p = &line[(xmin + x) * 3..(xmin + x) * 3 + 3];
                for c in 0..3 {
                    acc[c] += p[c] as i64 * kx as i64;
                }
            }
            let o = (r * out_w + xx) * 3;
            for c in 0..3 {
                out[o + c] = clip8(acc[c]);
            }
        }
    }
    out
}

/// Vertical pass: `src` (HWC RGB, width `w`, its first row being input row `row0`) → `taps.len() × w`.
fn vertical(src: &[u8], w: usize, row0: usize, taps: &Taps) -> Vec<u8> {
    let out_h = taps.bounds.len();
    let mut out = vec![0u8; out_h * w * 3];
    for (yy, &(ymin, n)) in taps.bounds.iter().enumerate() {
        let k = &taps.coeffs[yy * taps.ksize..yy * taps.ksize + n];
        for x in 0..w * 3 {
            let mut acc = 1i64 << (PRECISION_BITS - 1);
            for (y, &ky) in k.iter().enumerate() {
                acc += src[(ymin - row0 + y) * w * 3 + x] as i64 * ky as i64;
            }
            out[yy * w * 3 + x] = clip8(acc);
        }
    }
    out
}

/// The window `(left, top, width, height)` of Pillow's `img.resize((out_w, out_h), BICUBIC)`, computed
/// without resampling the rest of the image. Equals resizing then cropping, byte for byte.
pub fn resize_bicubic_window(
    img: &RgbFrame,
    out_w: u32,
    out_h: u32,
    window: (u32, u32, u32, u32),
) -> Result<RgbFrame> {
    let (in_w, in_h) = (img.width(), img.height());
    let (left, top, cw, ch) = (
        window.0 as usize,
        window.1 as usize,
        window.2 as usize,
        window.3 as usize,
    );
    if in_w == 0 || in_h == 0 || out_w == 0 || out_h == 0 {
        return Err(Error::InvalidInput(format!(
            "cannot resize a {in_w}x{in_h} image to {out_w}x{out_h}: empty image"
        )));
    }
    if left + cw > out_w as usize || top + ch > out_h as usize {
        return Err(Error::InvalidInput(format!(
            "window {cw}x{ch}+{left}+{top} lies outside the {out_w}x{out_h} resized image"
        )));
    }
    let src = img.data();
    let need_h = out_w as usize != in_w;
    let need_v = out_h as usize != in_h;
    let vtaps = need_v.then(|| Taps::new(in_h, out_h as usize, top, ch));
    // Rows of the input the vertical pass reads (all of the window's rows when there is none).
    let (row_lo, row_hi) = vtaps.as_ref().map_or((top, top + ch), Taps::span);
    let out_cols = if need_h { cw } else { in_w };
    if (row_hi - row_lo).saturating_mul(out_cols).saturating_mul(3) > MAX_INTERMEDIATE_BYTES {
        return Err(Error::InvalidInput(format!(
            "resizing a {in_w}x{in_h} image to {out_w}x{out_h} needs too large a buffer; \
             the aspect ratio is too extreme for CLIP preprocessing"
        )));
    }
    // Pillow runs the horizontal pass first, on the rows the vertical pass needs.
    let (mid, mid_w) = if need_h {
        let htaps = Taps::new(in_w, out_w as usize, left, cw);
        (horizontal(src, in_w, (row_lo, row_hi), &htaps), cw)
    } else {
        let rows = &src[row_lo * in_w * 3..row_hi * in_w * 3];
        (rows.to_vec(), in_w)
    };
    let col0 = if need_h { 0 } else { left };
    let out = match &vtaps {
        Some(t) => vertical(&mid, mid_w, row_lo, t),
        None => mid,
    };
    // Cut the window's columns out when no horizontal pass narrowed the rows already.
    let out = if col0 == 0 && mid_w == cw {
        out
    } else {
        out.chunks_exact(mid_w * 3)
            .flat_map(|row| row[col0 * 3..(col0 + cw) * 3].iter().copied())
            .collect()
    };
    RgbFrame::new(cw, ch, out)
}

/// Pillow's `img.resize((w, h), Image.BICUBIC)` of an 8-bit RGB image, byte for byte.
pub fn resize_bicubic(img: &RgbFrame, w: u32, h: u32) -> Result<RgbFrame> {
    resize_bicubic_window(img, w, h, (0, 0, w, h))
}

/// `Resize(n_px, BICUBIC)` + `CenterCrop(n_px)` on the PIL image: the `n_px × n_px` u8 crop.
pub fn clip_resize_crop(img: &RgbFrame, n_px: u32) -> Result<RgbFrame> {
    let (w, h) = resized_size(dim_u32(img.width())?, dim_u32(img.height())?, n_px);
    let (top, left) = center_crop_offsets(w, h, n_px);
    resize_bicubic_window(img, w, h, (left, top, n_px, n_px))
}

/// `ToTensor` + `Normalize(CLIP_MEAN, CLIP_STD)`: `((x / 255) − mean) / std` in f32, each step rounded as
/// torch does (true division, not multiplication by a reciprocal).
///
/// # Shapes
/// `img` `H × W` RGB → `[3 · H · W]` (CHW, row-major).
pub fn to_pixel_values(img: &RgbFrame) -> Vec<f32> {
    let (w, h) = (img.width(), img.height());
    let mut out = vec![0f32; 3 * w * h];
    for (i, p) in img.data().chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * w * h + i] = (p[c] as f32 / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c];
        }
    }
    out
}

/// The whole CLIP transform of one image at `n_px`.
///
/// # Shapes
/// → `[3 · n_px · n_px]` f32, CHW.
pub fn clip_preprocess(img: &RgbFrame, n_px: u32) -> Result<Vec<f32>> {
    Ok(to_pixel_values(&clip_resize_crop(img, n_px)?))
}

/// The CLIP transform of a batch (images in parallel), stacked on `device`.
///
/// # Shapes
/// `images` (any sizes) → `[B, 3, n_px, n_px]` f32.
pub fn clip_pixel_values(images: &[RgbFrame], n_px: u32, device: &Device) -> Result<Tensor> {
    let rows: Vec<Vec<f32>> = images
        .par_iter()
        .map(|img| clip_preprocess(img, n_px))
        .collect::<Result<_>>()?;
    let n = n_px as usize;
    let flat: Vec<f32> = rows.into_iter().flatten().collect();
    Ok(Tensor::from_vec(flat, (images.len(), 3, n, n), device)?)
}

/// A frame side as the `u32` Pillow's sizes are; a frame wider than that cannot come from any decoder.
fn dim_u32(d: usize) -> Result<u32> {
    u32::try_from(d).map_err(|_| {
        Error::InvalidInput(format!(
            "a frame side of {d} pixels is too large for CLIP preprocessing"
        ))
    })
}
