//! The OpenAI CLIP ViT image tower with `visual_projection`, loaded from HF transformers' key names
//! (`CLIPVisionModelWithProjection`; a full `CLIPModel` file works too, its text half is ignored).
//!
//! The network is the ViCLIP vision tower with one frame under other names, so it reuses the shared
//! residual block: HF's separate `q_proj`/`k_proj`/`v_proj` are packed into one q|k|v projection at load
//! time, `fc1`/`fc2` with QuickGELU are the block's MLP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::Linear;

use super::config::ClipVisionConfig;
use crate::model::block::{Attention, LayerNorm, Mlp, ResidualBlock};
use crate::weights::{read_checkpoint, NamedTensors};
use crate::{Error, Result};

const PREFIX: &str = "vision_model.";
const PROJECTION: &str = "visual_projection.weight";

/// Activations of one forward pass, for parity tests against HF's intermediates.
#[derive(Debug, Clone)]
pub struct ClipVisionTrace {
    /// Patch tokens with the class token prepended, plus position embeddings: `[B, L, W]`.
    pub embeddings: Tensor,
    /// After `pre_layrnorm`: `[B, L, W]`.
    pub pre_layrnorm: Tensor,
    /// Output of each encoder layer: `[B, L, W]`.
    pub layers: Vec<Tensor>,
    /// `post_layernorm` of the class token (HF `pooler_output`): `[B, W]`.
    pub pooled: Tensor,
    /// `visual_projection(pooled)`, not normalised: `[B, P]`.
    pub image_embeds: Tensor,
}

/// CLIP ViT image tower + `visual_projection`.
#[derive(Debug, Clone)]
pub struct ClipVisionModel {
    /// `patch_embedding.weight [W, 3, p, p]` as `[3·p·p, W]`: the stride-p conv as one matmul.
    patch_weight: Tensor,
    class_embedding: Tensor,
    position_embedding: Tensor,
    pre_layrnorm: LayerNorm,
    layers: Vec<ResidualBlock>,
    post_layernorm: LayerNorm,
    /// `visual_projection.weight [P, W]` transposed to `[W, P]`.
    projection: Tensor,
    cfg: ClipVisionConfig,
}

/// Strict tensor lookup: names the file and the tensor in every error.
struct Store<'a> {
    path: &'a Path,
    map: HashMap<String, Tensor>,
    device: &'a Device,
    dtype: DType,
}

impl Store<'_> {
    fn get(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.map.remove(name).ok_or_else(|| Error::MissingTensor {
            path: self.path.to_path_buf(),
            name: name.to_string(),
            expected: shape.to_vec(),
        })?;
        if t.dims() != shape {
            return Err(Error::ShapeMismatch {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                expected: shape.to_vec(),
                got: t.dims().to_vec(),
            });
        }
        if !t.dtype().is_float() {
            return Err(Error::UnsupportedDType {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                dtype: format!("{:?}", t.dtype()),
            });
        }
        Ok(t.to_dtype(self.dtype)?.to_device(self.device)?)
    }

    fn vision(&mut self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.get(&format!("{PREFIX}{name}"), shape)
    }

    fn layer_norm(&mut self, name: &str, w: usize) -> Result<LayerNorm> {
        let weight = self.vision(&format!("{name}.weight"), &[w])?;
        let bias = self.vision(&format!("{name}.bias"), &[w])?;
        Ok(LayerNorm::from_tensors(weight, bias)?)
    }

    fn weight_bias(&mut self, name: &str, out: usize, inp: usize) -> Result<(Tensor, Tensor)> {
        let weight = self.vision(&format!("{name}.weight"), &[out, inp])?;
        let bias = self.vision(&format!("{name}.bias"), &[out])?;
        Ok((weight, bias))
    }

    fn linear(&mut self, name: &str, out: usize, inp: usize) -> Result<Linear> {
        let (weight, bias) = self.weight_bias(name, out, inp)?;
        Ok(Linear::new(weight, Some(bias)))
    }
}

