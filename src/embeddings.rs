//! L2-normalised embeddings and the similarities the demo and evaluations compute from them (docs/reference/architecture.md §5).

use candle_core::{DType, Tensor, D};

use crate::{Error, Result};

/// The demo's fixed logit scale: `softmax(100 · v̂·t̂ᵀ)`; the checkpoint's `temp` is not used (docs/reference/architecture.md §5).
pub const DEMO_LOGIT_SCALE: f64 = 100.0;

/// Row-wise L2-normalised embeddings, `[n, E]` float32.
#[derive(Debug, Clone)]
pub struct Embeddings(Tensor);

impl Embeddings {
    /// Normalises each row of `x [n, E]` by its L2 norm (plain norm, no epsilon, as `get_vid_features`).
    pub fn from_unnormalized(x: &Tensor) -> Result<Self> {
        let x = x.to_dtype(DType::F32)?;
        let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        Ok(Self(x.broadcast_div(&norm)?))
    }

    /// `[n, E]` float32.
    pub fn tensor(&self) -> &Tensor {
        &self.0
    }

    /// The `[n, E]` float32 tensor, taken out.
    pub fn into_tensor(self) -> Tensor {
        self.0
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.0.dims().first().copied().unwrap_or(0)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Embedding dimension E.
    pub fn dim(&self) -> usize {
        self.0.dims().get(1).copied().unwrap_or(0)
    }

    /// The rows as vectors (copied to the CPU).
    pub fn to_vec2(&self) -> Result<Vec<Vec<f32>>> {
        Ok(self.0.to_vec2::<f32>()?)
    }

    /// The rows as an `ndarray::Array2<f32>` of shape `[n, E]` (`ndarray` feature).
    ///
    /// "Without a copy where possible" means one copy, not zero: candle's storage is shared
    /// (reference-counted) and, on a GPU, lives on the device, so the values are copied once into a
    /// flat `Vec<f32>` (on a GPU that copy is the transfer to the host), and that `Vec` becomes the
    /// array's buffer as it is ([`ndarray::Array2::from_shape_vec`]), without a second copy.
    #[cfg(feature = "ndarray")]
    pub fn to_ndarray(&self) -> Result<ndarray::Array2<f32>> {
        let (n, e) = (self.len(), self.dim());
        // A contiguous tensor flattens as a view; only a strided one is made contiguous first.
        let flat = self.0.flatten_all()?.to_vec1::<f32>()?;
        ndarray::Array2::from_shape_vec((n, e), flat)
            .map_err(|err| Error::Internal(format!("embeddings [{n}, {e}] as an ndarray: {err}")))
    }

    /// [`Embeddings::to_ndarray`], consuming the embeddings: the same single copy, and the tensor's
    /// memory is released when this was its last reference (`ndarray` feature).
    #[cfg(feature = "ndarray")]
    pub fn into_ndarray(self) -> Result<ndarray::Array2<f32>> {
        self.to_ndarray()
    }

    fn check_dims(&self, other: &Embeddings, what: &str) -> Result<()> {
        if self.dim() != other.dim() {
            return Err(Error::InvalidInput(format!(
                "{what}: embedding dimensions differ ({} vs {}); both sides must come from the same model",
                self.dim(),
                other.dim()
            )));
        }
        Ok(())
    }

    /// Cosine similarities `[n, m]` between these rows and `other`'s.
    pub fn cosine_matrix(&self, other: &Embeddings) -> Result<Tensor> {
        self.check_dims(other, "cosine matrix")?;
        let other = other.0.to_device(self.0.device())?;
        Ok(self.0.matmul(&other.t()?)?)
    }

    /// Cosine of row i with `other`'s row i (clip-caption scores): `n` values.
    pub fn paired_scores(&self, other: &Embeddings) -> Result<Vec<f32>> {
        self.check_dims(other, "paired scores")?;
        if self.len() != other.len() {
            return Err(Error::InvalidInput(format!(
                "paired scores: {} videos but {} captions; pass one caption per clip",
                self.len(),
                other.len()
            )));
        }
        let other = other.0.to_device(self.0.device())?;
        Ok((&self.0 * &other)?.sum(D::Minus1)?.to_vec1::<f32>()?)
    }

    /// The demo's probabilities `softmax(100 · self · otherᵀ)` over `other`'s rows, `[n, m]`.
    pub fn demo_probs(&self, other: &Embeddings) -> Result<Tensor> {
        let logits = (self.cosine_matrix(other)? * DEMO_LOGIT_SCALE)?;
        Ok(candle_nn::ops::softmax_last_dim(&logits)?)
    }
}

/// The `k` largest entries of each row of `scores [n, m]`, largest first, as `(column, value)`; ties keep
/// the lower column first. `k` larger than `m` returns all columns.
pub fn top_k(scores: &Tensor, k: usize) -> Result<Vec<Vec<(usize, f32)>>> {
    let rows = scores.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut idx: Vec<usize> = (0..row.len()).collect();
            idx.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            idx.into_iter().take(k).map(|i| (i, row[i])).collect()
        })
        .collect())
}

/// CLIP-SIM of one clip and its caption: the dot product of their unit embeddings `[E]` and `[E]`,
/// summed in element order. The streaming scorer and `viclip score`'s `viclip_sim` column both use
/// it, so the two give the same bits.
pub fn clip_sim(video: &[f32], caption: &[f32]) -> f32 {
    video.iter().zip(caption).map(|(a, b)| a * b).sum()
}
