//! The CLIP image tower's configuration: HF `config.json` (a flat `CLIPVisionConfig` or a full
//! `CLIPConfig` with `vision_config`) or the preset `clip-vit-l14` (docs/reference/datasets.md §3).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::limits::{
    block_parameters, check_parameters, check_range, checked_product, MAX_HEADS, MAX_LAYERS,
    MAX_MLP_WIDTH, MAX_RESOLUTION, MAX_VISION_TOKENS, MAX_WIDTH,
};
use crate::{Error, Result};

/// Names [`ClipVisionConfig::preset`] accepts.
pub const CLIP_PRESETS: [&str; 1] = ["clip-vit-l14"];

/// Shapes of a CLIP ViT image tower plus `visual_projection` (HF `CLIPVisionModelWithProjection`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipVisionConfig {
    /// Side `S` of the square input, pixels (224 for ViT-L/14).
    pub image_size: usize,
    /// Side of a patch, pixels (14 for ViT-L/14); the grid is `S / patch_size` patches a side.
    pub patch_size: usize,
    /// Width `D` of the residual stream (1024 for ViT-L/14).
    pub hidden_size: usize,
    /// Transformer blocks (24 for ViT-L/14).
    pub num_hidden_layers: usize,
    /// Attention heads per block (`D` must divide by it).
    pub num_attention_heads: usize,
    /// Hidden width of each block's MLP (4096 for ViT-L/14).
    pub intermediate_size: usize,
    /// Width `P` of the projected image embedding, `[N, P]` (768 for ViT-L/14).
    pub projection_dim: usize,
    /// Only `quick_gelu` is supported (every OpenAI CLIP uses it).
    pub hidden_act: String,
    /// Only 1e-5 is supported (the shared LayerNorm's eps).
    pub layer_norm_eps: f64,
}

/// HF `CLIPVisionConfig`'s defaults, applied to fields a `config.json` leaves out, as transformers does.
#[derive(Deserialize)]
#[serde(default)]
struct HfVision {
    image_size: usize,
    patch_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    projection_dim: usize,
    num_channels: usize,
    hidden_act: String,
    layer_norm_eps: f64,
    model_type: Option<String>,
}

impl Default for HfVision {
    fn default() -> Self {
        Self {
            image_size: 224,
            patch_size: 32,
            hidden_size: 768,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            intermediate_size: 3072,
            projection_dim: 512,
            num_channels: 3,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
            model_type: None,
        }
    }
}

