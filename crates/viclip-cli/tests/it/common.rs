//! The fixture and golden-tensor helpers of the test kit, and the golden tiny model (a viclip type,
//! so built here rather than in the kit).
#![allow(dead_code)]

use candle_core::{DType, Device};
pub use viclip_testkit::fixtures::*;

/// The golden tiny ViCLIP (`tests/fixtures/tiny_a`) on the CPU in f32, and its config.
pub fn tiny_model() -> (viclip::ViClipModel, viclip::ViClipConfig) {
    let cfg =
        viclip::ViClipConfig::from_json_file(&fixture("tiny_a/index.json")).expect("tiny_a config");
    let tensors = candle_core::safetensors::load(fixture("tiny_a/model.safetensors"), &Device::Cpu)
        .expect("tiny_a weights");
    let vb = candle_nn::VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    let model = viclip::ViClipModel::new(&cfg, vb).expect("build tiny_a");
    (model, cfg)
}
