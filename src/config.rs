//! Model configuration: the two presets of the released checkpoints and any JSON config of the same
//! schema (`embed_dim`, `vision{..}`, `text{..}`), as in the golden fixtures' `index.json` `config` object.
//!
//! Numbers come from `docs/reference/architecture.md` §0 (established by running the original `Data/InternVid/viclip` code).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::limits::{
    block_parameters, check_parameters, check_range, checked_product, MAX_CONTEXT_LENGTH,
    MAX_FRAMES, MAX_HEADS, MAX_LAYERS, MAX_RESOLUTION, MAX_VISION_TOKENS, MAX_VOCAB, MAX_WIDTH,
};
use crate::{Error, Result};

/// The video tower (`VisionTransformer`, docs/reference/architecture.md §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisionConfig {
    /// Side of the square input frames, in pixels.
    pub input_resolution: usize,
    /// Side of the square patches (the Conv3d kernel is `(1, p, p)`).
    pub patch_size: usize,
    /// Token width `W` of the residual stream.
    pub width: usize,
    /// Residual attention blocks.
    pub layers: usize,
    /// Attention heads (`W / heads` per head).
    pub heads: usize,
    /// Frames per clip; sizes `temporal_positional_embedding` `[1, T, W]`.
    pub num_frames: usize,
}

/// The text tower (`CLIP_TEXT`, docs/reference/architecture.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextConfig {
    /// Tokens per caption, start and end tokens included (ViCLIP: 32).
    pub context_length: usize,
    /// Size of the token embedding table (the CLIP BPE: 49408).
    pub vocab_size: usize,
    /// Token width of the residual stream.
    pub width: usize,
    /// Residual attention blocks (causal).
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
}

/// A whole ViCLIP model. Unknown keys in a JSON config (e.g. `drop_path`, `seed`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViClipConfig {
    /// Dimension of the shared video-text embedding space (`proj`/`text_projection` output).
    pub embed_dim: usize,
    /// The video tower.
    pub vision: VisionConfig,
    /// The text tower.
    pub text: TextConfig,
}

/// The largest id the CLIP BPE tokenizer emits (`<|endoftext|>`).
const MAX_TOKEN_ID: usize = 49407;

/// Names accepted by [`ViClipConfig::preset`].
pub const PRESETS: &[&str] = &["viclip-l14", "viclip-b16"];

impl VisionConfig {
    /// Patches per side, `g = input_resolution / patch_size` (floor, as the strided conv).
    pub fn grid(&self) -> usize {
        self.input_resolution / self.patch_size
    }
    /// Sequence length of a clip of `num_frames` frames: `1 + g²·T`.
    pub fn seq_len(&self) -> usize {
        1 + self.grid() * self.grid() * self.num_frames
    }
    /// Channels per attention head, `width / heads`.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }
}

impl TextConfig {
    /// Channels per attention head, `width / heads`.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads
    }
}

impl ViClipConfig {
    /// ViCLIP-L/14 (`size='l'`): ViT-L/14 video tower at 224 px and 8 frames, 768-d text tower, E = 768.
    pub fn viclip_l14() -> Self {
        ViClipConfig {
            embed_dim: 768,
            vision: VisionConfig {
                input_resolution: 224,
                patch_size: 14,
                width: 1024,
                layers: 24,
                heads: 16,
                num_frames: 8,
            },
            text: TextConfig {
                context_length: 32,
                vocab_size: 49408,
                width: 768,
                layers: 12,
                heads: 12,
            },
        }
    }

    /// ViCLIP-B/16 (`size='b'`): ViT-B/16 video tower at 224 px and 8 frames, 512-d text tower, E = 512.
    pub fn viclip_b16() -> Self {
        ViClipConfig {
            embed_dim: 512,
            vision: VisionConfig {
                input_resolution: 224,
                patch_size: 16,
                width: 768,
                layers: 12,
                heads: 12,
                num_frames: 8,
            },
            text: TextConfig {
                context_length: 32,
                vocab_size: 49408,
                width: 512,
                layers: 12,
                heads: 8,
            },
        }
    }

