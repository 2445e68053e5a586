//! `viclip score --plan`: what a run would do (shards, each share's shards, the run identity it
//! records and whether the output directory's run matches it) from the input's row count and file
//! hashes, without decoding a video or loading a model.

use std::fmt;

use candle_core::DType;
use serde::Serialize;

use super::compare::diff;
use super::identity::{run_identity, HashCache};
use super::input::input_name;
use super::options::ScoreOptions;
use super::record::{read_record, RunRecord};
use super::shards::SPLIT_FILE;
use super::tasks::ShardSelection;
use super::verify::{shard_state, ShardState};
use crate::{Error, Result};
use viclip::ViClipConfig;

/// One share of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharePlan {
    /// The share's index, `0..shares`; it takes the shards `k` with `k % shares == share`.
    pub share: u64,
    /// The Slurm array task id that takes it (`first_task + share * task_step`).
    pub task: u64,
    /// Its shards in range notation (`3-39:4`).
    pub shards: String,
    /// How many shards the share takes.
    pub num_shards: u64,
    /// How many table rows those shards hold.
    pub rows: u64,
    /// Of its shards, those already complete for this identity in the output directory (files
    /// present with their recorded sizes; a run also checks the hashes of files that changed).
    pub complete: u64,
}

/// What `viclip score` would do with these options.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The record in force: the output directory's when it records a split, else the one this
    /// process would write.
    pub record: RunRecord,
    /// Whether the split is already recorded in the output directory.
    pub recorded: bool,
    /// This process's share under the record (`None`: a lone process, or one the record refuses).
    pub this_share: Option<u64>,
    /// What this process would take: `share 1 of 3`, `the whole table`, or why it is refused.
    pub this_process: String,
    /// When this process is refused over one of its options, which (a front end names it in its
    /// own words).
    #[serde(skip)]
    pub refused_by: Option<crate::Setting>,
    /// What this process is (from flags and scheduler variables).
    pub who: String,
    /// Every share of the record, in index order.
    pub shares: Vec<SharePlan>,
    /// The run identity a run with these options records (`OUT/run.json`, every shard's stats),
    /// but for the keys in `unknown`.
    pub identity: serde_json::Value,
    /// Top-level identity keys this command cannot know without loading or fetching something
    /// (`weights` for a manifest model not yet fetched, `aesthetic` for the scorer); not compared.
    pub unknown: Vec<String>,
    /// How the identity compares with the output directory's `run.json`: `None` when there is
    /// none, else one line per differing key (empty: a run would be accepted).
    pub recorded_diff: Option<Vec<String>>,
}

