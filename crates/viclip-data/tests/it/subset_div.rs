//! DIV sampling (exponential keys, weights 1 / clips of the source video) against its exact law.
//!
//! The table is small and skewed (24 source videos with 1, 2, 4, 8 or 24 clips, 76 clips) so the exact
//! inclusion probabilities can be computed by quadrature: with keys E_i ~ Exp(rate w_i), clip i is
//! chosen iff fewer than n other keys are below its own, so
//!     P(i chosen) = ∫ w_i e^{-w_i t} P(N_{-i}(t) <= n-1) dt,
//! where N_{-i}(t) counts the other clips j with key < t, independently with probability
//! 1 - e^{-w_j t} (a Poisson-binomial law, computed by dynamic programming). A video is covered iff
//! the minimum key over its clips (Exp(rate 1): its weights sum to 1) beats the n-th smallest key of
//! the other videos' clips, the same integral with e^{-t} and N over other videos' clips.
//!
//! Over R = 20,000 seeds each clip's inclusion is Bernoulli(P_i), so the empirical frequency has
//! standard error sqrt(P_i (1 - P_i) / R) exactly; the test accepts |z| <= 4.5 for each of the 76
//! clips and 24 videos (two-sided p = 6.8e-6 each, family-wise < 1e-3), and the mean number of
//! distinct videos within 4.5 empirical standard errors of its expectation. Seeds are fixed, so the
//! outcome is deterministic; the observed worst |z| is printed.

use viclip_data::subset::{div_sample, random_rows};

const COUNTS: [(usize, usize); 5] = [(1, 12), (2, 6), (4, 3), (8, 2), (24, 1)]; // (clips per video, videos)
const N: u64 = 16;
const R: u64 = 20_000;
const Z: f64 = 4.5;

/// (row -> video) of the skewed table, videos numbered in order.
fn table() -> Vec<u32> {
    let mut video = Vec::new();
    let mut v = 0u32;
    for (clips, videos) in COUNTS {
        for _ in 0..videos {
            video.extend(std::iter::repeat_n(v, clips));
            v += 1;
        }
    }
    video
}

/// P(sum of independent Bernoulli(p) <= k).
fn prob_at_most(ps: impl Iterator<Item = f64>, k: usize) -> f64 {
    let mut dp = vec![0.0f64; k + 1];
    dp[0] = 1.0;
    for p in ps {
        for j in (0..=k).rev() {
            dp[j] = dp[j] * (1.0 - p) + if j > 0 { dp[j - 1] * p } else { 0.0 };
        }
    }
    dp.iter().sum()
}

/// ∫_0^1 f(u) du by composite Simpson with `m` (even) intervals.
fn simpson(f: impl Fn(f64) -> f64, m: usize) -> f64 {
    let h = 1.0 / m as f64;
    let mut s = f(0.0) + f(1.0);
    for i in 1..m {
        s += f(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
    }
    s * h / 3.0
}

/// Exact P(clip `i` chosen) for weights `w`.
fn inclusion(w: &[f64], i: usize, n: usize) -> f64 {
    simpson(
        |u| {
            if u >= 1.0 {
                return 0.0;
            }
            let t = -(1.0 - u).ln() / w[i];
            prob_at_most(
                w.iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, wj)| 1.0 - (-wj * t).exp()),
                n - 1,
            )
        },
        4000,
    )
}

/// Exact P(video `v` has a chosen clip).
fn coverage(w: &[f64], video: &[u32], v: u32, n: usize) -> f64 {
    simpson(
        |u| {
            if u >= 1.0 {
                return 0.0;
            }
            let t = -(1.0 - u).ln();
            let others = w
                .iter()
                .zip(video)
                .filter(|(_, vj)| **vj != v)
                .map(|(wj, _)| 1.0 - (-wj * t).exp());
            prob_at_most(others, n - 1)
        },
        4000,
    )
}

