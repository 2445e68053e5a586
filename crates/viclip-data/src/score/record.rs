//! `OUT/table.json` and `OUT/split.json`: the records that fix a run's table and its split across
//! resubmissions, and this process's share under them (see [`super::tasks`] for the rule).
//!
//! Both are first-writer-wins and never replaced, unlike the run identity `OUT/run.json`
//! (`super::runfile`), which every process compares with its own before any work and which a
//! process may replace while no shard is finished. The identity says *what* is computed; these say
//! how the table is dealt out, which must not change while any task of the run may still start.
//!
//! Two files, because a lone process (the whole table, e.g. a first try on one machine) fixes the
//! table but must not fix the split: the first *split* process (array task, indexed pod, srun task,
//! `--shard-index`) writes `split.json`. Each is created once, whole, by hard-linking a private file
//! into place, which fails when the name exists: of several processes starting at once one writes it
//! and the others read it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::shards::{SPLIT_FILE, TABLE_FILE};
use super::tasks::{share_of, Scheduler, ShardSelection, ShareRequest};
use crate::{Error, Result};

/// More shards than this in a record is taken for a damaged file (status walks every shard).
const MAX_SHARDS: u64 = 1 << 32;

/// `table.json` on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TableFile {
    table_rows: u64,
    shard_size: u64,
    table_shards: u64,
    input: String,
}

/// `split.json` on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SplitFile {
    shares: u64,
    first_task: u64,
    task_step: u64,
    source: String,
    array_job_id: Option<u64>,
}

/// What the run's first processes fixed for every later one (`table.json` and `split.json` read
/// together). Status needs only this (not the input table) to know which shards exist and which
/// task owns which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Rows of the input table.
    pub table_rows: u64,
    /// Rows per shard.
    pub shard_size: u64,
    /// `ceil(table_rows / shard_size)`.
    pub table_shards: u64,
    /// The input as the first process named it (informational).
    pub input: String,
    /// Whether a split is recorded (`split.json`); without one: 1 share, task 0.
    pub split_recorded: bool,
    /// Shares the shards are dealt to (shard `k` belongs to share `k % shares`).
    pub shares: u64,
    /// Slurm array task id of share 0; share `s` is task `first_task + s * task_step`.
    pub first_task: u64,
    /// Difference between the array task ids of consecutive shares (1 for consecutive ids).
    pub task_step: u64,
    /// How the first split process found the split: `flags`, `slurm-array`, `kubernetes`,
    /// `slurm-tasks` (`none` without a split).
    pub source: String,
    /// The Slurm array job that recorded the split, if one did.
    pub array_job_id: Option<u64>,
}

impl RunRecord {
    /// Array task id of share `s` (what `sbatch --array=` takes).
    pub fn task_of(&self, s: u64) -> u64 {
        self.first_task
            .saturating_add(s.saturating_mul(self.task_step))
    }

    fn new(t: TableFile, split: Option<SplitFile>) -> Self {
        let split_recorded = split.is_some();
        let s = split.unwrap_or(SplitFile {
            shares: 1,
            first_task: 0,
            task_step: 1,
            source: "none".into(),
            array_job_id: None,
        });
        RunRecord {
            table_rows: t.table_rows,
            shard_size: t.shard_size,
            table_shards: t.table_shards,
            input: t.input,
            split_recorded,
            shares: s.shares,
            first_task: s.first_task,
            task_step: s.task_step,
            source: s.source,
            array_job_id: s.array_job_id,
        }
    }

    /// Rows of shard `k` (the last shard may be short).
    pub fn shard_rows(&self, k: u64) -> u64 {
        self.shard_size.min(
            self.table_rows
                .saturating_sub(k.saturating_mul(self.shard_size)),
        )
    }
}

/// This process's share of a run, with the record it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// This process's share: the record's split, or `{index: 0, count: 1}` (the whole table) for a
    /// lone process.
    pub selection: ShardSelection,
    /// The run's table and split records, as read or written by this process.
    pub record: RunRecord,
    /// Whether this process wrote `table.json` (it was the first to start).
    pub wrote_table: bool,
    /// Whether this process wrote `split.json` (it was the first split process to start).
    pub wrote_split: bool,
    /// The request, described (who this process is).
    pub who: String,
    /// This process's id (array task id, index, procid or `ShareRequest::shard_index`); `None`: a lone process.
    pub task: Option<u64>,
}

