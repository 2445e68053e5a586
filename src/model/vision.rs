//! The ViCLIP video tower (`VisionTransformer`, docs/reference/architecture.md §2): per-frame patch embedding (Conv3d with a
//! temporal kernel of 1), class token, spatial and temporal position embeddings, joint space-time
//! attention over `1 + g²·T` tokens, `ln_post` on the class token, `@ proj`.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::block::{blocks, LayerNorm, ResidualBlock};
use crate::config::VisionConfig;

/// Activations of one forward pass, for parity tests against the reference's intermediates.
#[derive(Debug, Clone)]
pub struct VisionTrace {
    /// Patch embedding `[B, W, T, g, g]` (the reference's Conv3d output layout).
    pub conv1_out: Tensor,
    /// Tokens entering `ln_pre`, `[B, 1 + g²·T, W]`, in the reference's order: CLS, then `1 + n·T + t`.
    pub ln_pre_in: Tensor,
    /// Tokens after `ln_pre`, `[B, L, W]`.
    pub ln_pre_out: Tensor,
    /// Output of each residual block, `[B, L, W]`.
    pub blocks: Vec<Tensor>,
    /// `ln_post` over all tokens, `[B, L, W]`.
    pub ln_post_out: Tensor,
    /// `ln_post(CLS) @ proj`, `[B, E]`, not normalised.
    pub embeds: Tensor,
}

/// The video tower: a `(1, p, p)` Conv3d patch embedding with spatial and temporal positional
/// embeddings, the residual blocks, `ln_post` and `proj` at the CLS token. `[B, T, 3, S, S]` -> `[B, E]`.
#[derive(Debug, Clone)]
pub struct VisionTransformer {
    class_embedding: Tensor,
    positional_embedding: Tensor,
    temporal_positional_embedding: Tensor,
    proj: Tensor,
    /// `conv1.weight [W, 3, 1, p, p]` flattened to `[3·p·p, W]`: the strided conv as one matmul.
    patch_weight: Tensor,
    ln_pre: LayerNorm,
    blocks: Vec<ResidualBlock>,
    ln_post: LayerNorm,
    cfg: VisionConfig,
}

impl VisionTransformer {
    /// Loads the tower from `vb` (normally `vision_encoder`), `embed_dim` = E.
    pub fn new(cfg: &VisionConfig, embed_dim: usize, vb: VarBuilder) -> Result<Self> {
        let w = cfg.width;
        let g = cfg.grid();
        let p = cfg.patch_size;
        // Checked: the sizes come from a user's config (validated ranges keep these far from overflow).
        let overflow = || candle_core::Error::Msg("vision config sizes overflow".into());
        let (n_pos, patch_in) = crate::limits::patch_embedding_sizes(g, p).ok_or_else(overflow)?;
        // Requested in state-dict order (parameters of a module before its children).
        let class_embedding = vb.get(w, "class_embedding")?;
        let positional_embedding = vb.get((n_pos, w), "positional_embedding")?;
        let temporal_positional_embedding =
            vb.get((1, cfg.num_frames, w), "temporal_positional_embedding")?;
        let proj = vb.get((w, embed_dim), "proj")?;
        let conv = vb.get((w, 3, 1, p, p), "conv1.weight")?;
        let patch_weight = conv.reshape((w, patch_in))?.t()?.contiguous()?;
        let ln_pre = LayerNorm::new(w, vb.pp("ln_pre"))?;
        let blocks = blocks(w, cfg.heads, cfg.layers, vb.clone())?;
        let ln_post = LayerNorm::new(w, vb.pp("ln_post"))?;
        Ok(Self {
            class_embedding,
            positional_embedding,
            temporal_positional_embedding,
            proj,
            patch_weight,
            ln_pre,
            blocks,
            ln_post,
            cfg: cfg.clone(),
        })
    }

