//! `OUT/run.json`: the run record that fixes a split across resubmissions, and this process's share
//! under it (see [`super::tasks`] for the rule).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::tasks::{share_of, Scheduler, ShardSelection, ShareRequest};
use crate::{Error, Result};

/// Name of the run record in the output directory.
pub const RUN_FILE: &str = "run.json";

/// `OUT/run.json`: what the first process of a run fixed for every later one. Status needs only this
/// (not the input table) to know which shards exist and which task owns which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Rows of the input table.
    pub table_rows: u64,
    /// Rows per shard.
    pub shard_size: u64,
    /// `ceil(table_rows / shard_size)`.
    pub table_shards: u64,
    /// Shares the shards are dealt to (shard `k` belongs to share `k % shares`).
    pub shares: u64,
    /// Slurm array task id of share 0; share `s` is task `first_task + s * task_step`.
    pub first_task: u64,
    pub task_step: u64,
    /// How the first process found the split: `whole`, `flags`, `slurm-array`, `kubernetes`,
    /// `slurm-tasks`.
    pub source: String,
    /// The Slurm array job that started the run, if one did.
    pub array_job_id: Option<u64>,
    /// The input as the first process named it (informational).
    pub input: String,
}

impl RunRecord {
    /// Array task id of share `s` (what `sbatch --array=` takes).
    pub fn task_of(&self, s: u64) -> u64 {
        self.first_task + s * self.task_step
    }

    /// Rows of shard `k` (the last shard may be short).
    pub fn shard_rows(&self, k: u64) -> u64 {
        self.shard_size
            .min(self.table_rows.saturating_sub(k * self.shard_size))
    }
}

/// This process's share of a run, with the record it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub selection: ShardSelection,
    pub record: RunRecord,
    /// Whether this process wrote the record (it was the first to start).
    pub created_record: bool,
    /// The request, described (who this process is).
    pub who: String,
    /// This process's id (array task id, index, procid or `--shard-index`); `None`: a lone process.
    pub task: Option<u64>,
}

impl Assignment {
    /// The start line of a task's log: who it is, its share, and its shards.
    pub fn log_line(&self, to_score: &[u64], complete: u64) -> String {
        let r = &self.record;
        let share = match self.task {
            None => format!("the whole table (the run has {} shares)", r.shares),
            Some(t) => format!(
                "task id {t} = share {} of {} (array task = {} + share * {})",
                self.selection.index, self.selection.count, r.first_task, r.task_step
            ),
        };
        let mut list: Vec<String> = to_score.iter().take(16).map(u64::to_string).collect();
        if to_score.len() > 16 {
            list.push("...".into());
        }
        format!(
            "viclip score: {}: {share}, {} {}; shards {} of {}: {complete} complete, {} to score [{}]",
            self.who,
            if self.created_record { "wrote" } else { "read" },
            RUN_FILE,
            self.selection.describe(r.table_shards),
            r.table_shards,
            to_score.len(),
            list.join(",")
        )
    }
}

/// The record of `out`, when one exists.
pub fn read_record(out: &Path) -> Result<Option<RunRecord>> {
    let p = out.join(RUN_FILE);
    match std::fs::read_to_string(&p) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::InvalidInput(format!(
                "{}: not a viclip run record ({e}); it is written by the first `viclip score` \
                 process: delete it only when no process is running",
                p.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&p, e)),
    }
}

/// Writes `rec` as `out/run.json` unless one exists; returns the record in force and whether this
/// call wrote it. The file appears whole: it is written under a private name and hard-linked into
/// place, which fails when the name exists, so concurrent first processes agree on one record.
fn create_record(out: &Path, rec: &RunRecord) -> Result<(RunRecord, bool)> {
    if let Some(r) = read_record(out)? {
        return Ok((r, false));
    }
    let final_path = out.join(RUN_FILE);
    // Unique per process and call: threads of one process may race too.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = out.join(format!(".{RUN_FILE}.{}.{n}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(rec)
        .map_err(|e| Error::InvalidInput(format!("run record: {e}")))?;
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
    }
    let linked = std::fs::hard_link(&tmp, &final_path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok((rec.clone(), true)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let r = read_record(out)?.ok_or_else(|| {
                Error::InvalidInput(format!("{}: vanished while read", final_path.display()))
            })?;
            Ok((r, false))
        }
        Err(e) => Err(Error::io(&final_path, e)),
    }
}

impl ShareRequest {
    /// The record the first process would write for a table of `table_rows` rows.
    pub fn proposed_record(
        &self,
        table_rows: u64,
        shard_size: u64,
        input: &str,
    ) -> Result<RunRecord> {
        let p = self.first_start()?;
        Ok(RunRecord {
            table_rows,
            shard_size,
            table_shards: table_rows.div_ceil(shard_size.max(1)),
            shares: p.shares,
            first_task: p.first_task,
            task_step: p.task_step,
            source: p.source.into(),
            array_job_id: p.array_job_id,
            input: input.into(),
        })
    }

    /// This process's share under `rec` (checked against the request's `--num-shards`).
    pub fn assign_under(&self, rec: &RunRecord, file: &Path) -> Result<ShardSelection> {
        if let Some(n) = self.num_shards.filter(|&n| n != rec.shares) {
            return Err(Error::InvalidInput(format!(
                "--num-shards {n}, but {} fixes {} shares (written by the run's first process); \
                 pass --num-shards {} or nothing, or use a new --out",
                file.display(),
                rec.shares,
                rec.shares
            )));
        }
        if let Scheduler::SlurmTasks { ntasks, .. } = self.scheduler {
            if self.num_shards.is_none() && ntasks != rec.shares && self.shard_index.is_none() {
                return Err(Error::InvalidInput(format!(
                    "this srun step has {ntasks} tasks, but {} fixes {} shares; run {} tasks, or \
                     use a new --out",
                    file.display(),
                    rec.shares,
                    rec.shares
                )));
            }
        }
        match self.task_id() {
            None => Ok(ShardSelection::default()),
            Some(t) => ShardSelection::new(
                share_of(
                    self,
                    t,
                    rec.first_task,
                    rec.task_step,
                    rec.shares,
                    Some(file),
                )?,
                rec.shares,
            ),
        }
    }

    /// Reads (or, as the first process, writes) `out/run.json` and returns this process's share.
    /// A record for another table size or shard size is refused.
    pub fn assign(
        &self,
        out: &Path,
        table_rows: u64,
        shard_size: u64,
        input: &str,
    ) -> Result<Assignment> {
        let file = out.join(RUN_FILE);
        let (record, created_record) = match read_record(out)? {
            Some(r) => (r, false),
            None => create_record(out, &self.proposed_record(table_rows, shard_size, input)?)?,
        };
        if record.table_rows != table_rows || record.shard_size != shard_size {
            return Err(Error::InvalidInput(format!(
                "{} records a table of {} rows in shards of {}, but this run has {table_rows} rows \
                 in shards of {shard_size}: the input or --shard-size changed; use a new --out",
                file.display(),
                record.table_rows,
                record.shard_size
            )));
        }
        let selection = self.assign_under(&record, &file)?;
        Ok(Assignment {
            selection,
            record,
            created_record,
            who: self.describe(),
            task: self.task_id(),
        })
    }
}
