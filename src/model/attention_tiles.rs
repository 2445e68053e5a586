//! Attention for f32 on x86-64 CPUs with AVX2 and FMA, from register-tiled microkernels rather than
//! general GEMM calls.
//!
//! Why: with a head dimension of 64, `q·kᵀ` and `p·v` are thin GEMMs, and a general GEMM repacks k (or
//! v) and the score tile for every block of queries, which cost as much as the multiply-adds themselves
//! (the GEMM path ran at ~100 GFLOP/s on a 2-core machine whose projections run at 160). Here k and v
//! are packed once per (sequence, head) into the layouts the microkernels stream, so that per query
//! block the work is: scores (6 × 16 tiles, 12 accumulators), a vectorised softmax over each row,
//! and `p·v` (6 × 16 tiles of the output), with key chunks sized to stay in L1/L2.
//!
//! Layouts, for one (sequence, head) with `len` keys, head dimension `d`, `lp = len` rounded up to 16
//! and `dp = d` rounded up to 16:
//! - `kt [lp/16, d, 16]`: key `j`, channel `c` at `((j/16)·d + c)·16 + j%16`, zero past `len`;
//! - `vp [len, dp]`: value `j`, channel `c` at `j·dp + c`, zero for `c ≥ d`.

use std::arch::x86_64::*;

use rayon::prelude::*;

use super::attention_cpu::{rows_spanned, segment_tasks, Segment, SendPtr};

/// Query rows per microkernel panel: 6 rows × 16 lanes = 12 of the 16 ymm registers as accumulators.
const MR: usize = 6;
/// Query rows per task (8 panels): the task's score tile (`ROW_BLOCK × len`) stays in L2.
const ROW_BLOCK: usize = 48;
/// Keys per chunk: 256 keys of one 16-channel value slice are 16 KiB (L1), of `kt` 64 KiB (L2).
const KEY_CHUNK: usize = 256;

/// Whether this CPU can run the kernels.
pub(super) fn available() -> bool {
    super::fast_math::has_avx2()
}

fn round16(n: usize) -> usize {
    n.div_ceil(16) * 16
}

/// Packs k and v of head `hi` of `seg` from `src [N, 3W]` (q | k | v per token).
fn pack(src: &[f32], seg: Segment, w: usize, d: usize, hi: usize) -> (Vec<f32>, Vec<f32>) {
    let (len, w3) = (seg.len, 3 * w);
    let (lp, dp) = (round16(len), round16(d));
    let mut kt = vec![0f32; lp * d];
    let mut vp = vec![0f32; len * dp];
    for j in 0..len {
        let row = &src[(seg.start + j) * w3..(seg.start + j + 1) * w3];
        let k = &row[w + hi * d..w + (hi + 1) * d];
        let tile = &mut kt[(j / 16) * d * 16..];
        for (c, &x) in k.iter().enumerate() {
            tile[c * 16 + j % 16] = x;
        }
        vp[j * dp..j * dp + d].copy_from_slice(&row[2 * w + hi * d..2 * w + (hi + 1) * d]);
    }
    (kt, vp)
}

/// Attention of every segment of `src [N, 3W]` → `[N, W]` (heads concatenated). `scale` multiplies
/// the scores; `causal` hides keys after the query (positions counted within the segment).
///
/// # Safety
///
/// The CPU must support AVX2 and FMA ([`available`] returns true): the microkernels are compiled for
/// them and would execute illegal instructions otherwise. `segs` must lie within the rows of `src`
/// (as [`segment_tasks`] and [`rows_spanned`] assume), and `w` must be a multiple of `h`.
pub(super) unsafe fn attend(
    src: &[f32],
    segs: &[Segment],
    w: usize,
    h: usize,
    causal: bool,
    scale: f32,
) -> Vec<f32> {
    let d = w / h;
    let dp = round16(d);
    let packed: Vec<(Vec<f32>, Vec<f32>)> = (0..segs.len() * h)
        .into_par_iter()
        .map(|t| pack(src, segs[t / h], w, d, t % h))
        .collect();
    let lp_max = segs.iter().map(|s| round16(s.len)).max().unwrap_or(0);
    let mut out = vec![0f32; rows_spanned(segs) * w];
    let out_ptr = SendPtr(out.as_mut_ptr());
    segment_tasks(segs, h, ROW_BLOCK)
        .into_par_iter()
        .for_each_init(
            || Scratch {
                scores: vec![0f32; ROW_BLOCK * lp_max],
                acc: vec![0f32; ROW_BLOCK * dp],
                sums: vec![0f32; ROW_BLOCK],
            },
            |scratch, (s, hi, r0)| {
                let (kt, vp) = &packed[s * h + hi];
                let block = Block {
                    src,
                    seg: segs[s],
                    w,
                    d,
                    hi,
                    r0,
                    rows: ROW_BLOCK.min(segs[s].len - r0),
                    causal,
                    scale,
                };
                // SAFETY: the CPU has AVX2 and FMA (this function's contract); every
                // pointer the block forms stays inside `src`, the packed buffers and the scratch (sized
                // for the longest segment); the output rows × head columns of this task are its own.
                unsafe { block.run(kt, vp, scratch, out_ptr.get()) };
            },
        );
    out
}

struct Scratch {
    /// `[ROW_BLOCK, lp]` scores, then probabilities.
    scores: Vec<f32>,
    /// `[ROW_BLOCK, dp]` unnormalised outputs.
    acc: Vec<f32>,
    sums: Vec<f32>,
}

