//! Which shards a process scores, what a finished shard records and where its files are (how a
//! rerun recognises a finished shard is `super::verify`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// This process's part of the table: shards `k` with `k % count == index`, so `count` processes with
/// indices `0..count` cover every shard exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSelection {
    pub index: u64,
    pub count: u64,
}

impl Default for ShardSelection {
    fn default() -> Self {
        ShardSelection { index: 0, count: 1 }
    }
}

impl ShardSelection {
    /// Checks `index < count`, `count >= 1`.
    pub fn new(index: u64, count: u64) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::InvalidInput(format!(
                "shard index {index} of {count} processes: need 0 <= index < count (count >= 1)"
            )));
        }
        Ok(ShardSelection { index, count })
    }

    /// From explicit values, else from a Slurm job array (`SLURM_ARRAY_TASK_ID` minus
    /// `SLURM_ARRAY_TASK_MIN` when set, of `SLURM_ARRAY_TASK_COUNT`), else the whole table.
    pub fn resolve(index: Option<u64>, count: Option<u64>) -> Result<Self> {
        Self::resolve_with(index, count, |k| std::env::var(k).ok())
    }

    /// [`resolve`](Self::resolve) with the environment given as a function (for tests).
    pub fn resolve_with(
        index: Option<u64>,
        count: Option<u64>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let num = |k: &str| -> Result<Option<u64>> {
            env(k)
                .filter(|v| !v.trim().is_empty())
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        Error::InvalidInput(format!("{k}={v} is not a non-negative integer"))
                    })
                })
                .transpose()
        };
        let index = match index {
            Some(i) => Some(i),
            None => match num("SLURM_ARRAY_TASK_ID")? {
                Some(id) => {
                    let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                    Some(id.checked_sub(min).ok_or_else(|| {
                        Error::InvalidInput(format!(
                            "SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
                        ))
                    })?)
                }
                None => None,
            },
        };
        let count = match count {
            Some(c) => Some(c),
            None => num("SLURM_ARRAY_TASK_COUNT")?,
        };
        match (index, count) {
            (None, None) => Ok(Self::default()),
            (Some(i), Some(c)) => Self::new(i, c),
            (Some(i), None) => Err(Error::InvalidInput(format!(
                "shard index {i} without a number of shards: pass --num-shards (or run inside a Slurm job array)"
            ))),
            (None, Some(c)) => Err(Error::InvalidInput(format!(
                "{c} shards without a shard index: pass --shard-index"
            ))),
        }
    }

    /// Whether shard `k` is this process's.
    pub fn owns(&self, k: u64) -> bool {
        k % self.count == self.index
    }
}

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
    /// The run identity the shard was scored with (`super::identity`); a rerun with another
    /// must not mix with it.
    pub settings: serde_json::Value,
    /// Every file of the shard with its size and SHA-256 as written (the stats file excepted).
    #[serde(default)]
    pub files: Vec<super::verify::FileRecord>,
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
