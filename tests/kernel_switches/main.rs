//! Tests that flip the core's process-wide kernel switches (`viclip::model::GENERIC_OPS`,
//! `attention_cpu::FORCE_PORTABLE`): a binary of their own, because in `tests/it` every other test
//! running at the same time would silently take the switched path. Within this binary every test holds
//! [`SWITCHES`] while it sets a switch or depends on one being clear.

#[path = "../it/common.rs"]
mod common;

mod golden_generic;
mod kernels;

/// Held by each test of this binary for as long as it sets, or relies on, a kernel switch.
pub static SWITCHES: std::sync::Mutex<()> = std::sync::Mutex::new(());
