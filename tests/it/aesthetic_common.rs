//! Shared helpers of the `aesthetic_*` tests: the golden fixtures of `tests/fixtures/aesthetic` (from
//! the test kit), and the viclip types built from them.
#![allow(dead_code)]

use candle_core::{DType, Device, Tensor};
use viclip::aesthetic::{
    AestheticHead, AestheticScorer, ClipVisionConfig, ClipVisionModel, HeadKind,
};
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

pub fn tiny_config() -> ClipVisionConfig {
    ClipVisionConfig::from_json_file(&fixture("config.json")).expect("config.json")
}

pub fn tiny_clip() -> ClipVisionModel {
    ClipVisionModel::load(
        fixture("clip_vision.safetensors"),
        &tiny_config(),
        &Device::Cpu,
        DType::F32,
    )
    .expect("clip_vision.safetensors")
}

pub fn head(file: &str, forced: Option<HeadKind>) -> AestheticHead {
    AestheticHead::load(fixture(file), forced, &Device::Cpu)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

pub fn scorer(head_file: &str) -> AestheticScorer {
    AestheticScorer::new(tiny_clip(), head(head_file, None), 8).expect("scorer")
}
