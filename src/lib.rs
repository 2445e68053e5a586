//! ViCLIP in Rust: the video-text CLIP model of InternVid (OpenGVLab), on candle.
//!
//! Batched, L2-normalised video and caption embeddings equal to the original PyTorch model's, the
//! exact CLIP BPE tokenizer (with its ftfy cleaning), strict loading of the released `.pth` checkpoints
//! and of `.safetensors` (memory-mapped), clip-caption similarity (CLIP-SIM) and the LAION aesthetic
//! score. With no features it builds with nothing but Rust; `video` adds decoding through the
//! system's FFmpeg libraries, `image` PNG/JPEG frames, `hub` downloads of released checkpoints,
//! `ndarray` conversion of embeddings, `cuda` and `metal` the GPU backends.
//!
//! # Three ways in
//!
//! **Preprocessed tensors** (any features): frames you decoded and normalised yourself, and captions.
//!
//! ```no_run
//! use candle_core::{DType, Device, Tensor};
//! use viclip::{LoadOptions, ViClip, ViClipConfig};
//! # fn main() -> viclip::Result<()> {
//! let opts = LoadOptions::new(Device::Cpu, DType::F32);
//! let model = ViClip::from_files("ViClip-InternVid-10M-FLT.pth", &ViClipConfig::viclip_l14(), opts)?;
//! let texts = model.embed_texts(&["a dog plays in the snow", "a man cooks dinner"])?; // [2, 768]
//! // videos [B, 8, 3, 224, 224]: float32 RGB frames, ImageNet mean/std normalised.
//! let videos = Tensor::zeros((1, 8, 3, 224, 224), DType::F32, &Device::Cpu)?;
//! let clips = model.embed_videos(&videos)?; // [1, 768]
//! let probs = clips.demo_probs(&texts)?; // softmax(100 · v·tᵀ), [1, 2]
//! # let _ = probs; Ok(()) }
//! ```
//!
//! **Video files** (feature `video`): a file and its spans in, one embedding or one typed error per
//! span out, decoded once and pipelined with the model (`ViClip::embed_video_clips`; any mix of
//! files, frame directories and frames in memory with [`ViClip::embed_clip_sources`]).
//!
//! ```no_run
//! # #[cfg(feature = "video")]
//! # fn main() -> viclip::Result<()> {
//! use viclip::video::ClipSpan;
//! use viclip::{ClipOptions, LoadOptions, ViClip, ViClipConfig};
//!
//! let model = ViClip::from_files("ViClip-InternVid-10M-FLT.pth", &ViClipConfig::viclip_l14(), LoadOptions::default())?;
//! let spans = [ClipSpan::from_secs(0.0, 4.0), ClipSpan::from_secs(12.5, 16.0)];
//! for (span, clip) in spans.iter().zip(model.embed_video_clips("video.mp4", &spans, &ClipOptions::default())?) {
//!     match clip {
//!         Ok(c) => println!("{span:?}: {} dims, frames {:?}", c.embedding.len(), c.info.frame_indices),
//!         Err(e) => eprintln!("{span:?}: {e}"), // this span only: decode, span or sampling error
//!     }
//! }
//! # Ok(()) }
//! # #[cfg(not(feature = "video"))]
//! # fn main() {}
//! ```
//!
//! **The streaming scorer** (feature `video` for video items): `(clip, caption)` pairs from any
//! iterator in, CLIP-SIM (and, with an [`aesthetic::AestheticScorer`], the aesthetic score from the
//! same decode) out, lazily and in order, batched internally: what `viclip score` does for a table,
//! without one ([`score_stream`]).
//!
//! ```no_run
//! # #[cfg(feature = "video")]
//! # fn main() -> viclip::Result<()> {
//! use viclip::pipeline::ClipSource;
//! use viclip::video::ClipSpan;
//! use viclip::{score_stream, LoadOptions, StreamOptions, ViClip, ViClipConfig};
//!
//! let model = ViClip::from_files("ViClip-InternVid-10M-FLT.pth", &ViClipConfig::viclip_l14(), LoadOptions::default())?;
//! let rows = vec![("a.mp4", 0.0, 4.0, "a dog runs on a beach"), ("b.mp4", 3.0, 9.5, "a man cooks")];
//! let items = rows.into_iter().map(|(path, start, end, caption)| {
//!     let clip = ClipSource::Video { path: path.into(), spans: vec![ClipSpan::from_secs(start, end)] };
//!     (clip, caption.to_string())
//! });
//! for scored in score_stream(&model, None, items, &StreamOptions::default())? {
//!     match scored {
//!         Ok(s) => println!("CLIP-SIM {:.4}", s.sim),
//!         Err(e) => eprintln!("{e}"), // this item only; the others go on
//!     }
//! }
//! # Ok(()) }
//! # #[cfg(not(feature = "video"))]
//! # fn main() {}
//! ```
//!
//! With `hub`, `ViClip::from_pretrained` loads a released checkpoint by name (downloaded once,
//! sha256-checked). Tables, the resumable `viclip score` job, subsets and evaluation live in the
//! `viclip-data` crate; the command line in `viclip-cli`. docs/library.md walks through these calls.
#![warn(clippy::unwrap_used)]
#![warn(missing_docs)]
// On docs.rs (`--cfg docsrs`, nightly), items behind a feature say which.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod aesthetic;
pub mod checkpoint;
pub mod clips;
pub mod config;
pub mod device;
pub mod embed;
pub mod embeddings;
pub mod engine;
pub mod error;
pub mod frames;
pub mod fsutil;
pub mod limits;
pub mod manifest;
pub mod model;
pub mod npy;
pub mod panics;
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
pub use embeddings::{clip_sim, top_k, Embeddings, DEMO_LOGIT_SCALE};
pub use error::{Error, Result, Setting};
pub use model::{parameter_shapes, ViClipModel};
pub use stream::{score_stream, ScoreStream, ScoredClip, StreamOptions};
pub use tokenizer::Tokenizer;
