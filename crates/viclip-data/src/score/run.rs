//! The run: which shards to score, scoring them one after the other, the report at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Instant;

use parquet::file::metadata::KeyValue;
use serde_json::json;

use super::claims::Claims;
use super::identity::{run_identity, HashCache};
use super::input::{input_name, Input};
use super::lock::{self, RunLock, TempSpace};
use super::options::ScoreOptions;
use super::record::Assignment;
use super::report::{write_report, RunReport};
use super::shard_rows::{RowStatus, ShardInput};
use super::shards::{stats_path, ShardStats};
use super::verify::{check_complete, shard_state, ShardState};
use super::{output, preflight, runfile, work};
use crate::{Error, Result, Setting};
use viclip::ViClip;

/// Where the run stands, after every model batch and every shard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Rows of this process's shards still to score when the run started.
    pub rows_total: u64,
    /// Rows of this process's shards written so far in this run.
    pub rows_done: u64,
    /// Rows written with a status other than `ok`.
    pub rows_failed: u64,
    /// Clips through the decode pipeline so far.
    pub clips: u64,
    /// Shards of this process's share still to score when the run started.
    pub shards_total: u64,
    /// Shards scored and written so far in this run.
    pub shards_done: u64,
    /// An event to log, set for one call: this process's share and shards when the run starts, a
    /// shard scored, skipped because another process holds it, or redone because its files were
    /// damaged. The library prints nothing itself: the caller logs the notes.
    pub note: Option<String>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Rows in the input table.
    pub table_rows: u64,
    /// Shards of the whole table.
    pub table_shards: u64,
    /// Stats of the shards this process scored in this call (those it found complete are counted in
    /// `skipped`).
    pub scored: Vec<ShardStats>,
    /// Shards of this process's share found complete when the run started (not scored again).
    pub skipped: u64,
    /// Wall-clock seconds of the whole call, checks and report included.
    pub seconds: f64,
    /// The report, when every shard of the table is complete.
    pub report: Option<RunReport>,
}

/// Stops a fresh run whose first shard found none of its videos: the video root is wrong, and
/// scoring on would only record every row as `missing_video` (and make the directory the run of
/// that root). Nothing of the shard is written.
fn check_first_shard(input: &Input, rows: &[work::RowOut]) -> Result<()> {
    let missing = |r: &work::RowOut| {
        r.failure
            .as_ref()
            .is_some_and(|f| f.kind == RowStatus::MissingVideo)
    };
    let Input::Table { path, columns } = input else {
        return Ok(());
    };
    if rows.is_empty() || !rows.iter().all(missing) {
        return Ok(());
    }
    let example = rows
        .iter()
        .find_map(|r| r.failure.as_ref())
        .map_or(String::new(), |f| format!(" (the first: {})", f.message));
    Err(Error::setting(
        Setting::VideoRoot,
        columns.root_for(path).display(),
        format!(
            "none of the {} videos of the first shard was found under it{example}; relative paths \
             resolve against the video root (default: the table's directory): name the directory \
             the table's paths are relative to. Nothing was written",
            rows.len()
        ),
    ))
}

/// Progress with a one-off note.
fn say(progress: &mut dyn FnMut(&Progress), p: &mut Progress, note: String) {
    p.note = Some(note);
    progress(p);
    p.note = None;
}

/// What the checks before any work settled: the table's size, the run's identity and records,
/// this process's share, and the run lock and temporary space held while the run goes on.
struct Started {
    // Fields drop in order: the run lock is released before the temporary space is removed, as
    // when both were locals of `score`.
    _run_lock: RunLock,
    temp: TempSpace,
    table_rows: u64,
    table_shards: u64,
    identity: serde_json::Value,
    kv: Vec<KeyValue>,
    scored_with: serde_json::Value,
    share: Assignment,
}

