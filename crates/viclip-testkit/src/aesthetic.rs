//! The golden data of the aesthetic scorer (`tests/fixtures/aesthetic`): inputs, outputs and the
//! head checkpoints, with comparisons of f32 values.

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};

/// The path of `name` in `tests/fixtures/aesthetic`.
pub fn fixture(name: &str) -> PathBuf {
    crate::fixtures::fixture("aesthetic").join(name)
}

/// The golden tensors: `inputs.safetensors` and `outputs.safetensors`.
pub struct Golden {
    /// The inputs (frames of each clip, pixel tensors).
    pub inputs: HashMap<String, Tensor>,
    /// What the original scorer made of them.
    pub outputs: HashMap<String, Tensor>,
}

impl Golden {
    /// Reads both files; panics naming the file that cannot be read.
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

    /// The input tensor `key`; panics naming it when missing.
    pub fn input(&self, key: &str) -> &Tensor {
        self.inputs
            .get(key)
            .unwrap_or_else(|| panic!("inputs.safetensors has no `{key}`"))
    }

    /// The output tensor `key`; panics naming it when missing.
    pub fn output(&self, key: &str) -> &Tensor {
        self.outputs
            .get(key)
            .unwrap_or_else(|| panic!("outputs.safetensors has no `{key}`"))
    }
}

/// The values of `t` as f32, flattened.
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

/// Max |a − b| over equally long slices.
pub fn max_abs_vec(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Golden head names (`v1`, `v2`, `v2relu`) with their files.
pub const HEADS: [(&str, &str); 3] = [
    ("v1", "aes_v1.pth"),
    ("v2", "aes_v2.pth"),
    ("v2relu", "aes_v2relu.pth"),
];
