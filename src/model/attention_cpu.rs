//! Fused multi-head attention for f32 on the CPU, in the spirit of flash attention: for each (clip, head,
//! block of query rows) the scores `q·kᵀ` of that block are computed into a per-thread scratch buffer,
//! soft-maxed in place with a vectorised exp, multiplied by `v` and written straight into the output
//! layout. The `[B·H, L, L]` score tensor never exists (an L/14 clip would need 268 MB for it), q, k and v
//! are read in place from the packed projection (no `contiguous()` copies), and the work is spread over
//! all cores with rayon while each small GEMM runs single-threaded.
//!
//! Semantics are those of `nn.MultiheadAttention` (docs/reference/architecture.md §2.2): scores scaled by `1/√head_dim`, optional
//! causal mask (the text tower's `triu(-inf, 1)`), softmax, weighted sum of values.
//!
//! On x86-64 CPUs with AVX2 and FMA the work goes to the register-tiled kernels of
//! `attention_tiles`; the GEMM-call path below is the portable fallback. Both take a list of
//! segments (sequences) of a packed `[N, 3W]` projection, so one call serves a uniform batch
//! (`[B, L, 3W]`, B segments of L) or captions of different lengths packed back to back.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

use super::matmul::matmul;

/// Query rows per task: 64 rows × 2049 keys × 4 bytes = 512 KiB of scores, which stays in L2.
const QUERY_BLOCK: usize = 64;

/// The fused attention op over a packed projection `qkv [B, L, 3W]` (per token: q | k | v, each `H`
/// contiguous heads of `D = W/H`), giving `[B, L, W]` with heads concatenated, ready for `out_proj`.
#[derive(Debug, Clone, Copy)]
pub struct FusedAttention {
    /// Attention heads `H`.
    pub heads: usize,
    /// Whether query `i` sees only keys `0..=i` (the text tower's mask).
    pub causal: bool,
}

/// One sequence of a packed projection: rows `start..start + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First row of the sequence in the packed projection.
    pub start: usize,
    /// Rows (tokens) of the sequence.
    pub len: usize,
}

/// Attention of every segment of the packed projection `qkv [N, 3W]` (segments may have different
/// lengths; rows outside every segment come out as zeros), giving `[N, W]`.
#[derive(Debug, Clone)]
pub struct VarlenAttention {
    /// Attention heads `H`.
    pub heads: usize,
    /// Whether query `i` sees only keys `0..=i` of its own segment.
    pub causal: bool,
    /// The sequences; they must not overlap.
    pub segments: Vec<Segment>,
}

/// A raw pointer that may cross threads: tasks write disjoint (row block, head) tiles of the output.
#[derive(Clone, Copy)]
pub(super) struct SendPtr(pub(super) *mut f32);
// SAFETY: every task writes only its own rows × head columns of the output; no two tasks overlap.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// Taking the pointer through a method makes closures capture the whole (Send) wrapper.
    pub(super) fn get(self) -> *mut f32 {
        self.0
    }
}

impl CustomOp1 for FusedAttention {
    fn name(&self) -> &'static str {
        "viclip-fused-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (src, (b, l, w3)) = contiguous_f32(storage, layout)?;
        let segs: Vec<Segment> = (0..b)
            .map(|i| Segment {
                start: i * l,
                len: l,
            })
            .collect();
        let out = attend(src, &segs, w3, self.heads, self.causal)?;
        Ok((CpuStorage::F32(out), Shape::from((b, l, w3 / 3))))
    }
}

impl CustomOp1 for VarlenAttention {
    fn name(&self) -> &'static str {
        "viclip-varlen-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let (src, (one, n, w3)) = contiguous_f32(storage, layout)?;
        if one != 1 {
            candle_core::bail!("varlen attention takes qkv [1, N, 3W], got a batch of {one}");
        }
        if let Some(s) = self.segments.iter().find(|s| s.start + s.len > n) {
            candle_core::bail!("varlen attention: segment {s:?} runs past the {n} rows of qkv");
        }
        // Tasks write their segment's output rows without locks, so segments must not overlap.
        let mut sorted: Vec<Segment> = self.segments.clone();
        sorted.sort_by_key(|s| s.start);
        if let Some(w) = sorted
            .windows(2)
            .find(|w| w[0].start + w[0].len > w[1].start)
        {
            candle_core::bail!(
                "varlen attention: segments {:?} and {:?} overlap",
                w[0],
                w[1]
            );
        }
        let out = attend(src, &self.segments, w3, self.heads, self.causal)?;
        Ok((CpuStorage::F32(out), Shape::from((1, n, w3 / 3))))
    }
}

