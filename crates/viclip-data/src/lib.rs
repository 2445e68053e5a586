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
//! Errors are the model crate's [`viclip::Error`].
#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

pub mod atomic;
pub mod eval;
pub mod score;
pub mod subset;
pub mod table;
