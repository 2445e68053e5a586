//! Text search: the query embedded by the run's own text tower, then the exact top-k by cosine over
//! the stored video embeddings (`video_emb/*.npy`, float16, L2-normalised, memory-mapped), every row
//! of every complete shard scanned in parallel.

use std::fs::File;
use std::path::{Path, PathBuf};

use half::f16;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;
use viclip::ViClip;

use super::error::{ViewError, ViewResult};

/// Most hits one search returns.
pub const MAX_K: usize = 100;
/// Longest query, in bytes.
pub const MAX_QUERY: usize = 1000;

/// A memory-mapped `(rows, E)` float16 `.npy` file.
pub struct NpyF16 {
    map: memmap2::Mmap,
    data: usize,
    /// Rows.
    pub rows: usize,
    /// Columns (the embedding size).
    pub dim: usize,
}

impl NpyF16 {
    /// Maps `path` and checks its header: little-endian float16, C order, two dimensions.
    pub fn open(path: &Path) -> ViewResult<NpyF16> {
        let bad = |m: &str| {
            ViewError::Internal(format!(
                "{}: {m}; rerun `viclip score --embeddings` for its shard",
                path.display()
            ))
        };
        let f = File::open(path).map_err(|e| bad(&e.to_string()))?;
        // SAFETY: the file is opened read-only and a finished shard's files are never rewritten in
        // place (the score job writes a new file and renames it over the old).
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(|e| bad(&e.to_string()))?;
        if map.len() < 12 || &map[..6] != b"\x93NUMPY" {
            return Err(bad("not a .npy file"));
        }
        let (hlen, at) = match map[6] {
            1 => (u16::from_le_bytes([map[8], map[9]]) as usize, 10),
            2 | 3 => (
                u32::from_le_bytes([map[8], map[9], map[10], map[11]]) as usize,
                12,
            ),
            _ => return Err(bad("unknown .npy version")),
        };
        let header = map
            .get(at..at + hlen)
            .ok_or_else(|| bad("truncated header"))?;
        let header = std::str::from_utf8(header).map_err(|_| bad("header is not text"))?;
        if !header.contains("'<f2'") || header.contains("'fortran_order': True") {
            return Err(bad("not little-endian float16 in C order"));
        }
        let shape = header
            .split_once("'shape':")
            .and_then(|(_, r)| r.split_once('('))
            .and_then(|(_, r)| r.split_once(')'))
            .map(|(s, _)| s)
            .ok_or_else(|| bad("no shape"))?;
        let dims: Vec<usize> = shape
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect();
        let [rows, dim] = dims[..] else {
            return Err(bad("not two-dimensional"));
        };
        let data = at + hlen;
        if map.len() < data + rows * dim * 2 || data % 2 != 0 {
            return Err(bad("shorter than its shape"));
        }
        Ok(NpyF16 {
            map,
            data,
            rows,
            dim,
        })
    }

    /// The values, row after row.
    pub fn values(&self) -> &[f16] {
        let bytes = &self.map[self.data..self.data + self.rows * self.dim * 2];
        // SAFETY: f16 is a plain two-byte value valid for any bits, with alignment 2; `data` is even
        // and maps are page-aligned, so the middle part is the whole slice (checked in debug builds).
        let (pre, v, _) = unsafe { bytes.align_to::<f16>() };
        debug_assert!(pre.is_empty());
        v
    }
}

/// A hit: the clip id and its cosine to the query.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Hit {
    /// The clip id.
    pub id: u64,
    /// Cosine of the query and the clip's video embedding.
    pub score: f32,
}

/// Keeps the `k` best of `hits` (descending, ties to the lower id).
fn top(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    hits.sort_unstable_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    hits.truncate(k);
    hits
}

