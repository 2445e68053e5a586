//! The residual attention block shared by both towers (docs/reference/architecture.md §2.2), and the LayerNorm they use.
//!
//! Key names mirror the checkpoint: `ln_1`, `attn.in_proj_weight|in_proj_bias` (q|k|v rows packed as
//! `nn.MultiheadAttention` does), `attn.out_proj`, `ln_2`, `mlp.c_fc`, `mlp.c_proj`.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

use super::attention_cpu::{FusedAttention, Segment, VarlenAttention};
use super::cpu_ops::QuickGeluOp;
pub use super::layer_norm::LayerNorm;
use super::linear;

/// Bytes of attention scores materialised at once: bounds memory at the L/14 sequence (2049 tokens,
/// 16 heads ⇒ 268 MB per clip in f32) whatever the batch size.
const SCORE_BUDGET_BYTES: usize = 256 << 20;

/// `nn.MultiheadAttention` with packed `in_proj` (q|k|v), `1/√head_dim` query scaling and an optional
/// additive mask.
#[derive(Debug, Clone)]
pub struct Attention {
    in_proj: Linear,
    out_proj: Linear,
    heads: usize,
    scale: f64,
}

impl Attention {
    /// `nn.MultiheadAttention(width, heads)` from `in_proj_weight [3W, W]`, `in_proj_bias [3W]` and
    /// `out_proj` under `vb`.
    pub fn new(width: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        let in_w = vb.get((3 * width, width), "in_proj_weight")?;
        let in_b = vb.get(3 * width, "in_proj_bias")?;
        let out_proj = candle_nn::linear(width, width, vb.pp("out_proj"))?;
        let head_dim = width / heads;
        Ok(Self {
            in_proj: Linear::new(in_w, Some(in_b)),
            out_proj,
            heads,
            scale: 1.0 / (head_dim as f64).sqrt(),
        })
    }

    /// From a packed q|k|v projection (`in_w [3W, W]`, `in_b [3W]`) and the output projection; towers
    /// stored with separate q/k/v weights concatenate them first.
    pub fn from_parts(in_w: Tensor, in_b: Tensor, out_proj: Linear, heads: usize) -> Result<Self> {
        let width = in_w.dim(1)?;
        let head_dim = width / heads.max(1);
        Ok(Self {
            in_proj: Linear::new(in_w, Some(in_b)),
            out_proj,
            heads,
            scale: 1.0 / (head_dim as f64).sqrt(),
        })
    }

    /// `x: [B, L, W]` → `[B, L, W]`; `causal` masks keys after each query (the text tower).
    pub fn forward(&self, x: &Tensor, causal: bool) -> Result<Tensor> {
        let qkv = linear::forward(&self.in_proj, x)?;
        let out = if super::cpu_kernels(qkv.device(), qkv.dtype()) {
            qkv.contiguous()?.apply_op1_no_bwd(&FusedAttention {
                heads: self.heads,
                causal,
            })?
        } else {
            self.attend_composed(&qkv, causal)?
        };
        linear::forward(&self.out_proj, &out)
    }

    /// Attention over sequences packed back to back (CPU, f32): `x [1, N, W]` (after `ln_1`), `segs`
    /// the sequences' row ranges → `[1, N, W]` before `out_proj`.
    fn attend_segments(&self, x: &Tensor, segs: &[Segment], causal: bool) -> Result<Tensor> {
        linear::forward(&self.in_proj, x)?
            .contiguous()?
            .apply_op1_no_bwd(&VarlenAttention {
                heads: self.heads,
                causal,
                segments: segs.to_vec(),
            })
    }

    /// Attention for one query row per sequence, the only rows the last block's output is read at
    /// (the class token; the text tower's end token). Keys and values are projected for every token,
    /// the query only for the selected rows, which skips a third of `in_proj`, all of `out_proj` but
    /// one row per sequence, and nearly all of the score work.
    ///
    /// # Shapes
    /// `x [B, L, W]` (after `ln_1`), `rows[b] < L` → `[B, W]` after `out_proj`. With `causal`, row
    /// `rows[b]` sees keys `0..=rows[b]`.
    pub fn forward_rows(&self, x: &Tensor, rows: &[usize], causal: bool) -> Result<Tensor> {
        let (b, l, w) = x.dims3()?;
        let (h, d) = (self.heads, w / self.heads);
        let weight = self.in_proj.weight();
        let bias = self.in_proj.bias();
        let part = |i: usize, n: usize| -> Result<Linear> {
            Ok(Linear::new(
                weight.narrow(0, i * w, n * w)?,
                bias.map(|bb| bb.narrow(0, i * w, n * w)).transpose()?,
            ))
        };
        let kv = linear::forward(&part(1, 2)?, x)?; // [B, L, 2W]
        let q = (linear::forward(&part(0, 1)?, &gather_rows(x, rows)?)? * self.scale)?; // [B, W]
        let q = q.reshape((b, h, 1, d))?;
        let kv = kv.reshape((b, l, 2, h, d))?.permute((2, 0, 3, 1, 4))?; // [2, B, H, L, D]
        let k_t = kv.get(0)?.transpose(2, 3)?.contiguous()?; // [B, H, D, L]
        let v = kv.get(1)?.contiguous()?; // [B, H, L, D]
        let scores = q.contiguous()?.matmul(&k_t)?; // [B, H, 1, L]
        let scores = if causal {
            let mask: Vec<f32> = rows
                .iter()
                .flat_map(|&r| (0..l).map(move |j| if j > r { f32::NEG_INFINITY } else { 0.0 }))
                .collect();
            let mask =
                Tensor::from_vec(mask, (b, 1, 1, l), x.device())?.to_dtype(scores.dtype())?;
            scores.broadcast_add(&mask)?
        } else {
            scores
        };
        let out = softmax_f32(&scores)?.matmul(&v)?; // [B, H, 1, D]
        linear::forward(&self.out_proj, &out.reshape((b, w))?)
    }