impl ClipVisionModel {
    /// Builds the tower from a checkpoint's tensors. Reads `vision_model.*` and
    /// `visual_projection.weight`; ignores the text half of a full CLIP file (`text_model.*`,
    /// `text_projection.weight`, `logit_scale`) and integer `position_ids` buffers. A missing or
    /// misshapen vision tensor, or an unknown one under `vision_model.`, is an error naming it.
    pub fn from_tensors(
        cfg: &ClipVisionConfig,
        tensors: NamedTensors,
        path: &Path,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        cfg.validate().map_err(|msg| Error::Config {
            source_name: "CLIP vision config".into(),
            msg,
        })?;
        let map = tensors
            .into_iter()
            .filter(|(k, _)| k.starts_with(PREFIX) || k == PROJECTION)
            .filter(|(k, _)| !k.ends_with("position_ids"))
            .collect();
        let mut st = Store {
            path,
            map,
            device,
            dtype,
        };
        let (w, p, g) = (cfg.hidden_size, cfg.patch_size, cfg.grid());
        // Checked: the sizes come from a user's config (validated ranges keep these far from overflow).
        let overflow = || Error::Config {
            source_name: "CLIP vision config".into(),
            msg: "sizes overflow".into(),
        };
        let (n_pos, patch_in) = crate::limits::patch_embedding_sizes(g, p).ok_or_else(overflow)?;
        let class_embedding = st.vision("embeddings.class_embedding", &[w])?;
        let conv = st.vision("embeddings.patch_embedding.weight", &[w, 3, p, p])?;
        let patch_weight = conv.reshape((w, patch_in))?.t()?.contiguous()?;
        let position_embedding = st.vision("embeddings.position_embedding.weight", &[n_pos, w])?;
        let pre_layrnorm = st.layer_norm("pre_layrnorm", w)?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = format!("encoder.layers.{i}");
            let (qw, qb) = st.weight_bias(&format!("{l}.self_attn.q_proj"), w, w)?;
            let (kw, kb) = st.weight_bias(&format!("{l}.self_attn.k_proj"), w, w)?;
            let (vw, vb) = st.weight_bias(&format!("{l}.self_attn.v_proj"), w, w)?;
            let out_proj = st.linear(&format!("{l}.self_attn.out_proj"), w, w)?;
            // HF keeps q, k, v apart; the shared attention takes them packed as nn.MultiheadAttention.
            let in_w = Tensor::cat(&[&qw, &kw, &vw], 0)?;
            let in_b = Tensor::cat(&[&qb, &kb, &vb], 0)?;
            let attn = Attention::from_parts(in_w, in_b, out_proj, cfg.num_attention_heads)?;
            let ln_1 = st.layer_norm(&format!("{l}.layer_norm1"), w)?;
            let fc1 = st.linear(&format!("{l}.mlp.fc1"), cfg.intermediate_size, w)?;
            let fc2 = st.linear(&format!("{l}.mlp.fc2"), w, cfg.intermediate_size)?;
            let ln_2 = st.layer_norm(&format!("{l}.layer_norm2"), w)?;
            layers.push(ResidualBlock::from_parts(
                ln_1,
                attn,
                ln_2,
                Mlp::from_linears(fc1, fc2),
            ));
        }
        let post_layernorm = st.layer_norm("post_layernorm", w)?;
        let projection = st
            .get(PROJECTION, &[cfg.projection_dim, w])?
            .t()?
            .contiguous()?;
        if let Some(name) = st.map.keys().min() {
            let shape = st.map[name].dims().to_vec();
            return Err(Error::UnexpectedTensor {
                path: path.to_path_buf(),
                name: name.clone(),
                shape,
            });
        }
        Ok(Self {
            patch_weight,
            class_embedding,
            position_embedding,
            pre_layrnorm,
            layers,
            post_layernorm,
            projection,
            cfg: cfg.clone(),
        })
    }

    /// Reads `path` (`.safetensors` or `.pth`) and builds the tower on `device` in `dtype`.
    pub fn load(
        path: impl AsRef<Path>,
        cfg: &ClipVisionConfig,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let path: PathBuf = path.as_ref().to_path_buf();
        let tensors = read_checkpoint(&path)?;
        Self::from_tensors(cfg, tensors, &path, device, dtype)
    }

    /// The tower's shapes.
    pub fn config(&self) -> &ClipVisionConfig {
        &self.cfg
    }

    /// The device the weights live on (inputs are moved there).
    pub fn device(&self) -> &Device {
        self.projection.device()
    }

    /// The dtype of the weights and activations.
    pub fn dtype(&self) -> DType {
        self.projection.dtype()
    }

    /// Patch + class + position embeddings (HF `CLIPVisionEmbeddings`).
    ///
    /// # Shapes
    /// `x [B, 3, S, S]` (S = `image_size`) → `[B, g² + 1, W]`.
    pub fn embeddings(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, _, _) = x.dims4()?;
        let (p, g, w) = (self.cfg.patch_size, self.cfg.grid(), self.cfg.hidden_size);
        let x = x.to_dtype(self.dtype())?;
        // The strided conv drops a remainder of fewer than p pixels at the bottom/right.
        let x = x.narrow(2, 0, g * p)?.narrow(3, 0, g * p)?;
        let patches = x
            .reshape((b, c, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))? // [B, g, g, 3, p, p]: patches row-major, as conv + flatten(2)
            .reshape((b * g * g, c * p * p))?
            .matmul(&self.patch_weight)?
            .reshape((b, g * g, w))?;
        let cls = self
            .class_embedding
            .reshape((1, 1, w))?
            .broadcast_as((b, 1, w))?;
        Tensor::cat(&[&cls, &patches], 1)?.broadcast_add(&self.position_embedding.unsqueeze(0)?)
    }

    /// The forward pass keeping every intermediate the golden data records.
    ///
    /// # Shapes
    /// `x [B, 3, S, S]` → see [`ClipVisionTrace`].
    pub fn trace(&self, x: &Tensor) -> candle_core::Result<ClipVisionTrace> {
        let embeddings = self.embeddings(x)?;
        let pre_layrnorm = self.pre_layrnorm.forward(&embeddings)?;
        let mut h = pre_layrnorm.clone();
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            h = layer.forward(&h, false)?;
            layers.push(h.clone());
        }
        let pooled = self
            .post_layernorm
            .forward(&h.narrow(1, 0, 1)?.squeeze(1)?)?;
        let image_embeds = pooled.matmul(&self.projection)?;
        Ok(ClipVisionTrace {
            embeddings,
            pre_layrnorm,
            layers,
            pooled,
            image_embeds,
        })
    }

    /// HF `CLIPVisionModelWithProjection(...).image_embeds`, not normalised.
    ///
    /// # Shapes
    /// `x [B, 3, S, S]` (any float dtype) → `[B, P]` in the model dtype.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = self.pre_layrnorm.forward(&self.embeddings(x)?)?;
        // Only the class token is read (post_layernorm is per token), so the last layer computes
        // that row alone.
        let cls = match self.layers.split_last() {
            Some((last, rest)) => {
                for layer in rest {
                    h = layer.forward(&h, false)?;
                }
                last.forward_rows(&h, &vec![0; h.dim(0)?], false)?
            }
            None => h.narrow(1, 0, 1)?.squeeze(1)?,
        };
        self.post_layernorm.forward(&cls)?.matmul(&self.projection)
    }
}
