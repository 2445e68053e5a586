//! SemDeDup (Abbas et al., "SemDeDup: data-efficient learning at web-scale through semantic
//! deduplication", arXiv 2303.09540) on clip embeddings:
//!
//! 1. spherical k-means: `clusters` centroids started at distinct random rows (seeded), Lloyd
//!    iterations with cosine assignment (ties to the lower cluster) and centroid = normalised member
//!    mean, until no row changes cluster or `iters` is reached; an emptied cluster keeps its centroid;
//! 2. inside each cluster, rows sorted by cosine to the centroid, farthest first (ties: lower row
//!    first), the order in which rows are offered for keeping (SemDeDup keeps the "hard", atypical
//!    examples);
//! 3. a row is dropped when its cosine to a row already kept in its cluster exceeds `1 - eps`.
//!
//! Step 3 compares with kept rows only, so a chain a ~ b ~ c where a and c
//! are not near-duplicates keeps c when b is dropped; the reference code compares with every earlier
//! row, which would drop c too. Near-duplicates that land in different clusters are not compared (as in
//! SemDeDup). Cost: O(n k d) per k-means iteration (a matrix product) and O(sum of cluster size^2 x d)
//! for step 3, so choose `clusters` to keep clusters in the thousands. Deterministic for a seed on a
//! given machine; on another CPU the matrix product may round differently, which can move a row that
//! sits on a cluster boundary to within float rounding.

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::Serialize;

use super::embeddings::EmbeddingMatrix;
use super::sample::random_subset;
use crate::{Error, Result, Setting};

/// SemDeDup's parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DedupOptions {
    /// Drop when the cosine to a kept row exceeds `1 - eps`.
    pub eps: f64,
    /// Further eps values whose kept fractions are reported (not written).
    pub sweep: Vec<f64>,
    /// Number of k-means clusters asked for (at least 1; capped at the rows with an embedding).
    pub clusters: usize,
    /// Maximum k-means iterations.
    pub iters: usize,
    /// Seed of the random choice of the rows that start the centroids.
    pub seed: u64,
}

impl Default for DedupOptions {
    fn default() -> Self {
        Self {
            eps: 0.05,
            sweep: Vec::new(),
            clusters: 100,
            iters: 20,
            seed: 42,
        }
    }
}

/// Result of [`semdedup`].
#[derive(Debug, Clone)]
pub struct Dedup {
    /// For each eps (`opts.eps` first, then `opts.sweep`): the dropped rows, sorted.
    pub dropped: Vec<(f64, Vec<u64>)>,
    /// Cluster of each row (`u32::MAX` for rows without an embedding).
    pub cluster: Vec<u32>,
    /// Number of clusters used: `opts.clusters`, capped at the rows with an embedding (at least 1).
    pub clusters: usize,
    /// Lloyd iterations run (at most `opts.iters`, fewer once no row changes cluster).
    pub iterations: usize,
    /// Members of the largest cluster (rows with an embedding only).
    pub largest_cluster: usize,
}

/// Runs SemDeDup over `emb`; see the module docs.
pub fn semdedup(emb: &EmbeddingMatrix, opts: &DedupOptions) -> Result<Dedup> {
    for &e in std::iter::once(&opts.eps).chain(&opts.sweep) {
        if !(0.0..2.0).contains(&e) {
            return Err(Error::setting(
                Setting::DedupEps,
                e,
                "must be in [0, 2) (a cosine threshold 1 - eps)",
            ));
        }
    }
    if opts.clusters == 0 {
        return Err(Error::setting(
            Setting::DedupClusters,
            0,
            "must be at least 1",
        ));
    }
    let d = emb.dim();
    let valid: Vec<usize> = (0..emb.len()).filter(|&i| emb.is_valid(i)).collect();
    let k = opts.clusters.min(valid.len()).max(1);
    let mut cluster = vec![u32::MAX; emb.len()];
    let mut cos = vec![0f32; emb.len()];
    let mut centroids = vec![0f32; k * d];
    for (c, r) in random_subset(valid.iter().map(|&i| i as u64), k as u64, opts.seed)
        .into_iter()
        .enumerate()
    {
        emb.row_into(r as usize, &mut centroids[c * d..(c + 1) * d]);
    }
    let mut iterations = 0;
    for it in 0..opts.iters.max(1) {
        iterations = it + 1;
        let changed = assign(emb, &valid, &centroids, k, &mut cluster, &mut cos)?;
        if !changed && it > 0 {
            break;
        }
        update(emb, &valid, &cluster, &mut centroids, k);
    }
    // Final assignment against the final centroids, so `cos` is the cosine to the row's own centroid.
    assign(emb, &valid, &centroids, k, &mut cluster, &mut cos)?;
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); k];
    for &i in &valid {
        members[cluster[i] as usize].push(i as u32);
    }
    let largest_cluster = members.iter().map(Vec::len).max().unwrap_or(0);
    let eps_list: Vec<f64> = std::iter::once(opts.eps)
        .chain(opts.sweep.iter().copied())
        .collect();
    let per_cluster: Vec<Vec<Vec<u64>>> = members
        .par_iter_mut()
        .map(|m| {
            m.sort_by(|&a, &b| cos[a as usize].total_cmp(&cos[b as usize]).then(a.cmp(&b)));
            greedy(emb, m, &eps_list)
        })
        .collect();
    let dropped = eps_list
        .iter()
        .enumerate()
        .map(|(e, &eps)| {
            let mut rows: Vec<u64> = per_cluster
                .iter()
                .flat_map(|c| c[e].iter().copied())
                .collect();
            rows.sort_unstable();
            (eps, rows)
        })
        .collect();
    Ok(Dedup {
        dropped,
        cluster,
        clusters: k,
        iterations,
        largest_cluster,
    })
}