    /// A preset by name (`viclip-l14`, `viclip-b16`; `l14`, `b16`, `l`, `b` also accepted).
    pub fn preset(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "viclip-l14" | "viclip-l-14" | "l14" | "l" => Ok(Self::viclip_l14()),
            "viclip-b16" | "viclip-b-16" | "b16" | "b" => Ok(Self::viclip_b16()),
            _ => Err(Error::Config {
                source_name: name.to_string(),
                msg: format!("unknown preset; use one of {PRESETS:?} or a path to a JSON config"),
            }),
        }
    }

    /// Parses a JSON config. Either the config object itself or a file whose `config` key holds it
    /// (like the golden fixtures' `index.json`).
    pub fn from_json_str(json: &str, source_name: &str) -> Result<Self> {
        let err = |msg: String| Error::Config {
            source_name: source_name.to_string(),
            msg,
        };
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let obj = match value.get("config") {
            Some(inner) if value.get("vision").is_none() => inner.clone(),
            _ => value,
        };
        let cfg: ViClipConfig = serde_json::from_value(obj).map_err(|e| {
            err(format!(
                "{e}; expected {{\"embed_dim\", \"vision\": {{input_resolution, patch_size, width, layers, heads, num_frames}}, \"text\": {{context_length, vocab_size, width, layers, heads}}}}"
            ))
        })?;
        cfg.validate().map_err(err)?;
        Ok(cfg)
    }

    /// Reads a JSON config file.
    pub fn from_json_file(path: &Path) -> Result<Self> {
        let (text, name) = read_config_file(path)?;
        Self::from_json_str(&text, &name)
    }

    /// A preset name or a JSON file path, whichever `spec` is: what the CLI's `--config` takes.
    pub fn from_name_or_path(spec: &str) -> Result<Self> {
        name_or_path(spec, Self::from_json_file, Self::preset)
    }

    /// Checks the numbers make a buildable model within the documented ranges (docs/limits.md); the
    /// message says which field is wrong. Runs before anything is allocated for the config.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let v = &self.vision;
        let t = &self.text;
        self.check_ranges()?;
        if v.patch_size > v.input_resolution {
            return Err(format!(
                "vision.patch_size {} is larger than vision.input_resolution {}",
                v.patch_size, v.input_resolution
            ));
        }
        if v.width % v.heads != 0 {
            return Err(format!(
                "vision.width {} is not divisible by vision.heads {}",
                v.width, v.heads
            ));
        }
        if t.width % t.heads != 0 {
            return Err(format!(
                "text.width {} is not divisible by text.heads {}",
                t.width, t.heads
            ));
        }
        check_parameters("the config", self.parameter_count())
    }

    /// Each size against its range in [`crate::limits`], so that the arithmetic below cannot overflow.
    fn check_ranges(&self) -> std::result::Result<(), String> {
        let v = &self.vision;
        let t = &self.text;
        let ranges = [
            ("embed_dim", self.embed_dim, 1, MAX_WIDTH),
            (
                "vision.input_resolution",
                v.input_resolution,
                1,
                MAX_RESOLUTION,
            ),
            ("vision.patch_size", v.patch_size, 1, MAX_RESOLUTION),
            ("vision.width", v.width, 1, MAX_WIDTH),
            ("vision.layers", v.layers, 0, MAX_LAYERS),
            ("vision.heads", v.heads, 1, MAX_HEADS),
            ("vision.num_frames", v.num_frames, 1, MAX_FRAMES),
            (
                "text.context_length",
                t.context_length,
                2,
                MAX_CONTEXT_LENGTH,
            ),
            ("text.vocab_size", t.vocab_size, MAX_TOKEN_ID + 1, MAX_VOCAB),
            ("text.width", t.width, 1, MAX_WIDTH),
            ("text.layers", t.layers, 0, MAX_LAYERS),
            ("text.heads", t.heads, 1, MAX_HEADS),
        ];
        for (name, value, lo, hi) in ranges {
            check_range(name, value, lo, hi)?;
        }
        if v.patch_size > 0 {
            let g = v.grid();
            let tokens = checked_product(&[g, g, v.num_frames]).map(|n| n.saturating_add(1));
            if tokens.is_none_or(|n| n > MAX_VISION_TOKENS as u64) {
                return Err(format!(
                    "a clip of {} frames at {} px with {} px patches is {} tokens, more than the supported {MAX_VISION_TOKENS} (see docs/limits.md)",
                    v.num_frames,
                    v.input_resolution,
                    v.patch_size,
                    tokens.map_or("too many".to_string(), |n| n.to_string())
                ));
            }
        }
        // The preprocessed clip (T, 3, S, S) the model takes must fit the clip bound too.
        crate::limits::check_clip_shape(v.num_frames, v.input_resolution)
            .map_err(|e| format!("vision: {e}"))?;
        Ok(())
    }

    /// Number of parameters the config describes (`None` if it overflows a `u64`); only meaningful
    /// after the ranges are checked.
    pub fn parameter_count(&self) -> Option<u64> {
        let v = &self.vision;
        let t = &self.text;
        let (vw, tw, e) = (v.width, t.width, self.embed_dim);
        let g = v.input_resolution / v.patch_size.max(1);
        let vision = [
            checked_product(&[vw])?, // class_embedding
            checked_product(&[g, g])?
                .checked_add(1)?
                .checked_mul(vw as u64)?, // positional
            checked_product(&[v.num_frames, vw])?, // temporal positional
            checked_product(&[vw, e])?, // proj
            checked_product(&[vw, 3, v.patch_size, v.patch_size])?, // conv1
            checked_product(&[4, vw])?, // ln_pre, ln_post
            block_parameters(v.layers, vw, vw.checked_mul(4)?)?,
        ];
        let text = [
            checked_product(&[t.vocab_size, tw])?,
            checked_product(&[t.context_length, tw])?,
            checked_product(&[2, tw])?,
            checked_product(&[tw, e])?,
            block_parameters(t.layers, tw, tw.checked_mul(4)?)?,
        ];
        vision
            .iter()
            .chain(&text)
            .try_fold(1u64, |acc, &n| acc.checked_add(n)) // + temp
    }
}

