//! Helpers shared by the integration tests of the `viclip` workspace (`tests/it`, `tests/kernel_switches`,
//! `crates/viclip-data/tests/it`, `crates/viclip-cli/tests/it`): fixture paths and golden tensors,
//! the aesthetic golden data, videos generated with the ffmpeg CLI, and hostile inputs.
//!
//! Nothing here depends on `viclip`, so the core's own tests can use the kit without a second copy of
//! the crate's types; helpers that build viclip types live in each crate's `tests/it/`.
#![warn(missing_docs)]

pub mod aesthetic;
pub mod fixtures;
pub mod hostile;
pub mod video;
