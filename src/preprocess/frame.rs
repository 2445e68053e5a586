//! One decoded frame: 8-bit RGB, interleaved, rows packed without padding.

use std::fmt;

use candle_core::{DType, Tensor};

use crate::{Error, Result};

/// An 8-bit RGB frame, `height` rows of `width` pixels of `[r, g, b]`, packed (no row padding).
///
/// # Shapes
/// `data` is `(H, W, 3)` row-major, the layout of the golden `frames_rgb_u8` tensors and of
/// `cv2` frames after the BGR→RGB flip.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbFrame {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl RgbFrame {
    /// Wraps packed RGB bytes; fails unless `data.len() == width * height * 3` and both sides are > 0.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<Self> {
        if width == 0 || height == 0 || Some(data.len()) != width.checked_mul(height * 3) {
            return Err(Error::InvalidInput(format!(
                "an RGB frame of {width}x{height} needs {} bytes (width * height * 3), got {}",
                width.saturating_mul(height).saturating_mul(3),
                data.len()
            )));
        }
        Ok(RgbFrame {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// The packed `(H, W, 3)` bytes.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The packed `(H, W, 3)` bytes, taken out of the frame.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
    /// Row `y` as `W * 3` bytes.
    pub(crate) fn row(&self, y: usize) -> &[u8] {
        let n = self.width * 3;
        &self.data[y * n..(y + 1) * n]
    }

    /// Splits a `(N, H, W, 3)` u8 tensor (the golden `frames_rgb_u8` layout) into frames.
    ///
    /// # Shapes
    /// `frames`: `(N, H, W, 3)`, dtype u8.
    pub fn from_tensor(frames: &Tensor) -> Result<Vec<RgbFrame>> {
        let dims = frames.dims();
        if frames.dtype() != DType::U8 || dims.len() != 4 || dims[3] != 3 {
            return Err(Error::InvalidInput(format!(
                "raw frames must be a (N, H, W, 3) u8 tensor, got {:?} {:?}",
                dims,
                frames.dtype()
            )));
        }
        let (n, h, w) = (dims[0], dims[1], dims[2]);
        let flat = frames.flatten_all()?.to_vec1::<u8>()?;
        Self::split_packed(&flat, n, w, h)
    }

    /// Splits `n` packed frames of `width x height` RGB, back to back (`(N, H, W, 3)`), into frames.
    pub fn split_packed(
        data: &[u8],
        n: usize,
        width: usize,
        height: usize,
    ) -> Result<Vec<RgbFrame>> {
        let per = width.saturating_mul(height).saturating_mul(3);
        if n == 0 || per == 0 || data.len() != n.saturating_mul(per) {
            return Err(Error::InvalidInput(format!(
                "{n} raw RGB frames of {width}x{height} need {} bytes, got {}",
                n.saturating_mul(per),
                data.len()
            )));
        }
        data.chunks_exact(per)
            .map(|c| RgbFrame::new(width, height, c.to_vec()))
            .collect()
    }
}

impl fmt::Debug for RgbFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RgbFrame({}x{})", self.width, self.height)
    }
}
