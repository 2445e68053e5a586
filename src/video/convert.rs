//! Decoded frames to packed RGB24 the way each reference reader converts them, and the display-matrix
//! rotation both apply.
//!
//! swscale is driven directly (allocate, set options, init, `sws_setColorspaceDetails`) rather than
//! through `ffmpeg_next::software::scaling`, which cannot set the chroma siting or the colour matrix:
//! exactness needs the same calls FFmpeg's `scale` filter makes, with the frame's own tags.

use std::ffi::CString;

use ff::ffi;
use ffmpeg_next as ff;

use crate::preprocess::{ColorInfo, ColorMatrix, RgbConversion, RgbFrame};

/// The conversion settings that depend on a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    fmt: ffi::AVPixelFormat,
    w: i32,
    h: i32,
    space: i32,
    full: bool,
    /// swscale `src_h_chr_pos` / `src_v_chr_pos` (1/256 luma sample), or -513 for its default.
    chroma: (i64, i64),
}

/// A cached swscale context for one [`Key`].
struct Sws {
    key: Key,
    ctx: *mut ffi::SwsContext,
}

impl Drop for Sws {
    fn drop(&mut self) {
        // SAFETY: `ctx` came from `sws_alloc_context` and is freed once, here.
        unsafe { ffi::sws_freeContext(self.ctx) }
    }
}

// SAFETY: the context is owned by one `Converter` and only used through `&mut self`.
unsafe impl Send for Sws {}

/// Converts frames to RGB24, rebuilding the swscale context when a frame's format, size or tags change
/// (a stream may switch them mid-way).
pub(crate) struct Converter {
    mode: RgbConversion,
    sws: Option<Sws>,
}

/// The matrix swscale uses for an `AVColorSpace` value: FFmpeg's `scale` filter (`in_color_matrix=auto`)
/// falls back to BT.601 for everything it does not know, as `sws_getCoefficients` does.
fn matrix_of(space: ffi::AVColorSpace) -> (ColorMatrix, i32) {
    use ffi::AVColorSpace as S;
    match space {
        S::AVCOL_SPC_BT709 => (ColorMatrix::Bt709, ffi::SWS_CS_ITU709),
        S::AVCOL_SPC_FCC => (ColorMatrix::Fcc, ffi::SWS_CS_FCC),
        S::AVCOL_SPC_SMPTE240M => (ColorMatrix::Smpte240m, ffi::SWS_CS_SMPTE240M),
        S::AVCOL_SPC_BT2020_NCL | S::AVCOL_SPC_BT2020_CL => {
            (ColorMatrix::Bt2020, ffi::SWS_CS_BT2020)
        }
        _ => (ColorMatrix::Bt601, ffi::SWS_CS_ITU601),
    }
}

/// Chroma sample position in swscale's units for OpenCV's FFmpeg 8, which takes it from the frame;
/// `(-513, -513)` leaves swscale's default (what FFmpeg <= 5.1 and so decord use).
fn chroma_pos(loc: ffi::AVChromaLocation) -> (i64, i64) {
    use ffi::AVChromaLocation as L;
    match loc {
        L::AVCHROMA_LOC_LEFT => (0, 128),
        L::AVCHROMA_LOC_CENTER => (128, 128),
        L::AVCHROMA_LOC_TOPLEFT => (0, 0),
        L::AVCHROMA_LOC_TOP => (128, 0),
        L::AVCHROMA_LOC_BOTTOMLEFT => (0, 256),
        L::AVCHROMA_LOC_BOTTOM => (128, 256),
        _ => (-513, -513),
    }
}

fn is_yuv(fmt: ffi::AVPixelFormat) -> bool {
    // SAFETY: returns a static descriptor or null.
    let d = unsafe { ffi::av_pix_fmt_desc_get(fmt) };
    if d.is_null() {
        return false;
    }
    // SAFETY: non-null static descriptor.
    let d = unsafe { &*d };
    let rgb = d.flags & ffi::AV_PIX_FMT_FLAG_RGB as u64 != 0;
    !rgb && d.nb_components >= 3
}

fn bit_depth(fmt: ffi::AVPixelFormat) -> u8 {
    // SAFETY: returns a static descriptor or null.
    let d = unsafe { ffi::av_pix_fmt_desc_get(fmt) };
    if d.is_null() {
        return 8;
    }
    // SAFETY: non-null static descriptor.
    unsafe { (*d).comp[0].depth as u8 }
}

/// The `yuvj*` formats are full range whatever the frame's tag says (swscale treats them so).
fn is_jpeg_format(fmt: ffi::AVPixelFormat) -> bool {
    use ffi::AVPixelFormat as P;
    matches!(
        fmt,
        P::AV_PIX_FMT_YUVJ420P
            | P::AV_PIX_FMT_YUVJ422P
            | P::AV_PIX_FMT_YUVJ444P
            | P::AV_PIX_FMT_YUVJ440P
            | P::AV_PIX_FMT_YUVJ411P
    )
}

