//! What a finished shard records and where its files are, and the names of the run's records (how
//! a rerun recognises a finished shard is `verify`; which shards a process takes is `tasks`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `{shard}_stats.json`: what one shard did. Written last, so its presence marks the shard complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardStats {
    /// The shard's index `k` (its files are `{k:05}.parquet` and `{k:05}_stats.json`).
    pub shard: u64,
    /// 0-based index in the input table of the shard's first row.
    pub first_row: u64,
    /// Rows in the shard (every input row comes out, failed or not).
    pub rows: u64,
    /// Rows with status `ok`.
    pub ok: u64,
    /// Rows per status other than `ok`.
    pub failed: BTreeMap<String, u64>,
    /// Clips that went through the video tower.
    pub clips: u64,
    /// Wall-clock seconds spent scoring the shard (decode and model; writing its files excluded).
    pub seconds: f64,
    /// `clips / seconds`.
    pub clips_per_s: f64,
    /// The run identity the shard was scored with (`super::identity`); a rerun with another
    /// must not mix with it.
    pub settings: serde_json::Value,
    /// Every file of the shard with its size and SHA-256 as written (the stats file excepted).
    #[serde(default)]
    pub files: Vec<FileRecord>,
    /// Settings that may differ between the shards of one run (batch size, workers, device).
    #[serde(default)]
    pub scored_with: serde_json::Value,
}

/// File stem of shard `k`: zero-padded so that name order is shard order (as embedding readers sort).
pub(crate) fn stem(k: u64) -> String {
    format!("{k:05}")
}

pub(crate) fn parquet_path(out: &Path, k: u64) -> PathBuf {
    out.join(format!("{}.parquet", stem(k)))
}

pub(crate) fn stats_path(out: &Path, k: u64) -> PathBuf {
    out.join(format!("{}_stats.json", stem(k)))
}

/// One file of a finished shard, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Relative to the output directory (`00003.parquet`, `video_emb/video_emb_00003.npy`, ...).
    pub path: String,
    /// Size in bytes when written.
    pub size: u64,
    /// SHA-256 of the contents when written, as 64 lowercase hex digits.
    pub sha256: String,
    /// Nanoseconds since the epoch, when written (a hint that saves hashing on a rerun).
    pub mtime: u64,
}

/// The table record in the output directory: rows, shard size, shards.
pub const TABLE_FILE: &str = "table.json";
/// The split record: shares and the array task id mapping.
pub const SPLIT_FILE: &str = "split.json";
