//! The run: which shards to score, scoring them one after the other, the report at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use parquet::file::metadata::KeyValue;

use super::input::Input;
use super::report::{write_report, RunReport};
use super::shards::{completed, stats_path, ShardStats};
use super::tasks::ShareRequest;
use super::{output, work};
use crate::aesthetic::{AestheticScorer, Reduce};
use crate::pipeline::PipelineOptions;
use crate::preprocess::Preprocess;
use crate::{Error, Result, ViClip};

/// The aesthetic column: a scorer and how clips are reduced to one score.
#[derive(Debug, Clone)]
pub struct AestheticOptions {
    pub scorer: AestheticScorer,
    /// Frames sampled uniformly per clip (InternVid: 4).
    pub frames: usize,
    /// How frame scores become the clip's (InternVid: max).
    pub reduce: Reduce,
    /// What the scorer is (e.g. [`crate::aesthetic::ScorerInfo`] as JSON), recorded in the output.
    pub info: serde_json::Value,
}

/// Everything `viclip score` needs besides the model.
#[derive(Debug, Clone)]
pub struct ScoreOptions {
    pub input: Input,
    /// Output directory (created); reruns into it resume.
    pub out: PathBuf,
    /// Rows per shard (the unit of output files, of resume and of splitting across processes).
    pub shard_size: u64,
    /// Which share of the table this process takes (flags and scheduler variables), resolved
    /// against the run record `OUT/run.json` when the run starts.
    pub shards: ShareRequest,
    /// Frame sampling, resize, `T` and size of the ViCLIP input.
    pub preprocess: Preprocess,
    /// Clips per video-tower batch.
    pub batch_size: usize,
    /// Decode / preprocess threads (0: one per core).
    pub workers: usize,
    /// Also write clip-retrieval's `video_emb/`, `text_emb/`, `metadata/`.
    pub embeddings: bool,
    pub aesthetic: Option<AestheticOptions>,
    /// How the model was named (weights file or manifest name), recorded in the output.
    pub model_name: String,
    /// Write the report (quantiles, histograms) when every shard of the table is complete.
    pub write_report: bool,
}

/// Where the run stands, after every model batch and every shard.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Rows of this process's shards still to score when the run started.
    pub rows_total: u64,
    pub rows_done: u64,
    /// Rows written with a status other than `ok`.
    pub rows_failed: u64,
    /// Clips through the decode pipeline so far.
    pub clips: u64,
    pub shards_total: u64,
    pub shards_done: u64,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Rows in the input table.
    pub table_rows: u64,
    /// Shards of the whole table.
    pub table_shards: u64,
    /// Shards this process scored now, and those it found complete.
    pub scored: Vec<ShardStats>,
    pub skipped: u64,
    pub seconds: f64,
    /// The report, when every shard of the table is complete.
    pub report: Option<RunReport>,
}

/// The settings a shard's values depend on; a rerun must match them to reuse finished shards.
fn settings(model: &ViClip, opts: &ScoreOptions) -> serde_json::Value {
    super::plan::settings(model.config(), model.options().dtype, opts)
}

fn key_values(model: &ViClip, opts: &ScoreOptions, settings: &serde_json::Value) -> Vec<KeyValue> {
    let p = &opts.preprocess;
    let kv = |k: &str, v: String| KeyValue::new(format!("viclip.{k}"), v);
    let mut out = vec![
        kv("version", env!("CARGO_PKG_VERSION").into()),
        kv("model", opts.model_name.clone()),
        kv(
            "config",
            serde_json::to_string(model.config()).unwrap_or_default(),
        ),
        kv("dtype", format!("{:?}", model.options().dtype)),
        kv("device", format!("{:?}", model.options().device)),
        kv("sampling", p.sampling.to_string()),
        kv("resize", p.resize.to_string()),
        kv("num_frames", p.frames_per_clip().to_string()),
        kv("input_size", p.size.to_string()),
        kv("normalization", "imagenet".into()),
        kv("settings", settings.to_string()),
    ];
    if let Some(a) = &opts.aesthetic {
        out.push(kv("aesthetic", a.info.to_string()));
        out.push(kv("aesthetic_frames", format!("uniform({})", a.frames)));
        out.push(kv("aesthetic_reduce", a.reduce.as_str().into()));
    }
    out
}

