//! Shared helpers of the `aesthetic_*` tests: the golden fixtures of `tests/fixtures/aesthetic`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use viclip::aesthetic::{
    AestheticHead, AestheticScorer, ClipVisionConfig, ClipVisionModel, HeadKind,
};
use viclip::preprocess::RgbFrame;

/// The repository root (where `tests/fixtures` lies), from whichever workspace crate's tests include
/// this file.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/fixtures").is_dir())
        .expect("tests/fixtures in a directory above CARGO_MANIFEST_DIR")
        .to_path_buf()
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/aesthetic").join(name)
}

pub struct Golden {
    pub inputs: HashMap<String, Tensor>,
    pub outputs: HashMap<String, Tensor>,
}

impl Golden {
    pub fn load() -> Self {
        let load = |f: &str| {
            candle_core::safetensors::load(fixture(f), &Device::Cpu)
                .unwrap_or_else(|e| panic!("{f}: {e}"))
        };
        Self {
            inputs: load("inputs.safetensors"),
            outputs: load("outputs.safetensors"),
        }
    }

    pub fn input(&self, key: &str) -> &Tensor {
        self.inputs
            .get(key)
            .unwrap_or_else(|| panic!("inputs.safetensors has no `{key}`"))
    }

    pub fn output(&self, key: &str) -> &Tensor {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("outputs.safetensors has no `{key}`"))
    }
}

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

pub fn f32s(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Max |a − b| over equally shaped tensors.
pub fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    f32s(a)
        .iter()
        .zip(f32s(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn max_abs_vec(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
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

/// Golden head names (`v1`, `v2`, `v2relu`) with their files.
pub const HEADS: [(&str, &str); 3] = [
    ("v1", "aes_v1.pth"),
    ("v2", "aes_v2.pth"),
    ("v2relu", "aes_v2relu.pth"),
];

pub fn head(file: &str, forced: Option<HeadKind>) -> AestheticHead {
    AestheticHead::load(fixture(file), forced, &Device::Cpu)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

pub fn scorer(head_file: &str) -> AestheticScorer {
    AestheticScorer::new(tiny_clip(), head(head_file, None), 8).expect("scorer")
}