#[test]
fn div_inclusion_and_coverage_follow_the_exact_law() {
    let video = table();
    let n_videos = COUNTS.iter().map(|(_, v)| v).sum::<usize>();
    let mut clips_of = vec![0usize; n_videos];
    video.iter().for_each(|&v| clips_of[v as usize] += 1);
    let w: Vec<f64> = video
        .iter()
        .map(|&v| 1.0 / clips_of[v as usize] as f64)
        .collect();

    // Exact probabilities; one representative per clip-count class (clips of equal weight are exchangeable).
    let mut p_clip = vec![0.0; video.len()];
    let mut p_video = vec![0.0; n_videos];
    let mut first = 0usize;
    for (clips, videos) in COUNTS {
        let pc = inclusion(&w, first, N as usize);
        let pv = coverage(&w, &video, video[first], N as usize);
        for k in 0..clips * videos {
            p_clip[first + k] = pc;
        }
        for k in 0..videos {
            p_video[video[first] as usize + k] = pv;
        }
        first += clips * videos;
    }
    // The quadrature is right if the expected sample size is n.
    let sum: f64 = p_clip.iter().sum();
    assert!(
        (sum - N as f64).abs() < 1e-6,
        "sum of inclusion probabilities {sum} != {N}"
    );
    // Higher weight, higher inclusion: the sampler favours clips of videos with few clips.
    let class_p: Vec<f64> = {
        let mut f = 0;
        COUNTS
            .iter()
            .map(|(c, v)| {
                let p = p_clip[f];
                f += c * v;
                p
            })
            .collect()
    };
    assert!(class_p.windows(2).all(|x| x[0] > x[1]), "{class_p:?}");
    let expected_videos: f64 = p_video.iter().sum();

    let mut hits = vec![0u64; video.len()];
    let mut covered = vec![0u64; n_videos];
    let (mut d_sum, mut d_sq) = (0.0f64, 0.0f64);
    let mut seen = vec![u64::MAX; n_videos];
    for s in 0..R {
        let seed = 1_000 + s;
        let rows = div_sample(
            video.iter().enumerate().map(|(r, &v)| (r as u64, v)),
            n_videos,
            N,
            seed,
        );
        assert_eq!(rows.len() as u64, N);
        let mut distinct = 0.0;
        for &r in &rows {
            hits[r as usize] += 1;
            let v = video[r as usize] as usize;
            if seen[v] != s {
                seen[v] = s;
                covered[v] += 1;
                distinct += 1.0;
            }
        }
        d_sum += distinct;
        d_sq += distinct * distinct;
    }
    let rf = R as f64;
    let z = |count: u64, p: f64| (count as f64 / rf - p) / (p * (1.0 - p) / rf).sqrt();
    let worst_clip = hits
        .iter()
        .zip(&p_clip)
        .map(|(&h, &p)| z(h, p).abs())
        .fold(0.0, f64::max);
    let worst_video = covered
        .iter()
        .zip(&p_video)
        .map(|(&c, &p)| z(c, p).abs())
        .fold(0.0, f64::max);
    let mean_d = d_sum / rf;
    let se_d = ((d_sq / rf - mean_d * mean_d) / rf).sqrt();
    let z_d = (mean_d - expected_videos) / se_d;
    eprintln!(
        "DIV: inclusion by class {class_p:.4?}; worst |z| clips {worst_clip:.2}, videos {worst_video:.2}; \
         distinct videos {mean_d:.4} vs expected {expected_videos:.4} (z {z_d:.2}, tolerance {Z})"
    );
    assert!(
        worst_clip <= Z,
        "a clip's inclusion frequency is off by {worst_clip:.2} standard errors"
    );
    assert!(
        worst_video <= Z,
        "a video's coverage frequency is off by {worst_video:.2} standard errors"
    );
    assert!(
        z_d.abs() <= Z,
        "mean distinct videos {mean_d} vs expected {expected_videos} (z {z_d:.2})"
    );
}

#[test]
fn div_covers_more_videos_than_uniform_sampling_on_a_skewed_table() {
    // 1,000 videos with Zipf-like clip counts (video k has ceil(200 / (k+1)) clips): most clips come
    // from a few videos, so a uniform sample re-uses them while DIV spreads over videos.
    let mut video = Vec::new();
    for k in 0..1000u32 {
        video.extend(std::iter::repeat_n(k, 200usize.div_ceil(k as usize + 1)));
    }
    let n = 300;
    let distinct = |rows: &[u64]| {
        let mut v: Vec<u32> = rows.iter().map(|&r| video[r as usize]).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let div = div_sample(
        video.iter().enumerate().map(|(r, &v)| (r as u64, v)),
        1000,
        n,
        42,
    );
    let uni = random_rows(video.len() as u64, n, 42);
    let (dd, du) = (distinct(&div), distinct(&uni));
    eprintln!(
        "{} clips: DIV covers {dd} videos, uniform {du}",
        video.len()
    );
    // Each video weighs 1 in DIV, so n draws from 1,000 equal-weight videos cover ~n(1 - n/2000) of them.
    assert!(dd >= 270 && dd > du + 50, "DIV {dd} vs uniform {du}");
}

#[test]
fn div_is_deterministic_and_seed_dependent() {
    let video = table();
    let items = || video.iter().enumerate().map(|(r, &v)| (r as u64, v));
    let a = div_sample(items(), 24, N, 42);
    assert_eq!(a, div_sample(items(), 24, N, 42));
    assert_ne!(a, div_sample(items(), 24, N, 43));
    assert!(a.windows(2).all(|w| w[0] < w[1]));
    // n at least the candidates: all of them.
    assert_eq!(div_sample(items(), 24, 1000, 42).len(), video.len());
    assert!(div_sample(items(), 24, 0, 42).is_empty());
}