type Dims3 = (usize, usize, usize);

/// The f32 data of a contiguous `[B, L, 3W]` tensor.
fn contiguous_f32<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<(&'a [f32], Dims3)> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("fused attention takes f32, got {:?}", storage.dtype());
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("fused attention needs a contiguous qkv tensor");
    };
    Ok((&data[start..end], layout.shape().dims3()?))
}

/// Rows of the packed projection the segments reach: the output has this many rows.
pub(super) fn rows_spanned(segs: &[Segment]) -> usize {
    segs.iter().map(|s| s.start + s.len).max().unwrap_or(0)
}

/// One task per (segment index, head, first query row of a block of `block` rows).
pub(super) fn segment_tasks(
    segs: &[Segment],
    h: usize,
    block: usize,
) -> Vec<(usize, usize, usize)> {
    segs.iter()
        .enumerate()
        .flat_map(|(s, seg)| {
            (0..h).flat_map(move |hi| (0..seg.len).step_by(block).map(move |r0| (s, hi, r0)))
        })
        .collect()
}

/// Set to route every call through the portable GEMM path (tests and benchmarks of the fallback on
/// machines that have AVX2).
/// A test hook: public only with the `internal` feature.
#[cfg(feature = "internal")]
#[doc(hidden)]
pub static FORCE_PORTABLE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
#[cfg(not(feature = "internal"))]
pub(crate) static FORCE_PORTABLE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Attention of `segs` of `src [N, 3W]` with `h` heads → `[N, W]`.
fn attend(src: &[f32], segs: &[Segment], w3: usize, h: usize, causal: bool) -> Result<Vec<f32>> {
    let w = w3 / 3;
    if w3 % 3 != 0 || h == 0 || w % h != 0 {
        candle_core::bail!("fused attention: width {w3} is not 3 × heads({h}) × head_dim");
    }
    if rows_spanned(segs) * w3 > src.len() {
        candle_core::bail!(
            "fused attention: segments span {} rows, the input has {}",
            rows_spanned(segs),
            src.len() / w3
        );
    }
    let d = w / h;
    let scale = 1.0 / (d as f32).sqrt();
    #[cfg(target_arch = "x86_64")]
    if super::attention_tiles::available()
        && !FORCE_PORTABLE.load(std::sync::atomic::Ordering::Relaxed)
    {
        // SAFETY: `available()` just confirmed AVX2 and FMA; the segments lie within `src` and
        // `w % h == 0`, both checked above.
        return Ok(unsafe { super::attention_tiles::attend(src, segs, w, h, causal, scale) });
    }
    Ok(attend_gemm(src, segs, w, h, causal, scale))
}

/// The portable path: per (segment, head, block of query rows) one GEMM for the scores, a softmax in
/// place, one GEMM against v.
pub(super) fn attend_gemm(
    src: &[f32],
    segs: &[Segment],
    w: usize,
    h: usize,
    causal: bool,
    scale: f32,
) -> Vec<f32> {
    let d = w / h;
    let w3 = 3 * w;
    let lmax = segs.iter().map(|s| s.len).max().unwrap_or(0);
    let mut out = vec![0f32; rows_spanned(segs) * w];
    let out_ptr = SendPtr(out.as_mut_ptr());
    segment_tasks(segs, h, QUERY_BLOCK)
        .into_par_iter()
        .for_each_init(
            || vec![0f32; QUERY_BLOCK * lmax],
            |scratch, (s, hi, q0)| {
                let seg = segs[s];
                let l = seg.len;
                let rows = QUERY_BLOCK.min(l - q0);
                // With the causal mask, rows q0..q0+rows see keys 0..q0+rows only.
                let keys = if causal { q0 + rows } else { l };
                let clip = &src[seg.start * w3..(seg.start + l) * w3];
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
                // the output pointer is offset to this task's own tile of `out`, which has N·W floats.
                unsafe {
                    tile.scores(scratch);
                    let sums = softmax_rows(scratch, rows, keys, q0, causal, scale);
                    let dst = out_ptr.get().add((seg.start + q0) * w + hi * d);
                    tile.weighted_values(scratch, dst, &sums);
                }
            },
        );
    out
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
        matmul(
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
        matmul(
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
