//! Helpers shared by the integration tests: fixture paths, golden tensors, comparisons.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

/// The repository root (where `tests/fixtures` lies), from whichever workspace crate's tests include
/// this file.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/fixtures").is_dir())
        .expect("tests/fixtures in a directory above CARGO_MANIFEST_DIR")
        .to_path_buf()
}

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

pub fn fixture(rel: &str) -> PathBuf {
    repo_root().join("tests/fixtures").join(rel)
}

/// All tensors of a golden safetensors file, on the CPU.
pub fn golden(rel: &str) -> HashMap<String, Tensor> {
    let path = fixture(rel);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

pub fn get<'a>(map: &'a HashMap<String, Tensor>, key: &str) -> &'a Tensor {
    map.get(key)
        .unwrap_or_else(|| panic!("golden tensor {key} missing"))
}

/// Largest absolute difference between two tensors of the same shape (compared in f64).
pub fn max_abs(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims(), "shape mismatch");
    let a = a.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    let b = b.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
}

/// Asserts `max|a - b| <= tol`, printing the difference.
#[track_caller]
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    let d = max_abs(got, want);
    eprintln!("{what}: max abs diff {d:.3e} (tolerance {tol:.0e})");
    assert!(d <= tol, "{what}: max abs diff {d:.3e} > {tol:.0e}");
}
