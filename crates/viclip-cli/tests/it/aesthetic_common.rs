//! The aesthetic golden data of the test kit, and the frames built from it (viclip types, so here
//! rather than in the kit; the core's `tests/it/aesthetic_common.rs` has the same two helpers).
#![allow(dead_code)]

use candle_core::Tensor;
use viclip::preprocess::RgbFrame;
pub use viclip_testkit::aesthetic::*;

/// `[H, W, 3]` u8 tensor → RGB frame.
pub fn to_image(t: &Tensor) -> RgbFrame {
    let (h, w, _) = t.dims3().expect("HWC");
    let data = t.flatten_all().unwrap().to_vec1::<u8>().unwrap();
    RgbFrame::new(w, h, data).expect("buffer size")
}

/// The frames of `clip{c}.frames` (`[T, H, W, 3]`).
pub fn clip_frames(g: &Golden, c: usize) -> Vec<RgbFrame> {
    let t = g.input(&format!("clip{c}.frames"));
    (0..t.dim(0).unwrap())
        .map(|i| to_image(&t.get(i).unwrap()))
        .collect()
}
