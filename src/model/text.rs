//! The ViCLIP text tower (`CLIP_TEXT`, docs/reference/architecture.md §3): token + positional embedding over a context of 32,
//! causal self-attention, `ln_final`, pooling at the first maximal id (the end token), `@ text_projection`.

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::attention_cpu::Segment;
use super::block::{blocks, gather_rows, select, LayerNorm, ResidualBlock};
use crate::config::TextConfig;

/// Activations of one forward pass over the full context, for parity tests.
#[derive(Debug, Clone)]
pub struct TextTrace {
    /// `token_embedding(ids)` before the positional embedding, `[N, C, Wt]`.
    pub token_embedding_out: Tensor,
    /// Output of each residual block, `[N, C, Wt]`.
    pub blocks: Vec<Tensor>,
    /// `ln_final` over all positions, `[N, C, Wt]`.
    pub ln_final_out: Tensor,
    /// Pooled and projected, `[N, E]`, not normalised.
    pub embeds: Tensor,
}

/// The text tower (`CLIP_TEXT`): token and positional embeddings, causal blocks, `ln_final` and
/// `text_projection` at the end token. Captions `[N][context_length]` ids -> `[N, E]`.
#[derive(Debug, Clone)]
pub struct TextTransformer {
    positional_embedding: Tensor,
    text_projection: Tensor,
    blocks: Vec<ResidualBlock>,
    token_embedding: Embedding,
    ln_final: LayerNorm,
    cfg: TextConfig,
}

