//! Sampling without replacement: uniform ([`random_rows`]) and weighted by 1 / (clips of the source
//! video) ([`div_sample`], InternVid-10M-DIV), both as "keep the n smallest random keys" over a
//! bounded heap: O(N log n) time, O(n) memory beyond the inputs, deterministic for a seed.
//!
//! # Exact weighted sampling: exponential keys
//!
//! Efraimidis & Spirakis ("Weighted random sampling with a reservoir", IPL 97(5), 2006): give item
//! `i` with weight `w_i > 0` the key `k_i = -ln(U_i) / w_i` with `U_i` uniform on (0, 1], i.e. an
//! exponential variable with rate `w_i`, and take the `n` items with the smallest keys. The item with
//! the smallest key is item `i` with probability `w_i / sum(w)` (the minimum of independent exponential
//! clocks), and by memorylessness the next smallest among the rest is again proportional to the
//! remaining weights, and so on: the result has exactly the law of drawing `n` times without
//! replacement, each draw proportional to the weights of the items left (what `numpy.random.choice(N, n,
//! replace=False, p=w / w.sum())` does). Note that this makes an item's overall inclusion probability
//! a monotone function of its weight, not `n * w_i / sum(w)`; the test suite checks the exact values.
//!
//! For DIV, `w = 1 / c_v` where `c_v` counts the candidate clips of the clip's video `v`, so
//! `k = -ln(U) * c_v`. Each video's clips together weigh 1: the first draws spread over videos
//! uniformly, then over clips within a video. `U_r` is output `r` of SplitMix64(seed) (see
//! [`super::rng`]). Ties of keys (probability ~2^-53 per pair) go to the lower row index.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::rng::{splitmix64_at, unit_open0};

/// An f64 with a total order (keys here are never NaN; `total_cmp` makes that irrelevant anyway).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The rows of the `n` smallest `(key, row)` pairs, in increasing row order.
fn smallest<K: Ord + Copy>(items: impl Iterator<Item = (K, u64)>, n: usize) -> Vec<u64> {
    if n == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<(K, u64)> = BinaryHeap::with_capacity(n.min(1 << 24) + 1);
    for item in items {
        if heap.len() < n {
            heap.push(item);
        } else if heap.peek().is_some_and(|top| item < *top) {
            heap.pop();
            heap.push(item);
        }
    }
    let mut rows: Vec<u64> = heap.into_iter().map(|(_, r)| r).collect();
    rows.sort_unstable();
    rows
}

/// A uniform random `n`-subset of the rows `0..n_rows` (all rows when `n >= n_rows`), sorted.
/// Row `r`'s key is output `r` of SplitMix64(seed); the `n` smallest keys win.
pub fn random_rows(n_rows: u64, n: u64, seed: u64) -> Vec<u64> {
    if n >= n_rows {
        return (0..n_rows).collect();
    }
    smallest((0..n_rows).map(|r| (splitmix64_at(seed, r), r)), n as usize)
}

/// A uniform random `n`-subset of the given candidate rows, sorted (keys as in [`random_rows`]).
pub fn random_subset(candidates: impl Iterator<Item = u64>, n: u64, seed: u64) -> Vec<u64> {
    smallest(
        candidates.map(|r| (splitmix64_at(seed, r), r)),
        n.min(usize::MAX as u64) as usize,
    )
}

/// DIV sampling: `n` of the candidate `(row, video)` pairs without replacement, each weighted by
/// 1 / (number of candidates of its video); see the module docs. `n_videos` bounds the video indices.
/// Returns the chosen rows sorted; all candidates when `n` is at least their number.
pub fn div_sample<I>(candidates: I, n_videos: usize, n: u64, seed: u64) -> Vec<u64>
where
    I: Iterator<Item = (u64, u32)> + Clone,
{
    let mut counts = vec![0u32; n_videos];
    let mut total = 0u64;
    for (_, v) in candidates.clone() {
        if let Some(c) = counts.get_mut(v as usize) {
            *c = c.saturating_add(1);
        }
        total += 1;
    }
    if n >= total {
        let mut all: Vec<u64> = candidates.map(|(r, _)| r).collect();
        all.sort_unstable();
        return all;
    }
    let keys = candidates.map(|(r, v)| {
        let c = counts.get(v as usize).copied().unwrap_or(1).max(1);
        (
            Key(-unit_open0(splitmix64_at(seed, r)).ln() * f64::from(c)),
            r,
        )
    });
    smallest(keys, n as usize)
}
