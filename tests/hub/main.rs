//! The `hub` feature's tests, which set process environment variables (`HF_HOME`, `HF_HUB_OFFLINE`):
//! a binary of their own, built only with the feature (`cargo test -p viclip --features hub --test
//! hub`), because a variable set while another test's thread reads the environment (FFmpeg, the hub
//! client) is a data race. Its tests take [`ENV`] for their whole run, so they never overlap.

mod hub_offline;
mod pretrained;

/// Held by each test of this binary while it sets and relies on environment variables.
pub static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());