/// Scores the input; see the [module docs](super). `progress` is called after every model batch.
pub fn score(
    model: &ViClip,
    opts: &ScoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunSummary> {
    let t0 = Instant::now();
    if opts.shard_size == 0 || opts.batch_size == 0 {
        return Err(Error::InvalidInput(
            "--shard-size and --batch-size must be >= 1".into(),
        ));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let settings = settings(model, opts);
    let kv = key_values(model, opts, &settings);
    let table_rows = opts.input.count_rows()?;
    let table_shards = table_rows.div_ceil(opts.shard_size);
    let mut todo = BTreeSet::new();
    let mut skipped = 0;
    let mut p = Progress::default();
    let input_name = match &opts.input {
        Input::Table { path, .. } => path.display().to_string(),
        Input::WebDataset { tars } => format!("{} webdataset tar files", tars.len()),
    };
    let share = opts
        .shards
        .assign(&opts.out, table_rows, opts.shard_size, &input_name)?;
    for k in (0..table_shards).filter(|&k| share.selection.owns(k)) {
        if completed(&opts.out, k, &settings)?.is_some() {
            skipped += 1;
        } else {
            todo.insert(k);
            p.rows_total += opts.shard_size.min(table_rows - k * opts.shard_size);
        }
    }
    p.shards_total = todo.len() as u64;
    let todo_list: Vec<u64> = todo.iter().copied().collect();
    // The task's log says which share it derived, so a wrong split is visible before any work.
    eprintln!("{}", share.log_line(&todo_list, skipped));
    progress(&p);

    let mut pipeline = PipelineOptions::new(opts.preprocess.clone());
    pipeline.batch_size = opts.batch_size;
    pipeline.workers = opts.workers;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.workers)
        .build()
        .map_err(|e| {
            Error::InvalidInput(format!("cannot start {} worker threads: {e}", opts.workers))
        })?;
    let ctx = work::Ctx {
        model,
        pipeline,
        aesthetic: opts.aesthetic.as_ref(),
        pool: &pool,
    };
    let temp_root = opts.out.join(".tmp");
    let embed_dim = opts.embeddings.then_some(model.config().embed_dim);
    let mut scored = Vec::new();
    opts.input.for_each_shard(
        opts.shard_size,
        &|k| todo.contains(&k),
        &temp_root,
        &mut |shard| {
            let t = Instant::now();
            let rows = work::score_shard(&ctx, &shard.tasks, &mut |c| {
                p.clips += c;
                progress(&p);
            })?;
            let mut failed = BTreeMap::new();
            for f in rows.iter().filter_map(|r| r.failure.as_ref()) {
                *failed.entry(f.kind.as_str().to_string()).or_insert(0u64) += 1;
            }
            let n_failed: u64 = failed.values().sum();
            let clips = rows.iter().filter(|r| r.video_emb.is_some()).count() as u64;
            let seconds = t.elapsed().as_secs_f64();
            let stats = ShardStats {
                shard: shard.index,
                first_row: shard.first_row,
                rows: rows.len() as u64,
                ok: rows.len() as u64 - n_failed,
                failed,
                clips,
                seconds,
                clips_per_s: clips as f64 / seconds.max(1e-9),
                settings: settings.clone(),
            };
            output::write_shard(&opts.out, &shard, &rows, embed_dim, &kv, &stats)?;
            p.rows_done += stats.rows;
            p.rows_failed += n_failed;
            p.shards_done += 1;
            progress(&p);
            scored.push(stats);
            Ok(())
        },
    )?;
    let _ = std::fs::remove_dir(&temp_root); // only when empty: other processes may be using it

    let all_done = (0..table_shards).all(|k| stats_path(&opts.out, k).is_file());
    let report = if opts.write_report && all_done && table_shards > 0 {
        Some(write_report(&opts.out)?)
    } else {
        None
    };
    Ok(RunSummary {
        table_rows,
        table_shards,
        scored,
        skipped,
        seconds: t0.elapsed().as_secs_f64(),
        report,
    })
}
