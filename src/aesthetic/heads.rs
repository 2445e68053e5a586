//! The LAION aesthetic predictors (docs/reference/datasets.md §3), applied to L2-normalised CLIP image embeddings:
//!
//! - V1 (`LAION-AI/aesthetic-predictor`, `sa_0_4_vit_l_14_linear.pth`): one `nn.Linear(D, 1)`, keys
//!   `weight [1, D]`, `bias [1]`;
//! - V2 linearMSE (`improved-aesthetic-predictor`, `sac+logos+ava1-l14-linearMSE.pth`): `layers.0/2/4/6/7`
//!   Linears with dropouts between and no activations;
//! - V2 reluMSE: `layers.0/3/6/9/11` with ReLU after every Linear but the last.
//!
//! The kind is detected from the keys; a forced kind keeps the file's Linears (in index order) and sets
//! the activations.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::Linear;

use crate::weights::{read_checkpoint, NamedTensors};
use crate::{Error, Result};

/// Which LAION predictor a head file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeadKind {
    /// `nn.Linear(D, 1)`.
    V1,
    /// improved-aesthetic-predictor MLP without activations (linearMSE).
    V2,
    /// improved-aesthetic-predictor MLP with ReLUs (reluMSE).
    V2Relu,
}

impl HeadKind {
    /// The CLI spelling: `v1`, `v2`, `v2-relu`.
    pub fn as_str(self) -> &'static str {
        match self {
            HeadKind::V1 => "v1",
            HeadKind::V2 => "v2",
            HeadKind::V2Relu => "v2-relu",
        }
    }

    /// The `nn.Sequential` indices of the Linears in the reference's `layers` (none for V1).
    pub fn reference_indices(self) -> &'static [usize] {
        match self {
            HeadKind::V1 => &[],
            HeadKind::V2 => &[0, 2, 4, 6, 7],
            HeadKind::V2Relu => &[0, 3, 6, 9, 11],
        }
    }

    /// The kind whose state-dict keys are exactly `keys`, if any.
    pub fn detect<S: AsRef<str>>(keys: &[S]) -> Option<Self> {
        let mut keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
        keys.sort_unstable();
        if keys == ["bias", "weight"] {
            return Some(HeadKind::V1);
        }
        [HeadKind::V2, HeadKind::V2Relu].into_iter().find(|kind| {
            let mut expected: Vec<String> = kind
                .reference_indices()
                .iter()
                .flat_map(|i| [format!("layers.{i}.weight"), format!("layers.{i}.bias")])
                .collect();
            expected.sort_unstable();
            keys == expected
        })
    }
}

impl fmt::Display for HeadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for HeadKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "v1" | "linear" => Ok(HeadKind::V1),
            "v2" | "v2-linear" | "linearmse" | "v2-linearmse" => Ok(HeadKind::V2),
            "v2-relu" | "v2relu" | "relumse" | "v2-relumse" => Ok(HeadKind::V2Relu),
            other => Err(Error::InvalidInput(format!(
                "head kind `{other}`: use v1, v2 or v2-relu"
            ))),
        }
    }
}

/// A LAION aesthetic predictor head, computed in f32.
#[derive(Debug, Clone)]
pub struct AestheticHead {
    kind: HeadKind,
    detected: Option<HeadKind>,
    layers: Vec<Linear>,
    input_dim: usize,
    path: PathBuf,
}

/// The number in `layers.{n}.weight|bias`, or `None` for any other key.
fn layer_index(key: &str) -> Option<(usize, &str)> {
    let rest = key.strip_prefix("layers.")?;
    let (n, field) = rest.split_once('.')?;
    Some((n.parse().ok()?, field))
}

/// A state dict's tensors as `(index, weight, bias)` in index order (a v1 head's one Linear is
/// index 0), in f32 on `device`. A key that is not a layer's weight or bias is an error.
#[allow(clippy::type_complexity)]
fn layer_tensors(
    tensors: NamedTensors,
    kind: HeadKind,
    keys: &[String],
    path: &Path,
    device: &Device,
) -> Result<Vec<(usize, Option<Tensor>, Option<Tensor>)>> {
    let unknown = |msg: String| Error::UnknownHead {
        path: path.to_path_buf(),
        msg,
    };
    let mut found: Vec<(usize, Option<Tensor>, Option<Tensor>)> = Vec::new();
    for (key, t) in tensors {
        let (idx, field) = match kind {
            HeadKind::V1 => (0, key.as_str()),
            _ => layer_index(&key).ok_or_else(|| {
                unknown(format!(
                    "unexpected key `{key}` for a {kind} head (keys {keys:?})"
                ))
            })?,
        };
        let pos = match found.iter().position(|f| f.0 == idx) {
            Some(p) => p,
            None => {
                found.push((idx, None, None));
                found.len() - 1
            }
        };
        let t = t.to_dtype(DType::F32)?.to_device(device)?;
        match field {
            "weight" => found[pos].1 = Some(t),
            "bias" => found[pos].2 = Some(t),
            _ => {
                return Err(unknown(format!(
                    "unexpected key `{key}` for a {kind} head (keys {keys:?})"
                )))
            }
        }
    }
    found.sort_by_key(|f| f.0);
    Ok(found)
}

