//! What a finished shard records, and how a rerun recognises one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// `{shard}_stats.json`: what one shard did. Written last, so its presence marks the shard complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardStats {
    pub shard: u64,
    pub first_row: u64,
    pub rows: u64,
    pub ok: u64,
    /// Rows per status other than `ok`.
    pub failed: BTreeMap<String, u64>,
    /// Clips that went through the video tower.
    pub clips: u64,
    pub seconds: f64,
    pub clips_per_s: f64,
    /// The settings the shard was scored with; a rerun with other settings must not mix with it.
    pub settings: serde_json::Value,
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

/// The stats of shard `k` when it is complete (stats and parquet present), checked against the
/// run's settings: a shard scored differently is an error rather than silently kept.
pub(crate) fn completed(
    out: &Path,
    k: u64,
    settings: &serde_json::Value,
) -> Result<Option<ShardStats>> {
    let sp = stats_path(out, k);
    let text = match std::fs::read_to_string(&sp) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&sp, e)),
    };
    if !parquet_path(out, k).is_file() {
        return Ok(None);
    }
    // A stats file that does not parse was not written by a finished shard (it is renamed into place
    // whole), so it is treated as absent and the shard is redone.
    let Ok(stats) = serde_json::from_str::<ShardStats>(&text) else {
        return Ok(None);
    };
    if &stats.settings != settings {
        return Err(Error::InvalidInput(format!(
            "{}: this shard was scored with other settings ({}) than this run's ({}); \
             use a new --out directory, or rerun with the same options",
            sp.display(),
            stats.settings,
            settings
        )));
    }
    Ok(Some(stats))
}