impl ClipVisionConfig {
    /// OpenAI CLIP ViT-L/14 at 224 px (`openai/clip-vit-large-patch14`).
    pub fn clip_vit_l14() -> Self {
        Self {
            image_size: 224,
            patch_size: 14,
            hidden_size: 1024,
            num_hidden_layers: 24,
            num_attention_heads: 16,
            intermediate_size: 4096,
            projection_dim: 768,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
        }
    }

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size.max(1)
    }

    /// Tokens: patches plus the class token.
    /// Tokens per image: the patch grid plus the class token, `(S / patch)² + 1`.
    pub fn seq_len(&self) -> usize {
        self.grid() * self.grid() + 1
    }

    /// Width of one attention head, `D / heads`.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
    }

    /// Parameters of the tower plus `visual_projection` (`None` if the count overflows a `u64`).
    pub fn parameter_count(&self) -> Option<u64> {
        let (w, p) = (self.hidden_size, self.patch_size);
        let g = self.grid();
        [
            checked_product(&[w, 3, p, p])?,
            checked_product(&[g, g])?
                .checked_add(1)?
                .checked_mul(w as u64)?,
            checked_product(&[5, w])?, // class embedding, pre and post LayerNorms
            checked_product(&[self.projection_dim, w])?,
            block_parameters(self.num_hidden_layers, w, self.intermediate_size)?,
        ]
        .iter()
        .try_fold(0u64, |acc, &n| acc.checked_add(n))
    }

    /// A preset by name: `clip-vit-l14` (also `clip-vit-large-patch14`, `vit-l-14`, `l14`).
    pub fn preset(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "clip-vit-l14" | "clip-vit-l-14" | "clip-vit-large-patch14" | "vit-l-14" | "l14" => {
                Ok(Self::clip_vit_l14())
            }
            _ => Err(Error::Config {
                source_name: name.to_string(),
                msg: format!(
                    "unknown CLIP preset; use one of {CLIP_PRESETS:?} or the path of an HF config.json"
                ),
            }),
        }
    }

    /// Parses an HF config: a `CLIPVisionConfig` object or a `CLIPConfig` with `vision_config` (whose
    /// top-level `projection_dim` wins, as `CLIPModel` uses it for `visual_projection`).
    pub fn from_json_str(json: &str, source_name: &str) -> Result<Self> {
        let err = |msg: String| Error::Config {
            source_name: source_name.to_string(),
            msg,
        };
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let (vision, top_projection) = match value.get("vision_config") {
            Some(v) => (v.clone(), value.get("projection_dim").cloned()),
            None => (value, None),
        };
        let hf: HfVision = serde_json::from_value(vision)
            .map_err(|e| err(format!("not a CLIP vision config: {e}")))?;
        let projection_dim = match top_projection {
            Some(p) => p
                .as_u64()
                .and_then(|p| usize::try_from(p).ok())
                .ok_or_else(|| err(format!("projection_dim {p} is not a positive integer")))?,
            None => hf.projection_dim,
        };
        if let Some(t) = hf.model_type.as_deref() {
            if t != "clip_vision_model" && t != "clip" {
                return Err(err(format!(
                    "model_type `{t}` is not a CLIP vision tower (expected clip_vision_model)"
                )));
            }
        }
        if hf.num_channels != 3 {
            return Err(err(format!(
                "num_channels {} is not supported; CLIP takes RGB (3)",
                hf.num_channels
            )));
        }
        let cfg = Self {
            image_size: hf.image_size,
            patch_size: hf.patch_size,
            hidden_size: hf.hidden_size,
            num_hidden_layers: hf.num_hidden_layers,
            num_attention_heads: hf.num_attention_heads,
            intermediate_size: hf.intermediate_size,
            projection_dim,
            hidden_act: hf.hidden_act,
            layer_norm_eps: hf.layer_norm_eps,
        };
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Reads a Hugging Face `config.json` (or its `vision_config`) and validates it.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let (text, name) = crate::config::read_config_file(path)?;
        Self::from_json_str(&text, &name)
    }

    /// A preset name or a `config.json` path, whichever `spec` is (what `--clip-config` takes).
    pub fn from_name_or_path(spec: &str) -> Result<Self> {
        crate::config::name_or_path(spec, Self::from_json_file, Self::preset)
    }

    /// Checks the numbers make a buildable tower that this crate computes exactly.
    pub fn validate(&self) -> std::result::Result<(), String> {
        // Documented ranges (docs/limits.md) first, so nothing below can overflow or allocate absurdly.
        for (name, v, lo, hi) in [
            ("image_size", self.image_size, 1, MAX_RESOLUTION),
            ("patch_size", self.patch_size, 1, MAX_RESOLUTION),
            ("hidden_size", self.hidden_size, 1, MAX_WIDTH),
            ("num_hidden_layers", self.num_hidden_layers, 0, MAX_LAYERS),
            (
                "num_attention_heads",
                self.num_attention_heads,
                1,
                MAX_HEADS,
            ),
            (
                "intermediate_size",
                self.intermediate_size,
                1,
                MAX_MLP_WIDTH,
            ),
            ("projection_dim", self.projection_dim, 1, MAX_WIDTH),
        ] {
            check_range(name, v, lo, hi)?;
        }
        let tokens = checked_product(&[self.grid(), self.grid()]).map(|n| n.saturating_add(1));
        if tokens.is_none_or(|n| n > MAX_VISION_TOKENS as u64) {
            return Err(format!(
                "image_size {} with patch_size {} is more than the supported {MAX_VISION_TOKENS} tokens (see docs/limits.md)",
                self.image_size, self.patch_size
            ));
        }
        check_parameters("the CLIP vision config", self.parameter_count())?;
        for (name, v) in [
            ("image_size", self.image_size),
            ("patch_size", self.patch_size),
            ("hidden_size", self.hidden_size),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("projection_dim", self.projection_dim),
        ] {
            if v == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        if self.patch_size > self.image_size {
            return Err(format!(
                "patch_size {} is larger than image_size {}",
                self.patch_size, self.image_size
            ));
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return Err(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.hidden_act != "quick_gelu" {
            return Err(format!(
                "hidden_act `{}` is not supported; only quick_gelu (OpenAI CLIP's activation) is implemented",
                self.hidden_act
            ));
        }
        if (self.layer_norm_eps - 1e-5).abs() > 1e-12 {
            return Err(format!(
                "layer_norm_eps {} is not supported; only 1e-5 (OpenAI CLIP's) is implemented",
                self.layer_norm_eps
            ));
        }
        Ok(())
    }
}