impl Assignment {
    /// The start line of a task's log: who it is, its share, and its shards (the run hands it to its
    /// progress callback as a [`Progress::note`](super::Progress::note); the command prefixes its name).
    pub fn log_line(&self, to_score: &[u64], complete: u64) -> String {
        let r = &self.record;
        let share = match self.task {
            None if r.split_recorded => {
                format!("the whole table (the run's split has {} shares)", r.shares)
            }
            None => "the whole table".to_string(),
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
            "{}: {share}, {} the run's records; shards {} of {}: {complete} complete, {} to score [{}]",
            self.who,
            match (self.wrote_table, self.wrote_split) {
                (false, false) => "read",
                _ => "wrote",
            },
            self.selection.describe(r.table_shards),
            r.table_shards,
            to_score.len(),
            list.join(",")
        )
    }
}

/// `path` parsed, `None` when absent.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::InvalidInput(format!(
                "{}: not a viclip run record ({e}); it is written by the first `viclip score` \
                 process: delete it only when no process is running",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn damaged(path: &Path, what: &str) -> Error {
    Error::InvalidInput(format!(
        "{}: {what}; the file is damaged: delete it only when no process is running",
        path.display()
    ))
}

fn read_table(out: &Path) -> Result<Option<TableFile>> {
    let p = out.join(TABLE_FILE);
    let Some(t) = read_json::<TableFile>(&p)? else {
        return Ok(None);
    };
    if t.shard_size == 0 || t.table_shards != t.table_rows.div_ceil(t.shard_size) {
        return Err(damaged(
            &p,
            "shard_size and table_shards do not fit table_rows",
        ));
    }
    if t.table_shards > MAX_SHARDS {
        return Err(damaged(&p, "more than 2^32 shards"));
    }
    Ok(Some(t))
}

fn read_split(out: &Path) -> Result<Option<SplitFile>> {
    let p = out.join(SPLIT_FILE);
    let s = read_json::<SplitFile>(&p)?;
    if s.as_ref()
        .is_some_and(|s| s.shares == 0 || s.task_step == 0)
    {
        return Err(damaged(&p, "shares and task_step must be >= 1"));
    }
    Ok(s)
}

/// The records of `out` (`None` when no process has started there).
pub fn read_record(out: &Path) -> Result<Option<RunRecord>> {
    let Some(t) = read_table(out)? else {
        return Ok(None);
    };
    Ok(Some(RunRecord::new(t, read_split(out)?)))
}

/// Writes `value` as `out/name` unless that exists; returns whether this call wrote it. The file
/// appears whole: it is written under a private name and hard-linked into place, which fails when
/// the name exists.
fn create_once<T: Serialize>(out: &Path, name: &str, value: &T) -> Result<bool> {
    let final_path = out.join(name);
    if final_path.exists() {
        return Ok(false);
    }
    // Unique per process and call: threads of one process may race too.
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let tmp: PathBuf = out.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Internal(format!("{name} as JSON: {e}")))?;
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::output(&tmp, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| Error::output(&tmp, e))?;
    }
    let linked = std::fs::hard_link(&tmp, &final_path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        // A file system without hard links: exclusive creation still picks one writer, though a
        // reader racing the write could see it short (it then fails naming the file).
        Err(_) => {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&final_path);
            match f {
                Ok(mut f) => {
                    f.write_all(text.as_bytes())
                        .and_then(|_| f.sync_all())
                        .map_err(|e| Error::output(&final_path, e))?;
                    Ok(true)
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
                Err(e) => Err(Error::output(&final_path, e)),
            }
        }
    }
}

impl ShareRequest {
    /// The record a first process would write for a table of `table_rows` rows (the split part
    /// only when this process is one of several; [`RunRecord::split_recorded`] stays false).
    pub fn proposed_record(
        &self,
        table_rows: u64,
        shard_size: u64,
        input: &str,
    ) -> Result<RunRecord> {
        let table = TableFile {
            table_rows,
            shard_size,
            table_shards: table_rows.div_ceil(shard_size.max(1)),
            input: input.into(),
        };
        let split = self.bounded_split(&table)?;
        let mut r = RunRecord::new(table, split);
        r.split_recorded = false;
        Ok(r)
    }

