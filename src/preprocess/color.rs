//! How decoded video frames became RGB: which reader's conversion to reproduce and what a clip's frames
//! were converted with (reported per clip). The conversion itself lives in `crate::video`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ResizeFilter;

/// Which reader's YUV -> RGB conversion to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RgbConversion {
    /// `cv2.VideoCapture` (opencv-python 5.x, FFmpeg 8 inside; the demo): swscale with the bicubic flag
    /// and the frame's chroma siting.
    #[default]
    OpenCv,
    /// decord 0.6 (the evaluation pipeline): a filter graph whose scale flags are bilinear, swscale's
    /// default (centred) chroma siting.
    Decord,
}

/// The YUV -> RGB matrix a frame was converted with (swscale's tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMatrix {
    /// ITU-R BT.601 (also `bt470bg`, `smpte170m`, and every untagged or unknown stream).
    Bt601,
    /// ITU-R BT.709 (HD).
    Bt709,
    /// FCC Title 47 (close to BT.601).
    Fcc,
    /// SMPTE 240M (early HDTV).
    Smpte240m,
    /// BT.2020 non-constant (and constant) luminance.
    Bt2020,
    /// Not YUV (RGB or grey input): no matrix.
    None,
}

impl fmt::Display for ColorMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColorMatrix::Bt601 => "bt601",
            ColorMatrix::Bt709 => "bt709",
            ColorMatrix::Fcc => "fcc",
            ColorMatrix::Smpte240m => "smpte240m",
            ColorMatrix::Bt2020 => "bt2020",
            ColorMatrix::None => "none",
        })
    }
}

/// How a clip's frames were turned into RGB: what the crate reports per clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ColorInfo {
    /// Matrix of the first sampled frame (a stream may change it; each frame uses its own).
    pub matrix: ColorMatrix,
    /// Whether the first sampled frame was full range (`pc` / `jpeg`); else limited (`tv`).
    pub full_range: bool,
    /// Clockwise rotation applied from the stream's display matrix: 0, 90, 180 or 270.
    pub rotation: u16,
    /// Source bits per luma sample of the first sampled frame (8, 10, 12, ...).
    pub bit_depth: u8,
}

impl fmt::Display for ColorInfo {
    /// `bt709 limited 8-bit rot90`: what the score job writes in its `video_color` column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}-bit rot{}",
            self.matrix,
            self.range_name(),
            self.bit_depth,
            self.rotation
        )
    }
}

impl ColorInfo {
    /// `"full"` or `"limited"`.
    pub fn range_name(&self) -> &'static str {
        if self.full_range {
            "full"
        } else {
            "limited"
        }
    }
}

impl RgbConversion {
    /// The conversion of the pipeline a resize filter belongs to: OpenCV's for `cv2-linear` (the
    /// demo), decord's for `bicubic` (the evaluation pipeline).
    pub fn for_resize(r: ResizeFilter) -> Self {
        match r {
            ResizeFilter::Cv2Linear => RgbConversion::OpenCv,
            ResizeFilter::Bicubic => RgbConversion::Decord,
        }
    }
}