/// The Linears of `found` with the head's input size and the last layer's output size, each
/// layer's shapes checked against the previous one's.
#[allow(clippy::type_complexity)]
fn linears(
    found: Vec<(usize, Option<Tensor>, Option<Tensor>)>,
    kind: HeadKind,
    keys: &[String],
    path: &Path,
) -> Result<(Vec<Linear>, usize, Option<usize>)> {
    let unknown = |msg: String| Error::UnknownHead {
        path: path.to_path_buf(),
        msg,
    };
    let mut layers = Vec::with_capacity(found.len());
    let mut input_dim = 0;
    let mut prev_out: Option<usize> = None;
    for (idx, weight, bias) in found {
        let name = |f: &str| match kind {
            HeadKind::V1 => f.to_string(),
            _ => format!("layers.{idx}.{f}"),
        };
        let (Some(weight), Some(bias)) = (weight, bias) else {
            return Err(unknown(format!(
                "`{}` or `{}` is missing (keys {keys:?})",
                name("weight"),
                name("bias")
            )));
        };
        let (out, inp) = weight.dims2().map_err(|_| {
            unknown(format!(
                "`{}` has shape {:?}, expected [out, in]",
                name("weight"),
                weight.dims()
            ))
        })?;
        if bias.dims() != [out] {
            return Err(Error::ShapeMismatch {
                path: path.to_path_buf(),
                name: name("bias"),
                expected: vec![out],
                got: bias.dims().to_vec(),
            });
        }
        match prev_out {
            None => input_dim = inp,
            Some(p) if p != inp => {
                return Err(Error::ShapeMismatch {
                    path: path.to_path_buf(),
                    name: name("weight"),
                    expected: vec![out, p],
                    got: weight.dims().to_vec(),
                })
            }
            Some(_) => {}
        }
        prev_out = Some(out);
        layers.push(Linear::new(weight, Some(bias)));
    }
    Ok((layers, input_dim, prev_out))
}

impl AestheticHead {
    /// Builds the head from a state dict. `forced`: use this kind's activations whatever the keys say
    /// (the Linears are still the file's, in index order).
    pub fn from_tensors(
        tensors: NamedTensors,
        path: &Path,
        forced: Option<HeadKind>,
        device: &Device,
    ) -> Result<Self> {
        let unknown = |msg: String| Error::UnknownHead {
            path: path.to_path_buf(),
            msg,
        };
        let mut keys: Vec<String> = tensors.iter().map(|(k, _)| k.clone()).collect();
        keys.sort_unstable();
        let detected = HeadKind::detect(&keys);
        let kind = match (forced, detected) {
            (Some(k), _) => k,
            (None, Some(k)) => k,
            (None, None) => {
                return Err(unknown(format!(
                    "keys {keys:?} match no known aesthetic head (V1: weight, bias; V2 linearMSE: \
                     layers.0/2/4/6/7; V2 reluMSE: layers.0/3/6/9/11); force the head kind (v1, v2 or \
                     v2-relu) if it is one of them under other indices"
                )))
            }
        };
        let found = layer_tensors(tensors, kind, &keys, path, device)?;
        let (layers, input_dim, prev_out) = linears(found, kind, &keys, path)?;
        if prev_out != Some(1) {
            return Err(unknown(format!(
                "the last layer has {prev_out:?} outputs, an aesthetic head ends in 1 (keys {keys:?})"
            )));
        }
        if kind == HeadKind::V1 && layers.len() != 1 {
            return Err(unknown(format!("a v1 head is one Linear (keys {keys:?})")));
        }
        Ok(Self {
            kind,
            detected,
            layers,
            input_dim,
            path: path.to_path_buf(),
        })
    }

    /// Reads a head file (`.pth` state dict or `.safetensors`).
    pub fn load(path: impl AsRef<Path>, forced: Option<HeadKind>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        Self::from_tensors(read_checkpoint(path)?, path, forced, device)
    }

    /// The kind used to compute (the forced one, else the detected one).
    pub fn kind(&self) -> HeadKind {
        self.kind
    }

    /// The kind the keys identify, `None` when they match no reference layout.
    pub fn detected_kind(&self) -> Option<HeadKind> {
        self.detected
    }

    /// Embedding width the head takes (768 for the ViT-L/14 predictors).
    /// Width of the embeddings the head takes, `[N, input_dim]`.
    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    /// The file the head was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Scores L2-normalised embeddings. Dropouts are identity at inference.
    ///
    /// # Shapes
    /// `x [B, D]` → `[B]` f32.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.to_dtype(DType::F32)?;
        let last = self.layers.len().saturating_sub(1);
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if self.kind == HeadKind::V2Relu && i < last {
                h = h.relu()?;
            }
        }
        h.squeeze(1)
    }
}