/// The checks before any work: options, video root, output directory, the run identity against
/// `OUT/run.json`, stray shards, then this process's share of the run's records.
fn start(model: &ViClip, opts: &ScoreOptions) -> Result<Started> {
    if opts.shard_size == 0 {
        return Err(Error::setting(Setting::ShardSize, 0, "must be at least 1"));
    }
    // Counts of 0 are refused before anything is written.
    let pipeline = opts.clips.pipeline(model)?;
    preflight::check_video_root(&opts.input)?;
    preflight::check_out(&opts.out, &opts.input)?;
    let temp = TempSpace::create(&opts.out)?;
    let table_rows = opts.input.count_rows()?;
    let table_shards = table_rows.div_ceil(opts.shard_size);
    let mut cache = HashCache::open(&opts.out);
    let identity = run_identity(
        model.config(),
        model.options().dtype,
        opts,
        table_rows,
        &mut cache,
    )?;
    cache.save(temp.path());
    let kv = output::key_values(model, opts, &identity);
    let scored_with = json!({
        "batch_size": pipeline.batch_size,
        "workers": pipeline.workers,
        "device": format!("{:?}", model.options().device),
    });
    // Held shared until the run returns: no command with other settings takes the directory over.
    let run_lock = runfile::adopt(&opts.out, &identity, temp.path())?;
    if let Some(&k) = runfile::stray_shards(&opts.out, table_shards)?.first() {
        return Err(Error::conflict(
            &opts.out,
            format!(
                "shard {k:05} is beyond the {table_shards} shard(s) of this input's {table_rows} \
                 rows: the directory holds the output of another input; use a new output directory"
            ),
        ));
    }
    // The share after the identity check, so that a refused command records no table or split.
    let share = opts.shards.assign(
        &opts.out,
        table_rows,
        opts.shard_size,
        &input_name(&opts.input),
    )?;
    Ok(Started {
        _run_lock: run_lock,
        temp,
        table_rows,
        table_shards,
        identity,
        kv,
        scored_with,
        share,
    })
}

