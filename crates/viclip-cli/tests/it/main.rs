//! The CLI's integration tests, in one binary: each module is one former `tests/*.rs` file (same test
//! names under the module's path), so the test build links candle, arrow and FFmpeg once instead of
//! once per file. Most run the real `viclip` binary as a child process; those that call a command in
//! process (`score_cmd::run`) register its SIGINT/SIGTERM flags for this whole process, which only
//! changes what a Ctrl-C on the test run does. No test here sets environment variables or the
//! current directory of this process (children get theirs through `Command`).

mod aesthetic_common;
mod common;
mod real;
mod score_common;
mod slurm_common;

mod aesthetic_cli;
mod cli;
mod cli_video;
mod hostile_cli;
mod real_video;
mod real_video_inputs;
mod score_concurrency;
mod score_e2e;
mod score_field;
mod score_identity;
mod score_perf;
mod score_resume;
mod score_verify;
mod slurm_array;
mod slurm_status;
mod subset_cli;
mod texts_input;
mod video_pipeline;
mod view;
