//! The core's integration tests, in one binary: each module is one former `tests/*.rs` file (same
//! test names under the module's path), so the test build links candle once instead of once per
//! file. Tests that flip a process-wide switch live in `tests/kernel_switches`, and those that set
//! environment variables in `tests/hub` (`hub` feature), because every test here shares the process
//! with the others running at the same time.
//!
//! Tests that measure the process's memory (`decode_memory`) do it in a child process: this binary
//! run again with `--exact` on an ignored child test, so its peak is the decode's alone.

mod aesthetic_common;
mod common;

mod aesthetic_errors;
mod aesthetic_golden;
mod aesthetic_perf;
mod api;
mod checkpoint_io;
mod checkpoint_load;
mod clips_video;
mod config_and_shapes;
mod decode_memory;
mod golden_model;
mod hostile_formats;
mod hostile_tokenizer;
mod ndarray;
mod pipeline_batches;
mod preprocess_bicubic;
mod preprocess_golden;
mod stream;
mod tokenizer;
mod video_decode;
mod video_handover;
mod video_open;
