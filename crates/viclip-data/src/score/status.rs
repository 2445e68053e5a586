//! `viclip status OUT`: where a (possibly split, possibly running) run stands, from the output
//! directory alone: the run records, the shards' stats files (checked as `viclip report` checks
//! them: this run's identity, every listed file present with its recorded size) and their lock files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::lock::{is_locked, shard_lock_path};
use super::record::{read_record, RunRecord};
use super::shards::{stats_path, ShardStats, TABLE_FILE};
use super::verify::{self, recorded_identity, shard_state};
use crate::{Error, Result};

/// What a shard is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardState {
    /// Its stats file (written last) carries the run's identity and its files are all there.
    Complete,
    /// Not complete, and some process holds its lock.
    InFlight,
    /// Neither: nobody is scoring it (never scored, or its files were damaged since).
    Missing,
}

/// One share's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareStatus {
    /// The share's index, `0..shares`; it owns the shards `k` with `k % shares == share`.
    pub share: u64,
    /// The Slurm array task id that takes this share.
    pub task: u64,
    /// Its shards that are complete.
    pub complete: u64,
    /// Its shards not complete whose lock some process holds.
    pub in_flight: u64,
    /// Its shards neither complete nor locked.
    pub missing: u64,
    /// Rows of its complete shards.
    pub rows_done: u64,
    /// Rows of its shards not complete.
    pub rows_left: u64,
    /// Clips through the video tower over its complete shards.
    pub clips: u64,
    /// Seconds spent scoring its complete shards.
    pub seconds: f64,
    /// Clips per second over its complete shards (`None` before the first).
    pub clips_per_s: Option<f64>,
    /// Seconds to score `rows_left` at this share's rows/s (the run's when it has none yet).
    pub eta_s: Option<f64>,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunStatus {
    /// The run's table and split records (`OUT/table.json`, `OUT/split.json`).
    pub record: RunRecord,
    /// State of every shard, by shard index.
    pub shards: Vec<ShardState>,
    /// Shards of the table that are complete.
    pub complete: u64,
    /// Shards not complete whose lock some process holds.
    pub in_flight: u64,
    /// Shards neither complete nor locked.
    pub missing: u64,
    /// Rows of the complete shards.
    pub rows_done: u64,
    /// Rows with status `ok` in the complete shards.
    pub rows_ok: u64,
    /// Rows per status other than `ok`, over the complete shards.
    pub failed: BTreeMap<String, u64>,
    /// Progress of every share, by share index (one share when no split is recorded).
    pub per_share: Vec<ShareStatus>,
    /// The array task ids whose shares still have missing shards, as `sbatch --array=` takes them.
    pub missing_tasks: String,
}

/// Stats of shard `k` when it is complete for the run of `identity` (`None` without one).
fn complete_stats(
    out: &Path,
    k: u64,
    identity: Option<&serde_json::Value>,
) -> Result<Option<ShardStats>> {
    let Some(id) = identity else {
        return Ok(None);
    };
    if !matches!(
        shard_state(out, k, id, false)?,
        verify::ShardState::Complete
    ) {
        return Ok(None);
    }
    // Parsed once more for its numbers: a stats file is a few KiB.
    let text = std::fs::read_to_string(stats_path(out, k)).ok();
    Ok(text.and_then(|t| serde_json::from_str::<ShardStats>(&t).ok()))
}

/// Ids as Slurm's `--array=` list: ascending, runs of consecutive ids as `a-b`.
pub fn array_list(ids: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", ids[i], ids[j])
        } else {
            ids[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The status of the run in `out` (needs `OUT/table.json`, written when a run starts).
pub fn status(out: &Path) -> Result<RunStatus> {
    let record = read_record(out)?.ok_or_else(|| {
        Error::InvalidInput(format!(
            "{}: no {TABLE_FILE}: not the output directory of a score run, or no process has started yet",
            out.display()
        ))
    })?;
    let identity = recorded_identity(out, 0..record.table_shards);
    let n = record.shares.max(1);
    // Shares beyond the shard count own no shard; a record of an unbounded count (written before
    // counts were bounded) must not become an unbounded allocation.
    let mut shares: Vec<ShareStatus> = (0..n.min(record.table_shards.max(1)))
        .map(|s| ShareStatus {
            share: s,
            task: record.task_of(s),
            complete: 0,
            in_flight: 0,
            missing: 0,
            rows_done: 0,
            rows_left: 0,
            clips: 0,
            seconds: 0.0,
            clips_per_s: None,
            eta_s: None,
        })
        .collect();
    let mut st = RunStatus {
        shards: Vec::with_capacity(record.table_shards.min(1 << 24) as usize),
        record: record.clone(),
        complete: 0,
        in_flight: 0,
        missing: 0,
        rows_done: 0,
        rows_ok: 0,
        failed: BTreeMap::new(),
        per_share: Vec::new(),
        missing_tasks: String::new(),
    };
    for k in 0..record.table_shards {
        let sh = &mut shares[(k % n) as usize];
        let state = if let Some(s) = complete_stats(out, k, identity.as_ref())? {
            sh.complete += 1;
            sh.rows_done += s.rows;
            sh.clips += s.clips;
            sh.seconds += s.seconds;
            st.rows_done += s.rows;
            st.rows_ok += s.ok;
            for (kind, c) in s.failed {
                *st.failed.entry(kind).or_insert(0) += c;
            }
            ShardState::Complete
        } else if is_locked(&shard_lock_path(out, k))? {
            sh.in_flight += 1;
            sh.rows_left += record.shard_rows(k);
            ShardState::InFlight
        } else {
            sh.missing += 1;
            sh.rows_left += record.shard_rows(k);
            ShardState::Missing
        };
        match state {
            ShardState::Complete => st.complete += 1,
            ShardState::InFlight => st.in_flight += 1,
            ShardState::Missing => st.missing += 1,
        }
        st.shards.push(state);
    }
    let secs: f64 = shares.iter().map(|s| s.seconds).sum();
    let run_rate = (secs > 0.0).then(|| st.rows_done as f64 / secs);
    for s in &mut shares {
        let rate = (s.seconds > 0.0).then(|| s.rows_done as f64 / s.seconds);
        s.clips_per_s = (s.seconds > 0.0).then(|| s.clips as f64 / s.seconds);
        s.eta_s = rate
            .or(run_rate)
            .filter(|r| *r > 0.0)
            .map(|r| s.rows_left as f64 / r);
    }
    let missing: Vec<u64> = shares
        .iter()
        .filter(|s| s.missing > 0)
        .map(|s| s.task)
        .collect();
    st.missing_tasks = array_list(&missing);
    st.per_share = shares;
    Ok(st)
}