/// Assigns each valid row to its most similar centroid; returns whether any assignment changed.
fn assign(
    emb: &EmbeddingMatrix,
    valid: &[usize],
    centroids: &[f32],
    k: usize,
    cluster: &mut [u32],
    cos: &mut [f32],
) -> Result<bool> {
    let d = emb.dim();
    let ct = Tensor::from_slice(centroids, (k, d), &Device::Cpu)?
        .t()?
        .contiguous()?;
    let mut changed = false;
    let mut buf = Vec::new();
    for chunk in valid.chunks(4096) {
        buf.clear();
        buf.resize(chunk.len() * d, 0.0);
        for (j, &i) in chunk.iter().enumerate() {
            emb.row_into(i, &mut buf[j * d..(j + 1) * d]);
        }
        let x = Tensor::from_slice(&buf, (chunk.len(), d), &Device::Cpu)?;
        let sims = x.matmul(&ct)?.to_vec2::<f32>()?;
        for (&i, s) in chunk.iter().zip(&sims) {
            let (best, val) =
                s.iter()
                    .enumerate()
                    .fold((0usize, f32::NEG_INFINITY), |acc, (c, &v)| {
                        if v > acc.1 {
                            (c, v)
                        } else {
                            acc
                        }
                    });
            if cluster[i] != best as u32 {
                changed = true;
                cluster[i] = best as u32;
            }
            cos[i] = val;
        }
    }
    Ok(changed)
}

/// Centroid = normalised sum of its rows (in f64, in row order: deterministic); empty clusters keep
/// theirs.
fn update(
    emb: &EmbeddingMatrix,
    valid: &[usize],
    cluster: &[u32],
    centroids: &mut [f32],
    k: usize,
) {
    let d = emb.dim();
    let mut sums = vec![0f64; k * d];
    let mut row = vec![0f32; d];
    for &i in valid {
        let c = cluster[i] as usize;
        emb.row_into(i, &mut row);
        for (s, x) in sums[c * d..(c + 1) * d].iter_mut().zip(&row) {
            *s += f64::from(*x);
        }
    }
    for c in 0..k {
        let s = &sums[c * d..(c + 1) * d];
        let norm = s.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            for (o, x) in centroids[c * d..(c + 1) * d].iter_mut().zip(s) {
                *o = (x / norm) as f32;
            }
        }
    }
}

/// Step 3 for one cluster whose `members` are in keeping order; the dropped rows per eps.
fn greedy(emb: &EmbeddingMatrix, members: &[u32], eps_list: &[f64]) -> Vec<Vec<u64>> {
    let d = emb.dim();
    let mut x = vec![0f32; members.len() * d];
    for (j, &i) in members.iter().enumerate() {
        emb.row_into(i as usize, &mut x[j * d..(j + 1) * d]);
    }
    let row = |j: usize| &x[j * d..(j + 1) * d];
    eps_list
        .iter()
        .map(|&eps| {
            let threshold = (1.0 - eps) as f32;
            let mut kept: Vec<usize> = Vec::new();
            let mut dropped = Vec::new();
            for (j, &member) in members.iter().enumerate() {
                if kept.iter().any(|&k| dot(row(j), row(k)) > threshold) {
                    dropped.push(u64::from(member));
                } else {
                    kept.push(j);
                }
            }
            dropped
        })
        .collect()
}

/// Dot product with eight partial sums (lets the compiler vectorise it).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}