impl Converter {
    pub fn new(mode: RgbConversion) -> Self {
        Converter { mode, sws: None }
    }

    /// The colour facts of a decoded frame (matrix, range, depth), rotation left 0.
    pub fn info(frame: &ff::frame::Video) -> ColorInfo {
        // SAFETY: a decoded frame's pointer is valid for reading its fields.
        let f = unsafe { &*frame.as_ptr() };
        let fmt: ffi::AVPixelFormat = frame.format().into();
        let yuv = is_yuv(fmt);
        ColorInfo {
            matrix: if yuv {
                matrix_of(f.colorspace).0
            } else {
                ColorMatrix::None
            },
            full_range: f.color_range == ffi::AVColorRange::AVCOL_RANGE_JPEG
                || is_jpeg_format(fmt)
                || !yuv,
            rotation: 0,
            bit_depth: bit_depth(fmt),
        }
    }

    /// Converts `frame` to packed RGB24 at its own size.
    pub fn convert(&mut self, frame: &ff::frame::Video) -> Result<RgbFrame, String> {
        // SAFETY: as in `info`.
        let f = unsafe { &*frame.as_ptr() };
        if f.width <= 0 || f.height <= 0 || f.format < 0 {
            return Err(format!(
                "the decoder returned an empty frame ({}x{})",
                f.width, f.height
            ));
        }
        let fmt: ffi::AVPixelFormat = frame.format().into();
        let key = Key {
            fmt,
            w: f.width,
            h: f.height,
            space: matrix_of(f.colorspace).1,
            full: f.color_range == ffi::AVColorRange::AVCOL_RANGE_JPEG || is_jpeg_format(fmt),
            chroma: match self.mode {
                RgbConversion::OpenCv => chroma_pos(f.chroma_location),
                RgbConversion::Decord => (-513, -513),
            },
        };
        if self.sws.as_ref().is_none_or(|s| s.key != key) {
            self.sws = None;
            self.sws = Some(self.context(key)?);
        }
        let Some(sws) = self.sws.as_ref() else {
            return Err("no RGB converter".into());
        };
        let (w, h) = (key.w as usize, key.h as usize);
        // Rows padded to 64 bytes so swscale's SIMD stores stay inside the buffer.
        let stride = (w * 3 + 63) & !63;
        let mut buf = vec![0u8; stride * h + 64];
        let dst = [
            buf.as_mut_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        ];
        let dst_stride = [stride as i32, 0, 0, 0];
        // SAFETY: the source planes/strides are the decoded frame's; the destination holds h rows of
        // `stride` bytes, each >= 3w.
        let rows = unsafe {
            ffi::sws_scale(
                sws.ctx,
                f.data.as_ptr() as *const *const u8,
                f.linesize.as_ptr(),
                0,
                f.height,
                dst.as_ptr(),
                dst_stride.as_ptr(),
            )
        };
        if rows != f.height {
            return Err(format!("RGB conversion failed (swscale returned {rows})"));
        }
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            data.extend_from_slice(&buf[y * stride..y * stride + w * 3]);
        }
        RgbFrame::new(w, h, data).map_err(|e| e.to_string())
    }

    /// Sets swscale up as FFmpeg's `scale` filter does: options (sizes, formats, flags, ranges, chroma
    /// position), init, then the colour matrix and range of the source.
    fn context(&self, k: Key) -> Result<Sws, String> {
        let flags = match self.mode {
            RgbConversion::OpenCv => ffi::SWS_BICUBIC,
            RgbConversion::Decord => ffi::SWS_BILINEAR,
        } as i64;
        let fail = |what: &str| {
            format!(
                "cannot convert {:?} {}x{} frames to RGB ({what})",
                k.fmt, k.w, k.h
            )
        };
        // SAFETY: plain allocation; freed by `Sws::drop`, or below on failure.
        let ctx = unsafe { ffi::sws_alloc_context() };
        if ctx.is_null() {
            return Err(fail("out of memory"));
        }
        let sws = Sws { key: k, ctx };
        let opts: [(&str, i64); 10] = [
            ("srcw", i64::from(k.w)),
            ("srch", i64::from(k.h)),
            ("src_format", k.fmt as i64),
            ("dstw", i64::from(k.w)),
            ("dsth", i64::from(k.h)),
            ("dst_format", ffi::AVPixelFormat::AV_PIX_FMT_RGB24 as i64),
            ("sws_flags", flags),
            ("src_range", i64::from(k.full)),
            ("src_h_chr_pos", k.chroma.0),
            ("src_v_chr_pos", k.chroma.1),
        ];
        for (name, v) in opts {
            let cname = CString::new(name).map_err(|_| fail("bad option name"))?;
            // SAFETY: `ctx` is a live SwsContext (an AVClass object); the name is NUL-terminated.
            let r = unsafe { ffi::av_opt_set_int(ctx as *mut _, cname.as_ptr(), v, 0) };
            if r < 0 {
                return Err(fail(&format!("option {name} = {v} refused")));
            }
        }
        // SAFETY: options set above; null filters.
        let r = unsafe { ffi::sws_init_context(ctx, std::ptr::null_mut(), std::ptr::null_mut()) };
        if r < 0 {
            return Err(fail(&ff::Error::from(r).to_string()));
        }
        if is_yuv(k.fmt) {
            // SAFETY: `sws_getCoefficients` returns a static table; brightness 0, contrast and saturation
            // 1.0 in 16.16 are swscale's defaults. The destination table is unused for RGB output.
            let r = unsafe {
                let inv = ffi::sws_getCoefficients(k.space);
                let table = ffi::sws_getCoefficients(ffi::SWS_CS_DEFAULT);
                ffi::sws_setColorspaceDetails(
                    ctx,
                    inv,
                    i32::from(k.full),
                    table,
                    0,
                    0,
                    1 << 16,
                    1 << 16,
                )
            };
            if r < 0 {
                return Err(fail("colour details refused"));
            }
        }
        Ok(sws)
    }
}

