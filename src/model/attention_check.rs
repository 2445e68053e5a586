//! Unit tests of the CPU attention kernels against a naive reference, small enough to run under Miri
//! (`cargo +nightly miri test -p viclip --lib attention_check`, as CI does), which checks the raw
//! pointer arithmetic of the portable path and, where the AVX2 kernels are compiled in, of the tiles.

use super::attention_cpu::{attend_gemm, Segment};

/// Reference attention of one head of one segment of `src [N, 3W]`, straight from the definition.
fn naive(src: &[f32], seg: Segment, w: usize, h: usize, causal: bool) -> Vec<f32> {
    let d = w / h;
    let scale = 1.0 / (d as f32).sqrt();
    let mut out = vec![0f32; (seg.start + seg.len) * w];
    let row = |t: usize| &src[(seg.start + t) * 3 * w..(seg.start + t + 1) * 3 * w];
    for hi in 0..h {
        for i in 0..seg.len {
            let q = &row(i)[hi * d..(hi + 1) * d];
            let keys = if causal { i + 1 } else { seg.len };
            let scores: Vec<f32> = (0..keys)
                .map(|j| {
                    let k = &row(j)[w + hi * d..w + (hi + 1) * d];
                    scale * q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>()
                })
                .collect();
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let p: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f32 = p.iter().sum();
            for c in 0..d {
                let v: f32 = (0..keys).map(|j| p[j] * row(j)[2 * w + hi * d + c]).sum();
                out[(seg.start + i) * w + hi * d + c] = v / sum;
            }
        }
    }
    out
}

/// Deterministic inputs in [-1, 1).
fn input(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Two segments of different lengths with a gap of rows between them (which must come out zero), the
/// longer one past a 16-key tile and a 6-row panel, so every edge case of the tiling is met.
fn case() -> (Vec<f32>, Vec<Segment>, usize, usize) {
    let (w, h) = (16, 2);
    let segs = vec![Segment { start: 0, len: 5 }, Segment { start: 7, len: 19 }];
    (input(26 * 3 * w, 7), segs, w, h)
}

fn check(got: &[f32], src: &[f32], segs: &[Segment], w: usize, h: usize, causal: bool) {
    let mut want = vec![0f32; got.len()];
    for &seg in segs {
        let one = naive(src, seg, w, h, causal);
        want[seg.start * w..(seg.start + seg.len) * w]
            .copy_from_slice(&one[seg.start * w..(seg.start + seg.len) * w]);
    }
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-5,
        "causal {causal}: max abs difference {worst:e}"
    );
}

#[test]
fn portable_path_matches_the_definition() {
    let (src, segs, w, h) = case();
    for causal in [false, true] {
        let scale = 1.0 / ((w / h) as f32).sqrt();
        let got = attend_gemm(&src, &segs, w, h, causal, scale);
        check(&got, &src, &segs, w, h, causal);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_tiles_match_the_definition() {
    // Compiled in (as CI's Miri run does), the kernels must be used, not skipped.
    let compiled_in = cfg!(all(target_feature = "avx2", target_feature = "fma"));
    assert!(!compiled_in || super::attention_tiles::available());
    if !super::attention_tiles::available() {
        // Not this CPU, or a Miri run without `-C target-feature=+avx2,+fma`.
        eprintln!("SKIPPED: the AVX2 attention kernels are not available here");
        return;
    }
    let (src, segs, w, h) = case();
    for causal in [false, true] {
        let scale = 1.0 / ((w / h) as f32).sqrt();
        // SAFETY: AVX2 and FMA were just detected; the segments lie within `src` and w % h == 0.
        let got = unsafe { super::attention_tiles::attend(&src, &segs, w, h, causal, scale) };
        check(&got, &src, &segs, w, h, causal);
    }
}