    /// [`proposed_split`](Self::proposed_split) for `table`, refused when it has more shares than
    /// the table has shards (a share count from a flag or the scheduler is recorded only once it is
    /// known to be sane).
    fn bounded_split(&self, table: &TableFile) -> Result<Option<SplitFile>> {
        let split = self.proposed_split()?;
        if let Some(split) = split
            .as_ref()
            .filter(|s| s.shares > table.table_shards.max(1))
        {
            let most = table.table_shards.max(1);
            return Err(Error::InvalidInput(format!(
                "{} asks for {} shares, but the table's {} rows make {} shard(s) of {}: at most \
                 one share per shard; run at most {most} processes (e.g. sbatch --array=0-{}), or \
                 a smaller shard size",
                self.describe(),
                split.shares,
                table.table_rows,
                table.table_shards,
                table.shard_size,
                most - 1
            )));
        }
        Ok(split)
    }

    /// The split this process would record: `None` for a lone process.
    fn proposed_split(&self) -> Result<Option<SplitFile>> {
        if self.task_id().is_none() {
            return Ok(None);
        }
        let p = self.first_start()?;
        Ok(Some(SplitFile {
            shares: p.shares,
            first_task: p.first_task,
            task_step: p.task_step,
            source: p.source.into(),
            array_job_id: p.array_job_id,
        }))
    }

    /// This process's share under `rec` (checked against the request's `num_shards`).
    pub fn assign_under(&self, rec: &RunRecord, file: &Path) -> Result<ShardSelection> {
        if let Some(n) = self.num_shards.filter(|&n| n != rec.shares) {
            if !rec.split_recorded {
                return Err(Error::conflict(
                    file.with_file_name(TABLE_FILE),
                    format!(
                        "records a run scored by one process over the whole table (no split), but \
                         the number of shares asked for is {n}; finish it with one process, or use a new \
                         output directory for a split run"
                    ),
                ));
            }
            return Err(Error::conflict(
                file,
                format!(
                    "fixes {} shares (written by the run's first process), but \
                     the number of shares asked for is {n}; ask for {} shares or none, or use a new \
                     output directory",
                    rec.shares, rec.shares
                ),
            ));
        }
        if let Scheduler::SlurmTasks { ntasks, .. } = self.scheduler {
            if self.num_shards.is_none() && ntasks != rec.shares && self.shard_index.is_none() {
                return Err(Error::conflict(
                    file,
                    format!(
                        "fixes {} shares, but this srun step has {ntasks} tasks; run {} tasks, or \
                         use a new output directory",
                        rec.shares, rec.shares
                    ),
                ));
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

    /// Reads (or, as the first process, writes) `out/table.json`, and for a process that is one of
    /// several `out/split.json`, and returns this process's share. A record for another table size
    /// or shard size is refused.
    pub fn assign(
        &self,
        out: &Path,
        table_rows: u64,
        shard_size: u64,
        input: &str,
    ) -> Result<Assignment> {
        let file = out.join(TABLE_FILE);
        let table = TableFile {
            table_rows,
            shard_size,
            table_shards: table_rows.div_ceil(shard_size.max(1)),
            input: input.into(),
        };
        // A share count without anything that says which share this process is: the request's own
        // error (no record is involved, so none may be blamed).
        if self.task_id().is_none() && self.num_shards.is_some() {
            self.first_start()?;
        }
        // The split is proposed first, so that a process that cannot propose one writes nothing.
        let proposal = match read_split(out)? {
            None => self.bounded_split(&table)?,
            Some(_) => None,
        };
        let wrote_table = create_once(out, TABLE_FILE, &table)?;
        let t = read_table(out)?.ok_or_else(|| {
            Error::conflict(
                &file,
                "removed by another process just after it was written; rerun",
            )
        })?;
        if t.table_rows != table_rows || t.shard_size != shard_size {
            return Err(Error::conflict(
                file,
                format!(
                    "records a table of {} rows in shards of {}, but this run has {table_rows} \
                     rows in shards of {shard_size}: the input or the shard size \
                     changed; use a new output directory",
                    t.table_rows, t.shard_size
                ),
            ));
        }
        let wrote_split = match proposal {
            Some(split) => create_once(out, SPLIT_FILE, &split)?,
            None => false,
        };
        let record = RunRecord::new(t, read_split(out)?);
        let selection = self.assign_under(&record, &out.join(SPLIT_FILE))?;
        Ok(Assignment {
            selection,
            record,
            wrote_table,
            wrote_split,
            who: self.describe(),
            task: self.task_id(),
        })
    }
}