/// This process's shards still to score, and how many of its share are complete already. Every
/// shard is checked before any work, so a foreign shard refuses the run before anything is written.
fn shards_to_score(
    opts: &ScoreOptions,
    s: &Started,
    p: &mut Progress,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(BTreeSet<u64>, u64)> {
    let mut todo = BTreeSet::new();
    let mut skipped = 0;
    for k in (0..s.table_shards).filter(|&k| s.share.selection.owns(k)) {
        match shard_state(&opts.out, k, &s.identity, true)? {
            ShardState::Complete => {
                skipped += 1;
                continue;
            }
            ShardState::Foreign(lines) => {
                return Err(runfile::foreign(
                    &opts.out,
                    &format!("shard {k:05}"),
                    &lines,
                ))
            }
            ShardState::Damaged(why) => say(
                progress,
                p,
                format!("shard {k:05}: {why}; scoring it again"),
            ),
            ShardState::Missing => {}
        }
        todo.insert(k);
        p.rows_total += opts.shard_size.min(s.table_rows - k * opts.shard_size);
    }
    p.shards_total = todo.len() as u64;
    Ok((todo, skipped))
}

/// Scores the input; see the [module docs](super). `progress` is called after every model batch.
pub fn score(
    model: &ViClip,
    opts: &ScoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunSummary> {
    let t0 = Instant::now();
    let s = start(model, opts)?;
    let mut p = Progress::default();
    let (todo, skipped) = shards_to_score(opts, &s, &mut p, progress)?;
    let todo_list: Vec<u64> = todo.iter().copied().collect();
    // The task's log says which share it derived, so a wrong split is visible before any work.
    say(progress, &mut p, s.share.log_line(&todo_list, skipped));
    progress(&p);

    let scored = score_shards(model, opts, &s, &todo, skipped == 0, &mut p, progress)?;
    // A signal during the last shard's write still counts: the exit code tells it was stopped.
    if cancelled(opts) {
        return Err(Error::Interrupted);
    }
    let table_shards = s.table_shards;
    let table_rows = s.table_rows;
    drop(s.temp);
    let report = final_report(opts, table_shards, &mut p, progress)?;
    Ok(RunSummary {
        table_rows,
        table_shards,
        scored,
        skipped,
        seconds: t0.elapsed().as_secs_f64(),
        report,
    })
}

/// Whether the run's cancel flag is set.
fn cancelled(opts: &ScoreOptions) -> bool {
    opts.cancel
        .as_deref()
        .is_some_and(|c| c.load(Ordering::Relaxed))
}

/// Scores the shards of `todo` as the input stream reaches them, each claimed first (another
/// process may hold it) and written when done. `fresh`: no shard of this share was complete
/// when the run started, so the first shard scored checks the video root.
fn score_shards(
    model: &ViClip,
    opts: &ScoreOptions,
    s: &Started,
    todo: &BTreeSet<u64>,
    fresh: bool,
    p: &mut Progress,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<ShardStats>> {
    let pipeline = opts.clips.pipeline(model)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(pipeline.workers.unwrap_or(0))
        .build()
        .map_err(|e| Error::Resource {
            what: format!("{} worker threads", pipeline.workers.unwrap_or(0)),
            msg: format!("{e}; use fewer decode threads"),
        })?;
    let ctx = work::Ctx {
        model,
        pipeline,
        aesthetic: opts.aesthetic.as_ref(),
        pool: &pool,
        cancel: opts.cancel.clone(),
    };
    let embed_dim = opts.embeddings.then_some(model.config().embed_dim);
    let claims = Claims::new(&opts.out, &s.identity);
    let mut scored = Vec::new();
    opts.input.for_each_shard(
        opts.shard_size,
        &|k| {
            // Asked as the stream reaches each shard, so a signal also stops the reading past
            // other processes' shards.
            if cancelled(opts) {
                return Err(Error::Interrupted);
            }
            if !todo.contains(&k) {
                return Ok(false);
            }
            claims.claim(k)
        },
        s.temp.path(),
        &mut |shard| {
            for n in claims.take_notes() {
                say(progress, p, n);
            }
            let t = Instant::now();
            let rows = work::score_shard(&ctx, &shard.tasks, &mut |c| {
                p.clips += c;
                progress(p);
            })?;
            if cancelled(opts) {
                return Err(Error::Interrupted);
            }
            if p.shards_done == 0 && fresh {
                check_first_shard(&opts.input, &rows)?;
            }
            let (stats, n_failed) = shard_stats(&shard, &rows, t.elapsed().as_secs_f64(), s);
            runfile::recheck(&opts.out, &s.identity)?;
            let stats = output::write_shard(&opts.out, &shard, &rows, embed_dim, &s.kv, stats)?;
            claims.release(shard.index); // the files are final
            p.rows_done += stats.rows;
            p.rows_failed += n_failed;
            p.shards_done += 1;
            let note = format!("shard {:05}: scored ({} rows)", shard.index, stats.rows);
            say(progress, p, note);
            progress(p);
            scored.push(stats);
            Ok(())
        },
    )?;
    for n in claims.take_notes() {
        say(progress, p, n);
    }
    Ok(scored)
}

/// A scored shard's stats (its files are added when they are written), and its failed rows.
fn shard_stats(
    shard: &ShardInput,
    rows: &[work::RowOut],
    seconds: f64,
    s: &Started,
) -> (ShardStats, u64) {
    let mut failed = BTreeMap::new();
    for f in rows.iter().filter_map(|r| r.failure.as_ref()) {
        *failed.entry(f.kind.as_str().to_string()).or_insert(0u64) += 1;
    }
    let n_failed: u64 = failed.values().sum();
    let clips = rows.iter().filter(|r| r.video_emb.is_some()).count() as u64;
    let stats = ShardStats {
        shard: shard.index,
        first_row: shard.first_row,
        rows: rows.len() as u64,
        ok: rows.len() as u64 - n_failed,
        failed,
        clips,
        seconds,
        clips_per_s: clips as f64 / seconds.max(1e-9),
        settings: s.identity.clone(),
        files: Vec::new(),
        scored_with: s.scored_with.clone(),
    };
    (stats, n_failed)
}

/// The report, when asked for and every shard of the table is complete (by this process or others).
fn final_report(
    opts: &ScoreOptions,
    table_shards: u64,
    p: &mut Progress,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Option<RunReport>> {
    let all_done = (0..table_shards).all(|k| stats_path(&opts.out, k).is_file());
    if !(opts.write_report && all_done && table_shards > 0) {
        return Ok(None);
    }
    // One writer at a time: the last two processes of a run may both get here, and the other
    // one's report is as good.
    match lock::try_lock(&opts.out.join(".locks").join("report.lock"))? {
        None => say(progress, p, "another process is writing the report".into()),
        Some(_lock) => match check_complete(&opts.out) {
            Ok(()) => return Ok(Some(write_report(&opts.out)?)),
            Err(e) => say(progress, p, format!("no report: {e}")),
        },
    }
    Ok(None)
}
