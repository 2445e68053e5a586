//! Zero-shot evaluation as the ViCLIP paper reports it (docs/reference/evaluation.md): Kinetics classification with
//! the 16 action prompt templates ([`zero_shot`]) and MSR-VTT-style text-video retrieval
//! ([`retrieval`]). The metric functions take plain similarity matrices, so they serve precomputed
//! embeddings as well as a loaded [`viclip::ViClip`]; [`clips`] reads the clip lists and embeds the clips
//! (preprocessed `.npy`, frame directories, video files) for the examples `zero_shot_kinetics` and
//! `retrieval`; it comes with the `video` feature (it decodes through FFmpeg), the metrics without.

#[cfg(feature = "video")]
pub mod clips;
pub mod retrieval;
pub mod zero_shot;

#[cfg(feature = "video")]
pub use clips::{embed_clip_files, read_column, read_pairs, resolve, EmbeddedClips};
pub use retrieval::{retrieval_metrics, Recall, RetrievalMetrics};
pub use zero_shot::{
    accuracy, class_index, class_prompts, clean_prompt, kinetics400_classnames,
    mean_over_templates, rank_of, read_class_names, zero_shot_scores, Accuracy, KINETICS_TEMPLATES,
};
