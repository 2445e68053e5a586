//! Clip embeddings for SemDeDup, as `viclip score --embeddings` writes them (clip-retrieval's layout:
//! `video_emb/video_emb_{i}.npy`, float16, L2-normalised, row-aligned with the scored table), held as
//! float16 (2 bytes per dimension per row) and handed out row by row as unit f32 vectors.

use std::path::{Path, PathBuf};

use half::f16;

use super::bits::Bits;
use crate::{Error, Result};
use viclip::frames::natural_cmp;

/// `n` embeddings of dimension `dim`, float16, with a flag for rows that have one (a zero or
/// non-finite row, as a failed clip leaves, has none).
#[derive(Debug, Clone)]
pub struct EmbeddingMatrix {
    dim: usize,
    data: Vec<f16>,
    valid: Bits,
}

impl EmbeddingMatrix {
    /// From f32 rows (tests, small inputs). All rows must have the same length.
    pub fn from_rows(rows: &[Vec<f32>]) -> Result<Self> {
        let dim = rows.first().map_or(0, Vec::len);
        let mut m = Self {
            dim,
            data: Vec::with_capacity(rows.len() * dim),
            valid: Bits::new(0),
        };
        for (i, r) in rows.iter().enumerate() {
            if r.len() != dim {
                return Err(Error::InvalidInput(format!(
                    "embedding row {i} has {} values, row 0 has {dim}",
                    r.len()
                )));
            }
            m.push_row(r);
        }
        Ok(m)
    }

    fn push_row(&mut self, r: &[f32]) {
        let norm = r
            .iter()
            .map(|x| f64::from(*x) * f64::from(*x))
            .sum::<f64>()
            .sqrt();
        let ok = norm.is_finite() && norm > 0.0;
        self.valid.push(ok);
        let inv = if ok { (1.0 / norm) as f32 } else { 0.0 };
        self.data.extend(
            r.iter()
                .map(|x| f16::from_f32(if ok { x * inv } else { 0.0 })),
        );
    }

    /// Reads `path`: one `.npy` file, a directory holding `{kind}_emb/{kind}_emb_{i}.npy` (clip-retrieval
    /// layout; `kind` is `video` or `text`), or a directory of `.npy` files; files are concatenated
    /// in natural order of their names (`_2` before `_10`). Arrays are `(n, dim)`, any float dtype.
    pub fn load(path: &Path, kind: &str) -> Result<Self> {
        let files = embedding_files(path, kind)?;
        let mut m = Self {
            dim: 0,
            data: Vec::new(),
            valid: Bits::new(0),
        };
        for f in &files {
            // Header claims are checked against the file length before anything is allocated.
            let (h, v) = viclip::npy::read_npy_f32(f)?;
            let (n, d) = match h.shape[..] {
                [n, d] => (n, d),
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "{}: shape {:?}, expected (rows, dim) embeddings",
                        f.display(),
                        h.shape
                    )))
                }
            };
            if !m.is_empty() && d != m.dim {
                return Err(Error::InvalidInput(format!(
                    "{}: dimension {d}, earlier files have {}; all shards must come from one model",
                    f.display(),
                    m.dim
                )));
            }
            m.dim = d;
            for r in 0..n {
                m.push_row(&v[r * d..(r + 1) * d]);
            }
        }
        Ok(m)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.valid.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Dimension of each embedding (`E` of the `[N, E]` matrix; 0 when nothing was read).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Whether row `i` has an embedding.
    pub fn is_valid(&self, i: usize) -> bool {
        self.valid.get(i)
    }

    /// Row `i` as a unit vector (renormalised after the float16 rounding) into `out[..dim]`.
    pub fn row_into(&self, i: usize, out: &mut [f32]) {
        let src = &self.data[i * self.dim..(i + 1) * self.dim];
        let mut norm = 0.0f32;
        for (o, s) in out.iter_mut().zip(src) {
            *o = s.to_f32();
            norm += *o * *o;
        }
        if norm > 0.0 {
            let inv = 1.0 / norm.sqrt();
            out.iter_mut().for_each(|o| *o *= inv);
        }
    }
}

fn embedding_files(path: &Path, kind: &str) -> Result<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let sub = path.join(format!("{kind}_emb"));
    let dir = if sub.is_dir() {
        sub
    } else {
        path.to_path_buf()
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let p = entry.map_err(|e| Error::io(&dir, e))?.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "npy") {
            files.push(p);
        }
    }
    files.sort_by(|a, b| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()));
    if files.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{}: no .npy files (expected {kind}_emb/{kind}_emb_{{i}}.npy as a score run writes with its embeddings output on)",
            path.display()
        )));
    }
    Ok(files)
}