/// One task: `rows` queries from row `r0` of head `hi` of one segment.
struct Block<'a> {
    src: &'a [f32],
    seg: Segment,
    w: usize,
    d: usize,
    hi: usize,
    r0: usize,
    rows: usize,
    causal: bool,
    scale: f32,
}

impl Block<'_> {
    /// Keys a query row (within the block) sees.
    fn visible(&self, r: usize) -> usize {
        if self.causal {
            self.r0 + r + 1
        } else {
            self.seg.len
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn run(&self, kt: &[f32], vp: &[f32], scratch: &mut Scratch, out: *mut f32) {
        let (d, dp) = (self.d, round16(self.d));
        let keys = self.visible(self.rows - 1);
        let stride = round16(self.seg.len);
        let w3 = 3 * self.w;
        let scores = scratch.scores.as_mut_ptr();
        let q_row = |r: usize| {
            self.src
                .as_ptr()
                .add((self.seg.start + self.r0 + r) * w3 + self.hi * d)
        };

        // Scores, chunk by chunk of keys so that a chunk of `kt` is reused by every panel.
        for jc in (0..round16(keys)).step_by(KEY_CHUNK) {
            for p0 in (0..self.rows).step_by(MR) {
                let pr = MR.min(self.rows - p0);
                let end = round16(self.visible(p0 + pr - 1)).min(jc + KEY_CHUNK);
                let q: [*const f32; MR] = std::array::from_fn(|i| q_row(p0 + i.min(pr - 1)));
                let mut j = jc;
                while j < end {
                    scores_tile(
                        &q,
                        d,
                        kt.as_ptr().add(j * d),
                        scores.add(p0 * stride + j),
                        stride,
                        pr,
                    );
                    j += 16;
                }
            }
        }

        // Softmax rows: exp(scale·(s − max)) over the visible keys, 0 up to `keys`.
        for r in 0..self.rows {
            let row = std::slice::from_raw_parts_mut(scores.add(r * stride), keys);
            let (vis, hidden) = row.split_at_mut(self.visible(r));
            hidden.fill(0.0);
            let max = vis.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            scratch.sums[r] = super::fast_math::exp_shifted_inplace(vis, max, self.scale);
        }

        // p·v into the accumulator, chunk by chunk of keys, one 16-channel slice of v at a time.
        // Zero first, then take the pointer: a pointer taken before the `fill` (which reborrows the
        // whole vector mutably) would be invalidated by it under the aliasing rules.
        scratch.acc[..self.rows * dp].fill(0.0);
        let acc = scratch.acc.as_mut_ptr();
        for jc in (0..keys).step_by(KEY_CHUNK) {
            for dt in (0..dp).step_by(16) {
                for p0 in (0..self.rows).step_by(MR) {
                    let pr = MR.min(self.rows - p0);
                    let end = self.visible(p0 + pr - 1).min(jc + KEY_CHUNK);
                    if end <= jc {
                        continue;
                    }
                    let p: [*const f32; MR] = std::array::from_fn(|i| {
                        scores.add((p0 + i.min(pr - 1)) * stride) as *const f32
                    });
                    pv_tile(
                        &p,
                        vp.as_ptr().add(dt),
                        dp,
                        jc,
                        end,
                        acc.add(p0 * dp + dt),
                        dp,
                        pr,
                    );
                }
            }
        }

        // Normalise and write this head's columns of the output rows.
        for r in 0..self.rows {
            let inv = 1.0 / scratch.sums[r];
            let dst = out.add((self.seg.start + self.r0 + r) * self.w + self.hi * d);
            for c in 0..d {
                *dst.add(c) = *acc.add(r * dp + c) * inv;
            }
        }
    }
}

/// `s[i, 0..16] = q_i · kt_tile` for one 16-key tile (`kt [d, 16]`), rows `i < rows` stored `ss` apart.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn scores_tile(
    q: &[*const f32; MR],
    d: usize,
    kt: *const f32,
    s: *mut f32,
    ss: usize,
    rows: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let mut k = kt;
    for c in 0..d {
        let k0 = _mm256_loadu_ps(k);
        let k1 = _mm256_loadu_ps(k.add(8));
        for i in 0..MR {
            let qb = _mm256_broadcast_ss(&*q[i].add(c));
            acc[i][0] = _mm256_fmadd_ps(qb, k0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(qb, k1, acc[i][1]);
        }
        k = k.add(16);
    }
    for (i, a) in acc.iter().enumerate().take(rows) {
        _mm256_storeu_ps(s.add(i * ss), a[0]);
        _mm256_storeu_ps(s.add(i * ss + 8), a[1]);
    }
}

/// `acc[i, 0..16] += Σ_{j0 ≤ j < j1} p_i[j] · v[j, 0..16]` (`v` rows `vs` apart), rows `i < rows`.
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn pv_tile(
    p: &[*const f32; MR],
    v: *const f32,
    vs: usize,
    j0: usize,
    j1: usize,
    acc_out: *mut f32,
    accs: usize,
    rows: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for j in j0..j1 {
        let vr = v.add(j * vs);
        let v0 = _mm256_loadu_ps(vr);
        let v1 = _mm256_loadu_ps(vr.add(8));
        for i in 0..MR {
            let pb = _mm256_broadcast_ss(&*p[i].add(j));
            acc[i][0] = _mm256_fmadd_ps(pb, v0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(pb, v1, acc[i][1]);
        }
    }
    for (i, a) in acc.iter().enumerate().take(rows) {
        let o = acc_out.add(i * accs);
        _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), a[0]));
        _mm256_storeu_ps(o.add(8), _mm256_add_ps(_mm256_loadu_ps(o.add(8)), a[1]));
    }
}
