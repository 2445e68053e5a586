//! LayerNorm as both towers use it (docs/reference/architecture.md §2.2), in f32 whatever the model dtype.

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::cpu_ops::LayerNormOp;

/// LayerNorm over the last dimension, eps 1e-5 (torch default), computed in f32 whatever the model dtype.
///
/// Two passes (mean, then variance of the centred values) rather than candle's fused one-pass
/// `E[x²] - E[x]²`, which loses precision when a channel's mean is large next to its spread (CLIP's
/// residual stream has such outlier channels). The original text tower upcasts to f32 too (docs/reference/architecture.md §3).
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// From `weight [dim]` and `bias [dim]` tensors, eps 1e-5.
    pub fn from_tensors(weight: Tensor, bias: Tensor) -> Result<Self> {
        Ok(Self {
            weight: weight.to_dtype(DType::F32)?,
            bias: bias.to_dtype(DType::F32)?,
            eps: 1e-5,
        })
    }

    /// Loads `weight [dim]` and `bias [dim]` under `vb`.
    pub fn new(dim: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get(dim, "weight")?.to_dtype(DType::F32)?;
        let bias = vb.get(dim, "bias")?.to_dtype(DType::F32)?;
        Ok(Self {
            weight,
            bias,
            eps: 1e-5,
        })
    }
}

impl Module for LayerNorm {
    /// `x: [.., dim]` in any float dtype → same shape and dtype.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if super::cpu_kernels(x.device(), x.dtype()) {
            let x = x.contiguous()?;
            return x.apply_op3_no_bwd(
                &self.weight,
                &self.bias,
                &LayerNormOp {
                    eps: self.eps as f32,
                },
            );
        }
        let dtype = x.dtype();
        let x = x.to_dtype(DType::F32)?;
        let mean = x.mean_keepdim(D::Minus1)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
        let y = xc.broadcast_div(&(var + self.eps)?.sqrt()?)?;
        y.broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)?
            .to_dtype(dtype)
    }
}
