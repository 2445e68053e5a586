//! `viclip score --plan`: what a run would do (shards, each share's shards, the settings it records)
//! from the input's row count alone, without decoding a video or loading a model.

use std::fmt;

use candle_core::DType;
use serde::Serialize;
use serde_json::json;

use super::record::{read_record, RunRecord, SPLIT_FILE};
use super::run::ScoreOptions;
use super::shards::stats_path;
use super::tasks::ShardSelection;
use super::Input;
use crate::{Result, ViClipConfig};

/// The settings a shard's values depend on (recorded in every stats file and parquet footer); a
/// rerun must match them to reuse finished shards.
pub(crate) fn settings(
    config: &ViClipConfig,
    dtype: DType,
    opts: &ScoreOptions,
) -> serde_json::Value {
    json!({
        "model": opts.model_name,
        "config": config,
        "dtype": format!("{dtype:?}"),
        "preprocess": opts.preprocess,
        "shard_size": opts.shard_size,
        "batch_size": opts.batch_size,
        "embeddings": opts.embeddings,
        "aesthetic": opts.aesthetic.as_ref().map(|a| json!({
            "scorer": a.info, "frames": a.frames, "reduce": a.reduce.as_str(),
        })),
        // Which columns, not where the files are: a resumed run may see them under other paths.
        "input": match &opts.input {
            Input::Table { columns: c, .. } => json!({
                "video": format!("{:?}", c.video), "caption": c.caption,
                "start": c.start, "end": c.end, "clips": c.clips,
            }),
            Input::WebDataset { .. } => json!("webdataset"),
        },
    })
}

/// One share of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharePlan {
    pub share: u64,
    /// The Slurm array task id that takes it (`first_task + share * task_step`).
    pub task: u64,
    /// Its shards in range notation (`3-39:4`).
    pub shards: String,
    pub num_shards: u64,
    pub rows: u64,
    /// Of its shards, those already complete in the output directory.
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
    /// What this process is (from flags and scheduler variables).
    pub who: String,
    pub shares: Vec<SharePlan>,
    pub settings: serde_json::Value,
}

/// The plan of `opts` for a model with `config` in `dtype`: reads the input's row count and the
/// output directory's record and stats file names; writes nothing.
pub fn plan(opts: &ScoreOptions, config: &ViClipConfig, dtype: DType) -> Result<Plan> {
    let rows = opts.input.count_rows()?;
    let name = match &opts.input {
        Input::Table { path, .. } => path.display().to_string(),
        Input::WebDataset { tars } => format!("{} webdataset tar files", tars.len()),
    };
    let shard_size = opts.shard_size.max(1);
    let (record, recorded) = match read_record(&opts.out)? {
        Some(r) if r.table_rows != rows || r.shard_size != shard_size => {
            return Err(crate::Error::InvalidInput(format!(
                "{} records a table of {} rows in shards of {}, but this input has {rows} rows in \
                 shards of {shard_size}: a run would be refused; use a new --out",
                opts.out.display(),
                r.table_rows,
                r.shard_size
            )))
        }
        Some(r) if r.split_recorded => (r, true),
        _ => (opts.shards.proposed_record(rows, shard_size, &name)?, false),
    };
    let (this_share, this_process) = match opts
        .shards
        .assign_under(&record, &opts.out.join(SPLIT_FILE))
    {
        Err(e) => (None, format!("refused: {e}")),
        Ok(_) if opts.shards.task_id().is_none() => (None, "the whole table".into()),
        Ok(s) => (Some(s.index), format!("share {} of {}", s.index, s.count)),
    };
    let shares = (0..record.shares)
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
                complete: mine
                    .iter()
                    .filter(|&&k| stats_path(&opts.out, k).is_file())
                    .count() as u64,
            }
        })
        .collect();
    Ok(Plan {
        record,
        recorded,
        this_share,
        this_process,
        who: opts.shards.describe(),
        shares,
        settings: settings(config, dtype, opts),
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
        let text = serde_json::to_string_pretty(&self.settings).map_err(|_| fmt::Error)?;
        writeln!(f, "settings (recorded with every shard):\n{text}")
    }
}
