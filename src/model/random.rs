//! Deterministic random weights at any config's shapes, for benchmarks and tests that need real sizes
//! without a download.

use std::collections::HashMap;

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::VarBuilder;

use super::{parameter_shapes, ViClipModel};
use crate::config::ViClipConfig;

/// Uniform values with standard deviation `std` from a seeded xorshift generator.
fn uniform(n: usize, std: f32, state: &mut u64) -> Vec<f32> {
    let half_width = std * 3f32.sqrt();
    (0..n)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            let unit = (*state >> 40) as f32 / (1u64 << 24) as f32; // [0, 1)
            (2.0 * unit - 1.0) * half_width
        })
        .collect()
}

/// A state dict for `cfg`: LayerNorm weights 1 and biases 0, everything else uniform with std 0.02
/// (the `temp` scalar is 0.01, its initial value in the original).
pub fn random_state_dict(cfg: &ViClipConfig, seed: u64) -> Result<HashMap<String, Tensor>> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = HashMap::new();
    for (name, shape) in parameter_shapes(cfg)? {
        let n: usize = shape.iter().product();
        let is_ln = name.contains("ln_") && !name.contains("attn");
        let data = if name == "temp" {
            vec![0.01]
        } else if is_ln && name.ends_with(".weight") {
            vec![1.0; n]
        } else if is_ln && name.ends_with(".bias") {
            vec![0.0; n]
        } else {
            uniform(n, 0.02, &mut state)
        };
        out.insert(name, Tensor::from_vec(data, shape, &Device::Cpu)?);
    }
    Ok(out)
}

/// A model for `cfg` with [`random_state_dict`] weights, on `device` in `dtype`.
pub fn random_model(
    cfg: &ViClipConfig,
    seed: u64,
    device: &Device,
    dtype: DType,
) -> Result<ViClipModel> {
    let vb = VarBuilder::from_tensors(random_state_dict(cfg, seed)?, dtype, device);
    ViClipModel::new(cfg, vb)
}