/// Clockwise rotation (0, 90, 180, 270) both readers apply for a stream display matrix: they take
/// `-av_display_rotation_get` rounded to whole degrees and honour only multiples of 90; a flip in the
/// matrix is read as its rotation part (an `hflip` matrix turns the picture by 180 degrees).
pub(crate) fn rotation_of(matrix: &[u8]) -> u16 {
    if matrix.len() < 36 {
        return 0;
    }
    let m: Vec<i32> = matrix
        .chunks_exact(4)
        .take(9)
        .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // SAFETY: `m` holds the 9 values the function reads.
    let theta = unsafe { ffi::av_display_rotation_get(m.as_ptr()) };
    if !theta.is_finite() {
        return 0;
    }
    let deg = (-(theta.round() as i64)).rem_euclid(360);
    match deg {
        90 | 180 | 270 => deg as u16,
        _ => 0,
    }
}

/// Rotates a frame clockwise by `deg` (0, 90, 180, 270); other values leave it as it is.
pub(crate) fn rotate(frame: RgbFrame, deg: u16) -> RgbFrame {
    let (w, h) = (frame.width(), frame.height());
    let src = frame.data();
    let (nw, nh) = match deg {
        90 | 270 => (h, w),
        180 => (w, h),
        _ => return frame,
    };
    let mut out = vec![0u8; w * h * 3];
    for y in 0..nh {
        for x in 0..nw {
            // Source pixel shown at (x, y) after the rotation.
            let (sx, sy) = match deg {
                90 => (y, h - 1 - x),
                180 => (w - 1 - x, h - 1 - y),
                _ => (w - 1 - y, x),
            };
            let (d, s) = ((y * nw + x) * 3, (sy * w + sx) * 3);
            out[d..d + 3].copy_from_slice(&src[s..s + 3]);
        }
    }
    RgbFrame::new(nw, nh, out).unwrap_or(frame)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rotations_move_pixels_clockwise() {
        // 2x1 frame: left red, right blue.
        let f = RgbFrame::new(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
        let r90 = rotate(f.clone(), 90);
        assert_eq!((r90.width(), r90.height()), (1, 2));
        assert_eq!(r90.data(), &[255, 0, 0, 0, 0, 255]); // red on top
        let r270 = rotate(f.clone(), 270);
        assert_eq!(r270.data(), &[0, 0, 255, 255, 0, 0]); // blue on top
        assert_eq!(rotate(f.clone(), 180).data(), &[0, 0, 255, 255, 0, 0]);
        assert_eq!(rotate(f.clone(), 0), f);
    }

    #[test]
    fn display_matrices_read_as_the_readers_do() {
        let m = |v: [i32; 9]| v.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>();
        let (one, w) = (0x10000, 0x4000_0000);
        assert_eq!(rotation_of(&m([0, one, 0, -one, 0, 0, 0, 0, w])), 90);
        assert_eq!(rotation_of(&m([-one, 0, 0, 0, -one, 0, 0, 0, w])), 180);
        assert_eq!(rotation_of(&m([0, -one, 0, one, 0, 0, 0, 0, w])), 270);
        assert_eq!(rotation_of(&m([-one, 0, 0, 0, one, 0, 0, 0, w])), 180);
        assert_eq!(rotation_of(&m([one, 0, 0, 0, one, 0, 0, 0, w])), 0);
        assert_eq!(rotation_of(&[0; 8]), 0);
    }
}
