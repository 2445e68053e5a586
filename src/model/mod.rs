//! The ViCLIP network: video tower + text tower + the (inference-unused) `temp` scalar, with key names
//! exactly as in the original state dict (`docs/reference/checkpoint-format.md` §3). No preprocessing and no normalisation here;
//! see [`crate::ViClip`] for the high-level API.

#[cfg(target_arch = "x86_64")]
#[cfg(test)]
mod attention_check;
pub mod attention_cpu;
mod attention_tiles;
pub mod block;
mod cpu_ops;
mod fast_math;
pub mod layer_norm;
mod linear;
mod matmul;
pub mod random;
pub mod text;
pub mod vision;

use std::sync::{Arc, Mutex};

use candle_core::{DType, Device, Result, Shape, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

pub use random::{random_model, random_state_dict};
pub use text::{pool_positions, TextTrace, TextTransformer};
pub use vision::{VisionTrace, VisionTransformer};

use crate::config::ViClipConfig;

/// Set to run every op through the device-generic composed path (the one CUDA and Metal take) even
/// for f32 on the CPU, so that path can be checked against the golden data on a machine without a GPU.
/// A test hook: public only with the `internal` feature.
#[cfg(feature = "internal")]
#[doc(hidden)]
pub static GENERIC_OPS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
#[cfg(not(feature = "internal"))]
pub(crate) static GENERIC_OPS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Whether `t` goes through the CPU f32 kernels: f32 on the CPU, unless [`GENERIC_OPS`] is set.
pub(crate) fn cpu_kernels(device: &Device, dtype: DType) -> bool {
    device.is_cpu()
        && dtype == DType::F32
        && !GENERIC_OPS.load(std::sync::atomic::Ordering::Relaxed)
}

/// `ViCLIP`: `vision_encoder`, `text_encoder` and `temp`.
#[derive(Debug, Clone)]
pub struct ViClipModel {
    /// The video tower (`vision_encoder`).
    pub vision: VisionTransformer,
    /// The text tower (`text_encoder`).
    pub text: TextTransformer,
    temp: Tensor,
    cfg: ViClipConfig,
}

impl ViClipModel {
    /// Builds the model from `vb` (the state dict's root). Tensors are requested in state-dict order.
    pub fn new(cfg: &ViClipConfig, vb: VarBuilder) -> Result<Self> {
        // Configs built in code skip `from_json_str`: refuse out-of-range sizes before the tower loops
        // and shape arithmetic run on them.
        cfg.validate()
            .map_err(|e| candle_core::Error::Msg(format!("invalid config: {e}")))?;
        let temp = vb.get((), "temp")?;
        let vision = VisionTransformer::new(&cfg.vision, cfg.embed_dim, vb.pp("vision_encoder"))?;
        let text = TextTransformer::new(&cfg.text, cfg.embed_dim, vb.pp("text_encoder"))?;
        Ok(Self {
            vision,
            text,
            temp,
            cfg: cfg.clone(),
        })
    }

    /// `videos [B, T, 3, H, W]` → `[B, E]`, not normalised (the reference's `encode_vision(x, test=True)`).
    pub fn encode_video(&self, videos: &Tensor) -> Result<Tensor> {
        self.vision.forward(videos)
    }

    /// Token id rows (each `context_length` long) → `[N, E]`, not normalised (`encode_text`).
    pub fn encode_text(&self, ids: &[Vec<u32>], device: &Device) -> Result<Tensor> {
        self.text.forward(ids, device)
    }

    /// The training temperature stored in the checkpoint. Inference does not use it: the demo's
    /// similarity scale is the constant 100 (docs/reference/architecture.md §5).
    pub fn temp(&self) -> &Tensor {
        &self.temp
    }

    /// The config the model was built for.
    pub fn config(&self) -> &ViClipConfig {
        &self.cfg
    }
}

/// A `VarBuilder` backend that records what the model asks for and hands out broadcast zeros, so the
/// parameter list of a full-size model is known without allocating its weights.
struct ShapeRecorder {
    seen: Arc<Mutex<ParameterList>>,
}

/// `(name, shape)` of each parameter, in the order the model requests them.
pub type ParameterList = Vec<(String, Vec<usize>)>;

impl SimpleBackend for ShapeRecorder {
    fn get(
        &self,
        s: Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> Result<Tensor> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push((name.to_string(), s.dims().to_vec()));
        }
        Tensor::zeros((), dtype, dev)?.broadcast_as(s)
    }

    fn get_unchecked(&self, name: &str, _: DType, _: &Device) -> Result<Tensor> {
        candle_core::bail!("shape recorder: `{name}` requested without a shape")
    }

    fn contains_tensor(&self, _: &str) -> bool {
        true
    }
}

/// Every parameter `(name, shape)` the model for `cfg` loads, in state-dict order: what a checkpoint for
/// this config must hold, no more and no less.
pub fn parameter_shapes(cfg: &ViClipConfig) -> Result<ParameterList> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = ShapeRecorder { seen: seen.clone() };
    let vb = VarBuilder::from_backend(Box::new(recorder), DType::F32, Device::Cpu);
    ViClipModel::new(cfg, vb)?;
    let seen = match seen.lock() {
        Ok(list) => list.clone(),
        Err(_) => candle_core::bail!("shape recorder poisoned"),
    };
    Ok(seen)
}
