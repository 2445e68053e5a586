//! Fused multi-head attention for f32 on the CPU, in the spirit of flash attention: for each (clip, head,
//! block of query rows) the scores `q·kᵀ` of that block are computed into a per-thread scratch buffer,
//! soft-maxed in place with a vectorised exp, multiplied by `v` and written straight into the output
//! layout. The `[B·H, L, L]` score tensor never exists (an L/14 clip would need 268 MB for it), q, k and v
//! are read in place from the packed projection (no `contiguous()` copies), and the work is spread over
//! all cores with rayon while each small GEMM runs single-threaded.
//!
//! Semantics are those of `nn.MultiheadAttention` (SPEC §2.2): scores scaled by `1/√head_dim`, optional
//! causal mask (the text tower's `triu(-inf, 1)`), softmax, weighted sum of values.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

/// Query rows per task: 64 rows × 2049 keys × 4 bytes = 512 KiB of scores, which stays in L2.
const QUERY_BLOCK: usize = 64;

/// The fused attention op over a packed projection `qkv [B, L, 3W]` (per token: q | k | v, each `H`
/// contiguous heads of `D = W/H`), giving `[B, L, W]` with heads concatenated, ready for `out_proj`.
#[derive(Debug, Clone, Copy)]
pub struct FusedAttention {
    pub heads: usize,
    pub causal: bool,
}

/// A raw pointer that may cross threads: tasks write disjoint (row block, head) tiles of the output.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: every task writes only its own rows × head columns of the output; no two tasks overlap.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// Taking the pointer through a method makes closures capture the whole (Send) wrapper.
    fn get(self) -> *mut f32 {
        self.0
    }
}

impl CustomOp1 for FusedAttention {
    fn name(&self) -> &'static str {
        "viclip-fused-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("fused attention takes f32, got {:?}", storage.dtype());
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("fused attention needs a contiguous qkv tensor");
        };
        let (b, l, w3) = layout.shape().dims3()?;
        let w = w3 / 3;
        let h = self.heads;
        if w3 % 3 != 0 || h == 0 || w % h != 0 {
            candle_core::bail!("fused attention: width {w3} is not 3 × heads({h}) × head_dim");
        }
        let src = &data[start..end];
        let d = w / h;
        let scale = 1.0 / (d as f32).sqrt();
        let mut out = vec![0f32; b * l * w];
        let out_ptr = SendPtr(out.as_mut_ptr());
        let blocks = l.div_ceil(QUERY_BLOCK);
        let causal = self.causal;

        (0..b * h * blocks).into_par_iter().for_each_init(
            || vec![0f32; QUERY_BLOCK * l],
            |scratch, task| {
                let (bh, blk) = (task / blocks, task % blocks);
                let (bi, hi) = (bh / h, bh % h);
                let q0 = blk * QUERY_BLOCK;
                let rows = QUERY_BLOCK.min(l - q0);
                // With the causal mask, rows q0..q0+rows see keys 0..q0+rows only.
                let keys = if causal { q0 + rows } else { l };
                let clip = &src[bi * l * w3..(bi + 1) * l * w3];
                let tile = Tile {
                    clip,
                    w,
                    d,
                    hi,
                    q0,
                    rows,
                    keys,
                };
                // SAFETY: `clip` holds L rows of 3W floats, so every q/k/v row read below is in bounds;
                // the output pointer is offset to this task's own tile of `out`, which has B·L·W floats.
                unsafe {
                    tile.scores(scratch);
                    let sums = softmax_rows(scratch, rows, keys, q0, causal, scale);
                    let dst = out_ptr.get().add((bi * l + q0) * w + hi * d);
                    tile.weighted_values(scratch, dst, &sums);
                }
            },
        );
        Ok((CpuStorage::F32(out), Shape::from((b, l, w))))
    }
}

/// One task's view: `rows` query rows from `q0` of head `hi` against the first `keys` keys.
struct Tile<'a> {
    clip: &'a [f32],
    w: usize,
    d: usize,
    hi: usize,
    q0: usize,
    rows: usize,
    keys: usize,
}

impl Tile<'_> {
    /// `scratch[r, j] = q[q0 + r] · k[j]` for this head, row-major `[rows, keys]`.
    unsafe fn scores(&self, scratch: &mut [f32]) {
        let w3 = (3 * self.w) as isize;
        let q = self
            .clip
            .as_ptr()
            .add(self.q0 * 3 * self.w + self.hi * self.d);
        let k = self.clip.as_ptr().add(self.w + self.hi * self.d);
        gemm::gemm(
            self.rows,
            self.keys,
            self.d,
            scratch.as_mut_ptr(),
            1,
            self.keys as isize,
            false,
            q,
            1,
            w3,
            // kᵀ as a [D, keys] matrix: element (c, j) = k[j][c].
            k,
            w3,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }

    /// `dst[r] = (Σ_j p[r, j] · v[j]) / sums[r]`, `dst` rows `W` apart.
    unsafe fn weighted_values(&self, probs: &[f32], dst: *mut f32, sums: &[f32]) {
        let w3 = (3 * self.w) as isize;
        let v = self.clip.as_ptr().add(2 * self.w + self.hi * self.d);
        gemm::gemm(
            self.rows,
            self.d,
            self.keys,
            dst,
            1,
            self.w as isize,
            false,
            probs.as_ptr(),
            1,
            self.keys as isize,
            v,
            1,
            w3,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
        for (r, &s) in sums.iter().enumerate().take(self.rows) {
            let row = std::slice::from_raw_parts_mut(dst.add(r * self.w), self.d);
            let inv = 1.0 / s;
            for x in row {
                *x *= inv;
            }
        }
    }
}

/// Replaces each score row by `exp(scale · (s - max))` over its visible keys (0 elsewhere) and returns
/// the row sums; the division by the sum is folded into the output (D values a row instead of `keys`).
fn softmax_rows(
    scratch: &mut [f32],
    rows: usize,
    keys: usize,
    q0: usize,
    causal: bool,
    scale: f32,
) -> Vec<f32> {
    (0..rows)
        .map(|r| {
            let row = &mut scratch[r * keys..(r + 1) * keys];
            let visible = if causal { q0 + r + 1 } else { keys };
            let (vis, hidden) = row.split_at_mut(visible.min(keys));
            hidden.fill(0.0);
            let max = vis.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            super::fast_math::exp_shifted_inplace(vis, max, scale)
        })
        .collect()
}
