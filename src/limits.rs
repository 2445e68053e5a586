//! The documented ranges of every size a user can hand `viclip` (docs/limits.md): config values,
//! command-line counts, and the arithmetic that checks a file's header claims against the file's length.
//!
//! The bounds sit generously above the largest published CLIP towers (ViT-G/14 and ViT-bigG/14: width
//! 1664, 48 layers, 16 heads, 1.8 G parameters) and far below sizes whose bookkeeping alone would
//! exhaust memory, so a config is refused before anything is allocated for it.

use crate::{Error, Result, Setting};

/// Largest transformer width (ViCLIP `vision.width`, `text.width`, `embed_dim`; CLIP `hidden_size`,
/// `projection_dim`).
pub const MAX_WIDTH: usize = 16_384;
/// Largest MLP width (CLIP `intermediate_size`; ViCLIP's MLP is always 4 × width).
pub const MAX_MLP_WIDTH: usize = 4 * MAX_WIDTH;
/// Most residual blocks per tower.
pub const MAX_LAYERS: usize = 256;
/// Most attention heads per block.
pub const MAX_HEADS: usize = 256;
/// Largest input side in pixels (`input_resolution`, `image_size`).
pub const MAX_RESOLUTION: usize = 4_096;
/// Most frames per clip (`vision.num_frames`).
pub const MAX_FRAMES: usize = 1_024;
/// Most values of one preprocessed clip, `F · 3 · S²` f32 (4 GiB): a clip that a config or a caller's
/// frames per clip and input size describe beyond it is refused before its buffer is allocated
/// (ViCLIP-L/14's is 1.2 M values).
pub const MAX_CLIP_VALUES: usize = 1 << 30;
/// Most tokens one clip or image becomes in the vision tower (`1 + (res / patch)² · frames`).
pub const MAX_VISION_TOKENS: usize = 1 << 20;
/// Largest text context (`text.context_length`, `tokenize --context-length`); CLIP uses 77.
pub const MAX_CONTEXT_LENGTH: usize = 4_096;
/// Largest vocabulary (`text.vocab_size`); CLIP's has 49 408 entries.
pub const MAX_VOCAB: usize = 1 << 20;
/// Most parameters a config may describe (about 4× ViT-bigG's image and text towers together).
pub const MAX_PARAMETERS: u64 = 10_000_000_000;

/// Most decode / worker threads (`PipelineOptions::workers`, `ScoreOptions::workers`).
pub const MAX_WORKERS: usize = 256;
/// Largest batch size (videos or images per forward pass).
pub const MAX_BATCH_SIZE: usize = 4_096;
/// Largest text batch (captions per forward pass of the text tower; 32 x [`MAX_BATCH_SIZE`]).
pub const MAX_TEXT_BATCH_SIZE: usize = 131_072;

/// Longest line of a JSON Lines table or a `--texts` file, and longest record of a CSV / TSV table,
/// in bytes (16 MiB): a caption row is a few hundred bytes, and a file whose tail is gigabytes without
/// a newline must cost this much memory, not its size.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Most pixels a decoded video frame may have (8192 × 8192): 8K frames decode, 16K ones are refused
/// before the decoder allocates them (a 16000 × 16000 frame is 768 MB of RGB alone).
pub const MAX_FRAME_PIXELS: usize = 8192 * 8192;
/// Most video packets one read of nearby clip spans may index (24 bytes each; about 11.6 hours at
/// 25 fps): a span needing more is refused, so its frames per span are bounded too.
pub const MAX_GROUP_PACKETS: usize = 1 << 20;
/// Most clip spans of one file read together; their sampled frames are held until the read ends.
pub const MAX_GROUP_SPANS: usize = 16;
/// Frame-thread budget of one video decoder: threads × frame bytes stay under it (one thread at 8K).
pub const DECODER_THREAD_FRAME_BYTES: usize = 256 << 20;

/// Checks `value` of `field` lies in `lo..=hi`; the message names the field and the range.
pub fn check_range(
    field: &str,
    value: usize,
    lo: usize,
    hi: usize,
) -> std::result::Result<(), String> {
    if value < lo || value > hi {
        return Err(format!(
            "{field} = {value} is outside the supported range {lo}..={hi} (see docs/limits.md)"
        ));
    }
    Ok(())
}

/// The product of `factors`, or `None` when it does not fit a `u64`.
pub fn checked_product(factors: &[usize]) -> Option<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(u64::try_from(f).ok()?))
}

/// Parameters of `layers` pre-LN residual blocks of width `w` and MLP width `mlp`
/// (`in_proj` 3w²+3w, `out_proj` w²+w, two LayerNorms 4w, `c_fc` w·mlp+mlp, `c_proj` mlp·w+w), with
/// checked arithmetic.
pub fn block_parameters(layers: usize, w: usize, mlp: usize) -> Option<u64> {
    let (w, mlp, layers) = (w as u64, mlp as u64, layers as u64);
    let per_layer = w
        .checked_mul(w)?
        .checked_mul(4)?
        .checked_add(w.checked_mul(mlp)?.checked_mul(2)?)?
        .checked_add(w.checked_mul(9)?)?
        .checked_add(mlp)?;
    per_layer.checked_mul(layers)
}