    /// Patch embedding: `x [B, T, 3, H, W]` → `[B·T, g², W]`, patches row-major (`n = row·g + col`).
    fn patchify(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c, _, _) = x.dims5()?;
        let p = self.cfg.patch_size;
        let g = self.cfg.grid();
        // The strided conv ignores a remainder of fewer than p pixels at the bottom/right.
        let x = x.narrow(3, 0, g * p)?.narrow(4, 0, g * p)?;
        let x = x
            .reshape((b * t, c, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))? // [BT, g, g, 3, p, p]
            .reshape((b * t * g * g, c * p * p))?;
        x.matmul(&self.patch_weight)?
            .reshape((b * t, g * g, self.cfg.width))
    }

    /// Tokens entering `ln_pre`: `x [B, T, 3, H, W]` → `[B, 1 + g²·T, W]` plus the patch embedding.
    fn embed(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let (b, t, _, _, _) = x.dims5()?;
        let w = self.cfg.width;
        let g2 = self.cfg.grid() * self.cfg.grid();
        let patches = self.patchify(x)?;
        let spatial = self.positional_embedding.narrow(0, 1, g2)?;
        let x = patches.broadcast_add(&spatial)?.reshape((b, t, g2, w))?;
        // T == num_frames: one temporal embedding per frame. T == 1 (a single image): the mean of
        // the learned ones (docs/reference/architecture.md §2.1, VV L175-177).
        let temporal = if t == 1 {
            self.temporal_positional_embedding.mean_keepdim(1)?
        } else {
            self.temporal_positional_embedding.clone()
        }
        .reshape((1, t, 1, w))?;
        let x = x.broadcast_add(&temporal)?;
        // Reference order: spatial-major, time-minor (`(b n) t m -> b (n t) m`).
        let x = x.transpose(1, 2)?.reshape((b, g2 * t, w))?;
        // The class token gets the spatial embedding's row 0 and no temporal embedding.
        let cls = (&self.class_embedding + self.positional_embedding.get(0)?)?
            .reshape((1, 1, w))?
            .broadcast_as((b, 1, w))?;
        let tokens = Tensor::cat(&[&cls, &x], 1)?;
        let conv1_out = patches
            .reshape((b, t, self.cfg.grid(), self.cfg.grid(), w))?
            .permute((0, 4, 1, 2, 3))?;
        Ok((tokens, conv1_out))
    }

    /// `x [B, T, 3, H, W]` (T = num_frames, or 1 for images) → `[B, E]`, not normalised.
    /// The caller checks shapes (see `ViClipModel::encode_video`).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (tokens, _) = self.embed(x)?;
        let mut x = self.ln_pre.forward(&tokens)?;
        // Only the class token is read after the last block (ln_post is per token), so the last
        // block computes that row alone.
        let Some((last, rest)) = self.blocks.split_last() else {
            let cls = x.narrow(1, 0, 1)?.squeeze(1)?;
            return self.ln_post.forward(&cls)?.matmul(&self.proj);
        };
        for block in rest {
            x = block.forward(&x, false)?;
        }
        let cls = last.forward_rows(&x, &vec![0; x.dim(0)?], false)?;
        self.ln_post.forward(&cls)?.matmul(&self.proj)
    }

    /// The forward pass keeping every intermediate the golden data records.
    pub fn trace(&self, x: &Tensor) -> Result<VisionTrace> {
        let (ln_pre_in, conv1_out) = self.embed(x)?;
        let ln_pre_out = self.ln_pre.forward(&ln_pre_in)?;
        let mut blocks = Vec::with_capacity(self.blocks.len());
        let mut h = ln_pre_out.clone();
        for block in &self.blocks {
            h = block.forward(&h, false)?;
            blocks.push(h.clone());
        }
        let ln_post_out = self.ln_post.forward(&h)?;
        let embeds = ln_post_out
            .narrow(1, 0, 1)?
            .squeeze(1)?
            .matmul(&self.proj)?;
        Ok(VisionTrace {
            conv1_out,
            ln_pre_in,
            ln_pre_out,
            blocks,
            ln_post_out,
            embeds,
        })
    }

    /// The tower's config.
    pub fn config(&self) -> &VisionConfig {
        &self.cfg
    }
}
