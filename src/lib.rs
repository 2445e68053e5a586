//! ViCLIP in Rust: the video-text CLIP model of InternVid (OpenGVLab), on candle.
//!
//! Batched, L2-normalised video and caption embeddings equal to the original PyTorch model's, the
//! exact CLIP BPE tokenizer (with its ftfy cleaning), strict loading of the released `.pth` checkpoints
//! and of `.safetensors`, and the demo's similarities.
//!
//! ```no_run
//! use viclip::{LoadOptions, ViClip, ViClipConfig};
//! # fn main() -> viclip::Result<()> {
//! let model = ViClip::from_files("ViClip-InternVid-10M-FLT.pth", &ViClipConfig::viclip_l14(), LoadOptions::default())?;
//! let texts = model.embed_texts(&["a dog plays in the snow", "a man cooks dinner"])?;
//! // videos: (B, 8, 3, 224, 224) float32, ImageNet-normalised frames.
//! let videos = candle_core::Tensor::zeros((1, 8, 3, 224, 224), candle_core::DType::F32, &candle_core::Device::Cpu)?;
//! let clips = model.embed_videos(&videos)?;
//! let probs = clips.demo_probs(&texts)?; // softmax(100 · v·tᵀ)
//! # Ok(()) }
//! ```
#![warn(clippy::unwrap_used)]

pub mod aesthetic;
pub mod checkpoint;
pub mod clips;
pub mod config;
pub mod device;
pub mod embed;
pub mod embeddings;
pub mod error;
pub mod frames;
pub mod limits;
pub mod manifest;
pub mod model;
pub mod npy;
pub mod pipeline;
pub mod preprocess;
pub mod stream;
pub mod tokenizer;
#[cfg(feature = "video")]
pub mod video;
pub mod weights;

pub use checkpoint::{check_state_dict, load_model};
pub use clips::{ClipEmbedding, ClipOptions};
pub use config::{TextConfig, ViClipConfig, VisionConfig};
pub use device::{parse_device, parse_dtype};
pub use embed::{LoadOptions, ViClip};
pub use embeddings::{top_k, Embeddings, DEMO_LOGIT_SCALE};
pub use error::{Error, Result};
pub use model::{parameter_shapes, ViClipModel};
pub use stream::{score_stream, ScoreOptions, ScoreStream, ScoredClip};
pub use tokenizer::Tokenizer;