/// The plan of `opts` for a model with `config` in `dtype`: reads the input's row count, hashes
/// the input and model files as a run does (the hash cache is read, not written), reads the output
/// directory's records and shard stats; writes nothing.
/// `unknown`: see [`Plan::unknown`].
pub fn plan(
    opts: &ScoreOptions,
    config: &ViClipConfig,
    dtype: DType,
    unknown: &[&str],
) -> Result<Plan> {
    let rows = opts.input.count_rows()?;
    let name = input_name(&opts.input);
    let identity = run_identity(config, dtype, opts, rows, &mut HashCache::open(&opts.out))?;
    let recorded_diff = std::fs::read_to_string(opts.out.join("run.json"))
        .ok()
        .map(
            |text| match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(r) => diff(&identity, &r)
                    .into_iter()
                    .filter(|l| {
                        let key = l.split([':', '.']).next().unwrap_or_default();
                        !unknown.contains(&key)
                    })
                    .collect(),
                Err(e) => vec![format!("run.json: does not parse ({e})")],
            },
        );
    let shard_size = opts.shard_size.max(1);
    let (record, recorded) = match read_record(&opts.out)? {
        Some(r) if r.table_rows != rows || r.shard_size != shard_size => {
            return Err(Error::conflict(
                &opts.out,
                format!(
                    "records a table of {} rows in shards of {}, but this input has {rows} rows \
                     in shards of {shard_size}: a run would be refused; use a new output directory",
                    r.table_rows, r.shard_size
                ),
            ))
        }
        Some(r) if r.split_recorded => (r, true),
        _ => (opts.shards.proposed_record(rows, shard_size, &name)?, false),
    };
    let mut refused_by = None;
    let (this_share, this_process) = match opts
        .shards
        .assign_under(&record, &opts.out.join(SPLIT_FILE))
    {
        Err(e) => {
            if let Error::Setting { setting, .. } = &e {
                refused_by = Some(*setting);
            }
            (None, format!("refused: {e}"))
        }
        Ok(_) if opts.shards.task_id().is_none() => (None, "the whole table".into()),
        Ok(s) => (Some(s.index), format!("share {} of {}", s.index, s.count)),
    };
    // Shares beyond the shard count own nothing (and a record of an unbounded count, written
    // before counts were bounded, must not become an unbounded list).
    let mut shares = (0..record.shares.min(record.table_shards.max(1)))
        .map(|s| {
            let sel = ShardSelection {
                index: s,
                count: record.shares,
            };
            let mine: Vec<u64> = (s..record.table_shards)
                .step_by(record.shares as usize)
                .collect();
            SharePlan {
                share: s,
                task: record.task_of(s),
                shards: sel.describe(record.table_shards),
                num_shards: mine.len() as u64,
                rows: mine.iter().map(|&k| record.shard_rows(k)).sum(),
                complete: 0,
            }
        })
        .collect::<Vec<_>>();
    for s in &mut shares {
        for k in (s.share..record.table_shards).step_by(record.shares as usize) {
            if matches!(
                shard_state(&opts.out, k, &identity, false)?,
                ShardState::Complete
            ) {
                s.complete += 1;
            }
        }
    }
    Ok(Plan {
        record,
        recorded,
        this_share,
        this_process,
        refused_by,
        who: opts.shards.describe(),
        shares,
        identity,
        unknown: unknown.iter().map(|k| k.to_string()).collect(),
        recorded_diff,
    })
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.record;
        writeln!(f, "input: {} ({} rows)", r.input, r.table_rows)?;
        writeln!(
            f,
            "shards: {} of {} rows (the last holds {})",
            r.table_shards,
            r.shard_size,
            r.shard_rows(r.table_shards.saturating_sub(1))
        )?;
        let how = if self.recorded {
            "recorded in"
        } else if self.this_share.is_some() {
            "to be recorded in"
        } else {
            "a lone process takes the whole table; the first split process records the split in"
        };
        writeln!(
            f,
            "split: {} shares, array task id = {} + share * {} ({how} {SPLIT_FILE})",
            r.shares, r.first_task, r.task_step
        )?;
        writeln!(f, "this process ({}): {}", self.who, self.this_process)?;
        writeln!(f, "share\ttask\tshards\trows\tcomplete\tshard ids")?;
        for s in &self.shares {
            writeln!(
                f,
                "{}\t{}\t{}\t{}\t{}\t{}",
                s.share, s.task, s.num_shards, s.rows, s.complete, s.shards
            )?;
        }
        let text = serde_json::to_string_pretty(&self.identity).map_err(|_| fmt::Error)?;
        writeln!(
            f,
            "run identity (recorded in run.json and with every shard):\n{text}"
        )?;
        if !self.unknown.is_empty() {
            writeln!(
                f,
                "not known before the run starts (recorded then, not compared here): {}",
                self.unknown.join(", ")
            )?;
        }
        match &self.recorded_diff {
            None => writeln!(f, "run.json: none yet (the first process writes it)"),
            Some(d) if d.is_empty() => writeln!(f, "run.json: matches (a run resumes it)"),
            Some(d) => writeln!(
                f,
                "run.json: differs (a run is refused while the directory holds a finished shard); this \
                 command's value, then the run's:\n  {}",
                d.join("\n  ")
            ),
        }
    }
}
