//! Single-pass CPU kernels (f32, contiguous) for the elementwise and per-row work around the GEMMs:
//! LayerNorm (two passes over a row that is in cache, instead of six tensor-wide passes of composed ops)
//! and QuickGELU (one pass instead of four). Other devices and dtypes use composed candle ops.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp3, InplaceOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::fast_math::quick_gelu_inplace;

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        candle_core::bail!("{what}: expected f32, got {:?}", s.dtype());
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous tensor"),
    }
}

/// Rows handed to one rayon task: enough work to amortise scheduling.
const ROWS_PER_TASK: usize = 16;

/// LayerNorm over the last dimension: mean, then the variance of the centred row (not `E[x²] − E[x]²`,
/// which cancels badly when the mean is large), then `(x − mean)/√(var + eps)·weight + bias`.
#[derive(Debug, Clone, Copy)]
pub struct LayerNormOp {
    pub eps: f32,
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "viclip-layer-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(xs, xl, "layer norm input")?;
        let w = contiguous_f32(ws, wl, "layer norm weight")?;
        let b = contiguous_f32(bs, bl, "layer norm bias")?;
        let dim = w.len();
        if dim == 0 || b.len() != dim || x.len() % dim != 0 {
            candle_core::bail!("layer norm: input rows do not match a weight of {dim}");
        }
        let eps = self.eps;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(dim * ROWS_PER_TASK)
            .zip(x.par_chunks(dim * ROWS_PER_TASK))
            .for_each(|(dst, src)| {
                for (d, s) in dst.chunks_exact_mut(dim).zip(src.chunks_exact(dim)) {
                    // f64 accumulators: a row is at most a few thousand values, and this keeps the
                    // statistics exact to f32 rounding even for rows with a large mean.
                    let mean = s.iter().map(|&v| v as f64).sum::<f64>() / dim as f64;
                    let var =
                        s.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / dim as f64;
                    let inv = 1.0 / (var + eps as f64).sqrt();
                    // Centre in f64 too: a mean of ~300 rounded to f32 is off by up to 1.5e-5,
                    // which the weights would carry into the output.
                    for (((o, &v), g), h) in d.iter_mut().zip(s).zip(w).zip(b) {
                        *o = ((v as f64 - mean) * inv) as f32 * g + h;
                    }
                }
            });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

/// QuickGELU, `x·σ(1.702x)`.
#[derive(Debug, Clone, Copy)]
pub struct QuickGeluOp;

impl CustomOp1 for QuickGeluOp {
    fn name(&self) -> &'static str {
        "viclip-quick-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "quick gelu input")?;
        let mut out = x.to_vec();
        out.par_chunks_mut(1 << 14).for_each(quick_gelu_inplace);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// In place: the MLP's hidden layer is the largest activation (`[B, L, 4W]`, 34 MB for an L/14 clip),
/// and a fresh output that size is a fresh mmap and page faults on every layer.
impl InplaceOp1 for QuickGeluOp {
    fn name(&self) -> &'static str {
        "viclip-quick-gelu-inplace"
    }

    fn cpu_fwd(&self, s: &mut CpuStorage, l: &Layout) -> Result<()> {
        let CpuStorage::F32(data) = s else {
            candle_core::bail!("quick gelu: expected f32, got {:?}", s.dtype());
        };
        let Some((a, b)) = l.contiguous_offsets() else {
            candle_core::bail!("quick gelu: expected a contiguous tensor");
        };
        data[a..b]
            .par_chunks_mut(1 << 14)
            .for_each(quick_gelu_inplace);
        Ok(())
    }
}