    /// Attention from composed tensor ops (any device and dtype): scores in chunks of at most
    /// `SCORE_BUDGET_BYTES`, softmax accumulated in f32.
    ///
    /// # Shapes
    /// `qkv [B, L, 3W]` → `[B, L, W]`.
    pub fn attend_composed(&self, qkv: &Tensor, causal: bool) -> Result<Tensor> {
        let (b, l, w3) = qkv.dims3()?;
        let w = w3 / 3;
        let h = self.heads;
        let d = w / h;
        // [B, L, 3, H, D] → three [B·H, L, D] tensors.
        let qkv = qkv.reshape((b, l, 3, h, d))?.permute((2, 0, 3, 1, 4))?;
        let q = (qkv.get(0)?.reshape((b * h, l, d))? * self.scale)?;
        let k = qkv.get(1)?.reshape((b * h, l, d))?;
        let v = qkv.get(2)?.reshape((b * h, l, d))?.contiguous()?;
        let k_t = k.t()?.contiguous()?;
        let mask = if causal {
            Some(causal_mask(l, qkv.dtype(), qkv.device())?)
        } else {
            None
        };

        let per_row = l * l * qkv.dtype().size_in_bytes();
        let chunk = (SCORE_BUDGET_BYTES / per_row.max(1)).clamp(1, b * h);
        let mut outs = Vec::with_capacity((b * h).div_ceil(chunk));
        let mut start = 0;
        while start < b * h {
            let n = chunk.min(b * h - start);
            let scores = q.narrow(0, start, n)?.matmul(&k_t.narrow(0, start, n)?)?;
            let scores = match &mask {
                Some(m) => scores.broadcast_add(m)?,
                None => scores,
            };
            let probs = softmax_f32(&scores)?;
            outs.push(probs.matmul(&v.narrow(0, start, n)?)?);
            start += n;
        }
        let out = Tensor::cat(&outs, 0)?; // [B·H, L, D]
        out.reshape((b, h, l, d))?
            .transpose(1, 2)?
            .reshape((b, l, w))
    }
}

/// Additive causal mask `[len, len]`: 0 on and below the diagonal, -inf above (`triu_(1)` of -inf).
fn causal_mask(len: usize, dtype: DType, device: &candle_core::Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..len)
        .flat_map(|i| (0..len).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Tensor::from_vec(mask, (len, len), device)?.to_dtype(dtype)
}

/// Softmax over the last dimension, accumulated in f32 for half-precision inputs.
fn softmax_f32(x: &Tensor) -> Result<Tensor> {
    match x.dtype() {
        DType::F32 | DType::F64 => candle_nn::ops::softmax_last_dim(x),
        dt => candle_nn::ops::softmax_last_dim(&x.to_dtype(DType::F32)?)?.to_dtype(dt),
    }
}

/// `c_fc (W→4W) → QuickGELU → c_proj (4W→W)`; dropouts are p = 0 in the original.
#[derive(Debug, Clone)]
pub struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
}

impl Mlp {
    /// `c_fc [4W, W]` -> QuickGELU -> `c_proj [W, 4W]` under `vb`.
    pub fn new(width: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            c_fc: candle_nn::linear(width, 4 * width, vb.pp("c_fc"))?,
            c_proj: candle_nn::linear(4 * width, width, vb.pp("c_proj"))?,
        })
    }
}

impl Mlp {
    /// From the two linear layers (W→4W, 4W→W) with QuickGELU between.
    pub fn from_linears(c_fc: Linear, c_proj: Linear) -> Self {
        Self { c_fc, c_proj }
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = linear::forward(&self.c_fc, x)?;
        // QuickGELU, x·σ(1.702x), as the original uses in both towers (docs/reference/architecture.md §2.2).
        let x = if super::cpu_kernels(x.device(), x.dtype()) && x.is_contiguous() {
            // `x` is the fresh output of c_fc, owned here alone, so it can be overwritten.
            x.inplace_op1(&QuickGeluOp)?;
            x
        } else {
            (&x * candle_nn::ops::sigmoid(&(&x * 1.702)?)?)?
        };
        linear::forward(&self.c_proj, &x)
    }
}

/// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Debug, Clone)]
pub struct ResidualBlock {
    ln_1: LayerNorm,
    attn: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl ResidualBlock {
    /// Parameter order follows the state dict: `attn`, `ln_1`, `mlp`, `ln_2` (module registration order).
    pub fn new(width: usize, heads: usize, vb: VarBuilder) -> Result<Self> {
        let attn = Attention::new(width, heads, vb.pp("attn"))?;
        let ln_1 = LayerNorm::new(width, vb.pp("ln_1"))?;
        let mlp = Mlp::new(width, vb.pp("mlp"))?;
        let ln_2 = LayerNorm::new(width, vb.pp("ln_2"))?;
        Ok(Self {
            ln_1,
            attn,
            ln_2,
            mlp,
        })
    }

    /// From its four parts.
    pub fn from_parts(ln_1: LayerNorm, attn: Attention, ln_2: LayerNorm, mlp: Mlp) -> Self {
        Self {
            ln_1,
            attn,
            ln_2,
            mlp,
        }
    }

    /// `x: [B, L, W]` → `[B, L, W]`; `causal` for the text tower.
    pub fn forward(&self, x: &Tensor, causal: bool) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.ln_1.forward(x)?, causal)?)?;
        &x + self.mlp.forward(&self.ln_2.forward(&x)?)?
    }

    /// The block over sequences of different lengths packed back to back, so that the projections
    /// and the MLP run as one GEMM over real tokens only (CPU, f32).
    ///
    /// # Shapes
    /// `x [1, N, W]`, `segs` row ranges within N → `[1, N, W]`.
    pub fn forward_segments(&self, x: &Tensor, segs: &[Segment], causal: bool) -> Result<Tensor> {
        let a = self
            .attn
            .attend_segments(&self.ln_1.forward(x)?, segs, causal)?;
        let x = (x + linear::forward(&self.attn.out_proj, &a)?)?;
        &x + self.mlp.forward(&self.ln_2.forward(&x)?)?
    }

    /// [`Self::forward_segments`] read at `rows` only (indices into N): `out_proj` and the MLP run on
    /// those rows alone. `x [1, N, W]` → `[rows.len(), W]`.
    pub fn forward_segments_rows(
        &self,
        x: &Tensor,
        segs: &[Segment],
        rows: &[usize],
        causal: bool,
    ) -> Result<Tensor> {
        let a = self
            .attn
            .attend_segments(&self.ln_1.forward(x)?, segs, causal)?;
        let a = select(&a, rows)?;
        let y = (select(x, rows)? + linear::forward(&self.attn.out_proj, &a)?)?;
        &y + self.mlp.forward(&self.ln_2.forward(&y)?)?
    }

    /// The block's output at one row per sequence (see [`Attention::forward_rows`]): the last block
    /// of a tower, whose other rows are never read.
    ///
    /// # Shapes
    /// `x [B, L, W]`, `rows[b] < L` → `[B, W]`.
    pub fn forward_rows(&self, x: &Tensor, rows: &[usize], causal: bool) -> Result<Tensor> {
        let a = self
            .attn
            .forward_rows(&self.ln_1.forward(x)?, rows, causal)?;
        let y = (gather_rows(x, rows)? + a)?;
        &y + self.mlp.forward(&self.ln_2.forward(&y)?)?
    }
}

/// Row `rows[b]` of each sequence: `x [B, L, W]` → `[B, W]`.
pub(crate) fn gather_rows(x: &Tensor, rows: &[usize]) -> Result<Tensor> {
    let (b, l, w) = x.dims3()?;
    if rows.len() != b || rows.iter().any(|&r| r >= l) {
        candle_core::bail!(
            "gather_rows: rows {rows:?} do not select one of {l} rows in each of {b} sequences"
        );
    }
    let idx: Vec<u32> = rows
        .iter()
        .enumerate()
        .map(|(i, &r)| (i * l + r) as u32)
        .collect();
    let idx = Tensor::from_vec(idx, b, x.device())?;
    x.reshape((b * l, w))?.index_select(&idx, 0)
}

/// Rows `rows` of a packed sequence: `x [1, N, W]` → `[rows.len(), W]`.
pub(super) fn select(x: &Tensor, rows: &[usize]) -> Result<Tensor> {
    let idx: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
    let idx = Tensor::from_vec(idx, rows.len(), x.device())?;
    x.squeeze(0)?.index_select(&idx, 0)
}

/// `layers` residual blocks under `transformer.resblocks.{i}`.
pub fn blocks(
    width: usize,
    heads: usize,
    layers: usize,
    vb: VarBuilder,
) -> Result<Vec<ResidualBlock>> {
    let vb = vb.pp("transformer").pp("resblocks");
    (0..layers)
        .map(|i| ResidualBlock::new(width, heads, vb.pp(i)))
        .collect()
}