/// The top `k` rows of the shards `(first id, npy path)` by dot product with `query`.
pub fn scan(shards: &[(u64, PathBuf)], query: &[f32], k: usize) -> ViewResult<Vec<Hit>> {
    let maps = shards
        .iter()
        .map(|(first, p)| NpyF16::open(p).map(|m| (*first, m)))
        .collect::<ViewResult<Vec<_>>>()?;
    if let Some((_, m)) = maps.iter().find(|(_, m)| m.dim != query.len()) {
        return Err(ViewError::Internal(format!(
            "video embeddings of size {} but the model's text embeddings have {}; the run was \
             scored with another model",
            m.dim,
            query.len()
        )));
    }
    // Each chunk's float16 rows are widened into a buffer of CHUNK x E floats that stays in cache
    // (3 MB at E = 768), then dotted with the query by candle's vector kernel (AVX2 where the CPU
    // has it, compiled optimised in every profile; a matrix-vector product through its gemm was
    // five times slower).
    const CHUNK: usize = 1024;
    let jobs: Vec<(u64, &NpyF16, usize)> = maps
        .iter()
        .flat_map(|(first, m)| (0..m.rows).step_by(CHUNK).map(move |r| (*first, m, r)))
        .collect();
    let hits = jobs
        .par_iter()
        .map(|&(first, m, r0)| -> ViewResult<Vec<Hit>> {
            use candle_core::cpu::kernels::VecOps;
            let e = m.dim;
            let r1 = (r0 + CHUNK).min(m.rows);
            let mut buf = vec![0f32; (r1 - r0) * e];
            m.values()[r0 * e..r1 * e].convert_to_f32_slice(&mut buf);
            let scores = buf.chunks_exact(e).map(|row| {
                let mut s = 0f32;
                // SAFETY: `row` and `query` both hold `e` values (checked above) and `s` is one.
                unsafe { f32::vec_dot(row.as_ptr(), query.as_ptr(), &mut s, e) };
                s
            });
            let mut best = Vec::with_capacity(4 * k + 1);
            let mut floor = f32::NEG_INFINITY;
            for (i, s) in scores.enumerate() {
                // A row without a video embedding is stored as zeros (its clip failed): no hit.
                let r = r0 + i;
                if s == 0.0 && buf[i * e..(i + 1) * e].iter().all(|x| *x == 0.0) {
                    continue;
                }
                if best.len() < k || s > floor {
                    best.push(Hit {
                        id: first + r as u64,
                        score: s,
                    });
                    if best.len() > 4 * k {
                        best = top(best, k);
                        floor = best.last().map_or(f32::NEG_INFINITY, |h| h.score);
                    }
                }
            }
            Ok(top(best, k))
        })
        .try_reduce(Vec::new, |a, b| Ok(top([a, b].concat(), k)))?;
    Ok(hits)
}

/// The query's text embedding, L2-normalised.
pub fn embed_query(model: &ViClip, q: &str) -> ViewResult<Vec<f32>> {
    let e = model.embed_texts(&[q])?;
    let mut rows = e.to_vec2()?;
    rows.pop()
        .ok_or_else(|| ViewError::Internal("the text tower returned no embedding".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_top_k_over_shards_without_zero_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
        // Shard a: rows 0..3 (row 1 has no embedding); shard b: ids 10..12.
        let rows_a = [1.0, 0.0, 0.0, 0.0, 0.6, 0.8];
        let rows_b = [0.0, 1.0, 0.8, 0.6];
        viclip_data::score::write_npy_f16(&a, 3, 2, &rows_a).unwrap();
        viclip_data::score::write_npy_f16(&b, 2, 2, &rows_b).unwrap();
        let shards = [(0, a), (10, b)];
        let hits = scan(&shards, &[1.0, 0.0], 10).unwrap();
        let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        assert_eq!(ids, [0, 11, 2, 10]);
        assert!((hits[1].score - 0.8).abs() < 1e-3);
        assert_eq!(scan(&shards, &[0.0, 1.0], 1).unwrap()[0].id, 10);
        let e = scan(&shards, &[1.0, 0.0, 0.0], 1).unwrap_err();
        assert!(e.message().contains("another model"), "{e}");
    }
}