/// The first index of the maximum id in each row (`torch.argmax`): the end token, or an earlier
/// literal `<|endoftext|>` in the caption.
pub fn pool_positions(ids: &[Vec<u32>]) -> Vec<usize> {
    ids.iter()
        .map(|row| {
            let mut best = 0;
            for (i, &id) in row.iter().enumerate() {
                if id > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

impl TextTransformer {
    /// Loads the tower from `vb` (normally `text_encoder`), `embed_dim` = E.
    pub fn new(cfg: &TextConfig, embed_dim: usize, vb: VarBuilder) -> Result<Self> {
        let positional_embedding =
            vb.get((cfg.context_length, cfg.width), "positional_embedding")?;
        let text_projection = vb.get((cfg.width, embed_dim), "text_projection")?;
        let blocks = blocks(cfg.width, cfg.heads, cfg.layers, vb.clone())?;
        let token_embedding =
            candle_nn::embedding(cfg.vocab_size, cfg.width, vb.pp("token_embedding"))?;
        let ln_final = LayerNorm::new(cfg.width, vb.pp("ln_final"))?;
        Ok(Self {
            positional_embedding,
            text_projection,
            blocks,
            token_embedding,
            ln_final,
            cfg: cfg.clone(),
        })
    }

    /// Token plus positional embedding of the first `len` positions of `ids [N, C]`: returns the token
    /// embedding alone and the sum, both `[N, len, Wt]`.
    fn embed(&self, ids: &Tensor, len: usize) -> Result<(Tensor, Tensor)> {
        let tok = self.token_embedding.forward(&ids.narrow(1, 0, len)?)?;
        let x = tok.broadcast_add(&self.positional_embedding.narrow(0, 0, len)?)?;
        Ok((tok, x))
    }

    /// Runs the blocks over the first `len` positions of `ids [N, C]`.
    fn run(&self, ids: &Tensor, len: usize) -> Result<(Tensor, Vec<Tensor>, Tensor)> {
        let (tok, mut x) = self.embed(ids, len)?;
        let mut outs = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            x = block.forward(&x, true)?;
            outs.push(x.clone());
        }
        Ok((tok, outs, x))
    }

    /// `ids`: rows of `context_length` token ids (checked by the caller) → `[N, E]`, not normalised.
    ///
    /// Positions after a caption's pooled token are skipped: with the causal mask they cannot
    /// influence it, so the result is the same as over the full context. On the CPU in f32 the
    /// remaining tokens of all captions are packed back to back (one GEMM per projection over real
    /// tokens only, attention per caption); elsewhere a batch runs up to its last pooled position.
    pub fn forward(&self, ids: &[Vec<u32>], device: &Device) -> Result<Tensor> {
        if super::cpu_kernels(device, self.positional_embedding.dtype()) && !ids.is_empty() {
            return self.forward_packed(ids, device);
        }
        self.forward_group(ids, device)
    }

    /// The CPU path of [`Self::forward`]: captions packed into one `[1, ΣLᵢ, Wt]` sequence.
    fn forward_packed(&self, ids: &[Vec<u32>], device: &Device) -> Result<Tensor> {
        let pos = pool_positions(ids);
        let total: usize = pos.iter().map(|p| p + 1).sum();
        let (mut flat, mut positions) = (Vec::with_capacity(total), Vec::with_capacity(total));
        let (mut segs, mut pooled) = (Vec::with_capacity(ids.len()), Vec::with_capacity(ids.len()));
        for (row, &p) in ids.iter().zip(&pos) {
            let start = flat.len();
            flat.extend_from_slice(&row[..=p]);
            positions.extend(0..=p as u32);
            segs.push(Segment { start, len: p + 1 });
            pooled.push(start + p);
        }
        let tok = self
            .token_embedding
            .forward(&Tensor::from_vec(flat, total, device)?)?;
        let posemb = self
            .positional_embedding
            .index_select(&Tensor::from_vec(positions, total, device)?, 0)?;
        let mut x = (tok + posemb)?.unsqueeze(0)?;
        let out = match self.blocks.split_last() {
            Some((last, rest)) => {
                for block in rest {
                    x = block.forward_segments(&x, &segs, true)?;
                }
                last.forward_segments_rows(&x, &segs, &pooled, true)?
            }
            None => select(&x, &pooled)?,
        };
        self.ln_final.forward(&out)?.matmul(&self.text_projection)
    }

    /// One forward pass over `ids`, truncated after the group's last pooled position; the last
    /// block computes the pooled rows alone (no other row of its output is read).
    fn forward_group(&self, ids: &[Vec<u32>], device: &Device) -> Result<Tensor> {
        let pos = pool_positions(ids);
        let len = pos.iter().max().map_or(1, |&p| p + 1);
        let (_, mut x) = self.embed(&ids_tensor(ids, device)?, len)?;
        let pooled = match self.blocks.split_last() {
            Some((last, rest)) => {
                for block in rest {
                    x = block.forward(&x, true)?;
                }
                last.forward_rows(&x, &pos, true)?
            }
            None => gather_rows(&x, &pos)?,
        };
        self.ln_final
            .forward(&pooled)?
            .matmul(&self.text_projection)
    }

    /// The forward pass over the full context keeping the intermediates the golden data records.
    pub fn trace(&self, ids: &[Vec<u32>], device: &Device) -> Result<TextTrace> {
        let pos = pool_positions(ids);
        let t = ids_tensor(ids, device)?;
        let (token_embedding_out, blocks, x) = self.run(&t, self.cfg.context_length)?;
        let ln_final_out = self.ln_final.forward(&x)?;
        let embeds = gather_rows(&ln_final_out, &pos)?.matmul(&self.text_projection)?;
        Ok(TextTrace {
            token_embedding_out,
            blocks,
            ln_final_out,
            embeds,
        })
    }

    /// The tower's config.
    pub fn config(&self) -> &TextConfig {
        &self.cfg
    }
}

fn ids_tensor(ids: &[Vec<u32>], device: &Device) -> Result<Tensor> {
    let n = ids.len();
    let c = ids.first().map_or(0, Vec::len);
    let flat: Vec<u32> = ids.iter().flatten().copied().collect();
    Tensor::from_vec(flat, (n, c), device)
}