/// Refuses a parameter count over [`MAX_PARAMETERS`] (or one that overflowed).
pub fn check_parameters(what: &str, n: Option<u64>) -> std::result::Result<(), String> {
    match n {
        Some(n) if n <= MAX_PARAMETERS => Ok(()),
        Some(n) => Err(format!(
            "{what} describes {n} parameters, more than the supported {MAX_PARAMETERS} (see docs/limits.md)"
        )),
        None => Err(format!(
            "{what} describes more parameters than fit a 64-bit count (see docs/limits.md)"
        )),
    }
}

/// `value` of `setting` if it lies in `1..=max`, else the setting's [`Error::Setting`].
pub fn check_count(setting: Setting, value: usize, max: usize) -> Result<usize> {
    if !(1..=max).contains(&value) {
        return Err(Error::out_of_range(setting, value, 1, max));
    }
    Ok(value)
}

/// Checks a decode-thread count: 1..=[`MAX_WORKERS`] ([`Setting::DecodeThreads`]).
pub fn check_workers(workers: usize) -> Result<usize> {
    check_count(Setting::DecodeThreads, workers, MAX_WORKERS)
}

/// Checks a video batch size: 1..=[`MAX_BATCH_SIZE`] ([`Setting::VideoBatchSize`]).
pub fn check_batch_size(batch_size: usize) -> Result<usize> {
    check_count(Setting::VideoBatchSize, batch_size, MAX_BATCH_SIZE)
}

/// Checks the frames per clip the aesthetic scorer sees: 1..=[`MAX_FRAMES`]
/// ([`Setting::AestheticFrames`]).
pub fn check_aesthetic_frames(frames: usize) -> Result<usize> {
    check_count(Setting::AestheticFrames, frames, MAX_FRAMES)
}

/// Checks the shape of one preprocessed clip, `frames` of `size x size`: `frames` at most
/// [`MAX_FRAMES`], `size` in 1..=[`MAX_RESOLUTION`] and `frames · 3 · size²` at most
/// [`MAX_CLIP_VALUES`], before anything is allocated for it.
pub fn check_clip_shape(frames: usize, size: usize) -> Result<()> {
    let refuse = |msg: String| Err(Error::InvalidInput(format!("{msg} (see docs/limits.md)")));
    if !(1..=MAX_RESOLUTION).contains(&size) {
        return refuse(format!(
            "the model input size {size} is outside the supported range 1..={MAX_RESOLUTION}"
        ));
    }
    if frames > MAX_FRAMES {
        return refuse(format!(
            "{frames} frames per clip is more than the supported {MAX_FRAMES}"
        ));
    }
    match checked_product(&[frames, 3, size, size]) {
        Some(n) if n <= MAX_CLIP_VALUES as u64 => Ok(()),
        _ => refuse(format!(
            "a clip of {frames} frames of {size}x{size} is more than {MAX_CLIP_VALUES} values \
             ({} GiB as f32); use fewer frames or a smaller input size",
            (MAX_CLIP_VALUES * 4) >> 30
        )),
    }
}

/// `(grid² + 1, 3·patch²)`: the tokens of one image (patches and the class token) and the inputs of
/// one patch, the two sizes a ViT's patch embedding is built from. `None` when they overflow (a
/// validated config never does).
pub fn patch_embedding_sizes(grid: usize, patch: usize) -> Option<(usize, usize)> {
    let tokens = grid.checked_mul(grid)?.checked_add(1)?;
    let patch_in = patch.checked_mul(patch)?.checked_mul(3)?;
    Some((tokens, patch_in))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_products() {
        assert!(check_range("x", 0, 1, 4).is_err());
        assert!(check_range("x", 5, 1, 4).is_err());
        assert!(check_range("x", 4, 1, 4).is_ok());
        assert_eq!(checked_product(&[2, 3, 7]), Some(42));
        assert_eq!(checked_product(&[usize::MAX, usize::MAX]), None);
        assert_eq!(checked_product(&[]), Some(1));
        // One ViT-L block: 12.6 M parameters.
        assert_eq!(block_parameters(1, 1024, 4096), Some(12_596_224));
        assert!(check_parameters("c", block_parameters(256, 16_384, 65_536)).is_err());
        assert!(check_workers(0).is_err());
        assert!(check_workers(10_000).is_err());
        assert_eq!(check_workers(8).ok(), Some(8));
        assert!(check_batch_size(1 << 40).is_err());
    }

    #[test]
    fn clip_shapes_are_bounded_before_allocation() {
        // ViCLIP-L/14's clip, and the largest side at 8 frames, pass.
        assert!(check_clip_shape(8, 224).is_ok());
        assert!(check_clip_shape(8, MAX_RESOLUTION).is_ok());
        // Each bound alone: side 0 or beyond, frames beyond, and the product (1024 frames of 4096²
        // is 51.5 G values) although each factor is in range.
        for (frames, size) in [(8, 0), (8, MAX_RESOLUTION + 1), (MAX_FRAMES + 1, 8)] {
            let e = check_clip_shape(frames, size)
                .expect_err("out of range")
                .to_string();
            assert!(e.contains("docs/limits.md"), "{e}");
        }
        let e = check_clip_shape(MAX_FRAMES, MAX_RESOLUTION)
            .expect_err("51.5 G values")
            .to_string();
        assert!(
            e.contains("1024 frames of 4096x4096") && e.contains("4 GiB"),
            "{e}"
        );
        assert!(check_aesthetic_frames(0).is_err());
        assert!(check_aesthetic_frames(1 << 40).is_err());
        assert_eq!(check_aesthetic_frames(4).ok(), Some(4));
    }
}