/// A config file's text and the name its errors use. Only a regular file is read, checked on the
/// opened descriptor: a FIFO or a device is an error saying what it is.
pub(crate) fn read_config_file(path: &Path) -> Result<(String, String)> {
    use std::io::Read;
    let name = path.display().to_string();
    let mut file = crate::fsutil::open_regular(path, "a config file").map_err(|e| match e {
        crate::fsutil::OpenError::NotRegular(msg) => Error::Config {
            source_name: name.clone(),
            msg,
        },
        e => e.into_error(path),
    })?;
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(|e| Error::io(path, e))?;
    Ok((text, name))
}

/// What a `--config`-style flag takes: an existing file is read with `from_file` (a FIFO or a device
/// there is refused by name); a missing path that ends in `.json`, or a symlink loop, is an error
/// saying so (rather than an unknown preset); anything else is a preset name.
pub(crate) fn name_or_path<T>(
    spec: &str,
    from_file: impl FnOnce(&Path) -> Result<T>,
    preset: impl FnOnce(&str) -> Result<T>,
) -> Result<T> {
    let path = Path::new(spec);
    let config_error = |msg: String| Error::Config {
        source_name: spec.to_string(),
        msg,
    };
    match std::fs::metadata(path) {
        Ok(m) if !m.is_dir() => from_file(path),
        Ok(_) if spec.ends_with(".json") => Err(config_error(
            "is a directory, not a config file; pass a regular file".into(),
        )),
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            Err(config_error(crate::fsutil::io_message(&e)))
        }
        Err(e) if spec.ends_with(".json") => Err(config_error(crate::fsutil::io_message(&e))),
        _ => preset(spec),
    }
}

impl Default for ViClipConfig {
    /// ViCLIP-L/14, the model of the InternVid paper's headline numbers.
    fn default() -> Self {
        Self::viclip_l14()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_real_sizes_pass_and_absurd_ones_do_not() {
        for cfg in [ViClipConfig::viclip_l14(), ViClipConfig::viclip_b16()] {
            assert_eq!(cfg.validate(), Ok(()));
        }
        // A ViT-bigG/14-sized video tower with bigG's text tower, 16 frames at 448 px.
        let mut big = ViClipConfig::viclip_l14();
        big.embed_dim = 1280;
        big.vision = VisionConfig {
            input_resolution: 448,
            patch_size: 14,
            width: 1664,
            layers: 48,
            heads: 16,
            num_frames: 16,
        };
        big.text.width = 1280;
        big.text.layers = 32;
        big.text.heads = 20;
        assert_eq!(big.validate(), Ok(()));
        let n = big.parameter_count().unwrap_or(0);
        assert!((2_000_000_000..3_000_000_000).contains(&n), "{n}");
        let mut huge = big.clone();
        huge.vision.layers = 1_000_000_000;
        assert!(huge.validate().is_err_and(|e| e.contains("vision.layers")));
        let mut wide = big;
        wide.vision.width = 16_384;
        wide.vision.layers = 256;
        assert!(wide.validate().is_err_and(|e| e.contains("parameters")));
    }
}
