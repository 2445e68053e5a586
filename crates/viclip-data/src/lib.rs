//! Clip tables and the jobs over them, on top of the `viclip` model crate.
//!
//! - [`table`]: clip tables (JSON lines, CSV, Parquet) read in batches and written atomically.
//! - [`score`]: the resumable `viclip score` job (CLIP-SIM, aesthetic scores and embeddings per row, in
//!   shards), its status and its report.
//! - [`subset`]: InternVid's subsets (random, DIV, FLT, AES) and SemDeDup over a scored table.
//! - [`eval`]: zero-shot classification and retrieval metrics.
//!
//! - [`atomic`]: files written under a temporary name, synced and renamed into place.
//!
//! Errors are this crate's [`Error`], which wraps the model crate's [`viclip::Error`] unchanged.
//!
//! # Features
//!
//! None is on by default, so that a program that reads tables, builds subsets or computes the
//! evaluation metrics links no FFmpeg:
//!
//! - `video`: decoding clip spans (the `viclip` crate's `video` feature, FFmpeg):
//!   `eval::clips`, which embeds the evaluation's clips.
//! - `score`: the `viclip score` job (`score::score`, its plan, `score::status` and
//!   `score::report`); implies `video`. The `viclip` command line turns it on. Without it,
//!   [`score`] holds the records of a finished run and [`score::check_complete`], which
//!   [`subset`] runs on a score directory.
//! - `internal`: this workspace's tests reach the subsets' bit sets and seeded generator; not a
//!   stable API.
#![warn(missing_docs)]
// The docs link to the job's items, which only the `score` and `video` features build.
#![cfg_attr(not(feature = "score"), allow(rustdoc::broken_intra_doc_links))]
#![warn(clippy::unwrap_used)]

pub mod atomic;
pub mod error;
pub mod eval;
pub mod score;
pub mod subset;
pub mod table;

pub use error::{Error, Result, Setting};
