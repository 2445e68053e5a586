//! viclip-data's integration tests, in one binary: each module is one former `tests/*.rs` file (same
//! test names under the module's path), so the test build links the tables, the model and FFmpeg once
//! instead of once per file. No test here sets environment variables or other process-wide state
//! (the share tests inject their environment as data).

mod eval_metrics;
mod hostile_tables;
mod slurm_shares;
mod subset_dedup;
mod subset_div;
mod subset_filters;
mod table_bounds;
mod table_io;
mod table_parquet;
