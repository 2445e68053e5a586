//! `viclip score`: CLIP-SIM (and optionally aesthetic scores and embeddings) for every row of a clip
//! table or webdataset, in resumable shards; `viclip report DIR`: quantiles and histograms of a run.
//! See `docs/score.md`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use viclip::ViClip;
use viclip_data::score::{
    report, score, AestheticOptions, Columns, Input, Progress, ScoreOptions, ShareRequest,
    VideoLocator,
};
use viclip_data::subset::SPAN_COLUMNS;

use crate::args::{AestheticModelArgs, DecodeArgs, ModelArgs};

// `--plan` lives in its own file next to this one.
#[path = "score_plan.rs"]
mod plan;
pub use plan::run_plan;

/// The flags of `viclip score`: input table or webdataset and its columns, output directory, model,
/// decoding, the optional aesthetic scores and embeddings, sharding and progress.
#[derive(Args, Debug, Clone)]
pub struct ScoreArgs {
    /// Clip table (.jsonl/.csv/.tsv/.parquet file or directory of them) or webdataset (.tar file or
    /// directory of .tar shards).
    #[arg(long)]
    pub input: PathBuf,
    /// Output directory; running the same command again resumes.
    #[arg(long)]
    pub out: PathBuf,
    /// auto, internvid, table or webdataset (auto: .tar → webdataset; a `YoutubeID` column → internvid).
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Directory that relative video paths (and InternVid file names) are resolved against (default:
    /// the table's directory).
    #[arg(long)]
    pub video_root: Option<PathBuf>,
    /// Video file name built from columns (InternVid default `{YoutubeID}.mp4`; .webm, .mkv, ... are
    /// tried when it does not exist).
    #[arg(long, conflicts_with = "path_col")]
    pub path_pattern: Option<String>,
    /// Column holding the video path (generic tables; default `path`).
    #[arg(long)]
    pub path_col: Option<String>,
    /// Caption column (default `Caption` for InternVid, `caption` otherwise).
    #[arg(long)]
    pub caption_col: Option<String>,
    /// Clip start column (seconds or HH:MM:SS.mmm). Default: the first pair of start/end columns
    /// found (`start`/`end`, `start_time`/`end_time`, ...), else a `clips` column, else the whole file.
    #[arg(long)]
    pub start_col: Option<String>,
    /// Clip end column (exclusive).
    #[arg(long)]
    pub end_col: Option<String>,
    /// A video2dataset `clips` column ([[start, end]]) instead of --start-col/--end-col.
    #[arg(long, conflicts_with_all = ["start_col", "end_col"])]
    pub clips_col: Option<String>,
    /// The ViCLIP model, device, dtype and video batch size.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Frame sampling, resize and decode threads.
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Also compute the LAION aesthetic score (needs --clip-weights and --aesthetic-head).
    #[arg(long, requires_all = ["clip_weights", "aesthetic_head"])]
    pub aesthetic: bool,
    /// The CLIP tower and LAION head of `--aesthetic`, and its frames per clip.
    #[command(flatten)]
    pub aesthetic_model: AestheticModelArgs,
    /// Also write clip-retrieval's video_emb/, text_emb/ (float16) and metadata/.
    #[arg(long)]
    pub embeddings: bool,
    /// Rows per output shard (the unit of resume and of splitting across processes).
    #[arg(long, default_value_t = 10_000)]
    pub shard_size: u64,
    /// This process's share (default: from $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX or an srun
    /// step's $SLURM_PROCID, mapped through OUT/split.json; see docs/score.md).
    #[arg(long)]
    pub shard_index: Option<u64>,
    /// Number of shares splitting the table (default: recorded in OUT/split.json by the first process,
    /// which takes it from the array's task count; 1 for a lone process).
    #[arg(long)]
    pub num_shards: Option<u64>,
    /// Print the shards, each share's shards and the run identity that would be recorded, then exit
    /// (reads the input's row count and hashes the files; decodes nothing and loads no model).
    #[arg(long)]
    pub plan: bool,
    /// Do not write the report when the last shard completes.
    #[arg(long)]
    pub no_report: bool,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 30)]
    pub log_every: u64,
}

/// The flags of `viclip report`: the output directory of a finished run.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The --out directory of a finished `viclip score` run.
    pub dir: PathBuf,
}

/// The input the flags describe.
pub fn input(a: &ScoreArgs) -> Result<Input> {
    let format = a.format.to_ascii_lowercase();
    if format == "webdataset" || (format == "auto" && Input::webdataset_files(&a.input)?.is_some())
    {
        let tars = Input::webdataset_files(&a.input)?
            .with_context(|| format!("{}: no .tar files", a.input.display()))?;
        return Ok(Input::WebDataset { tars });
    }
    let names = Input::table_columns(&a.input)?;
    let internvid = match format.as_str() {
        "internvid" => true,
        "table" => false,
        "auto" => a.path_col.is_none() && names.iter().any(|n| n == "YoutubeID"),
        f => bail!("--format {f}: use auto, internvid, table or webdataset"),
    };
    let mut c = if internvid {
        Columns::internvid(a.video_root.clone())
    } else {
        Columns {
            video: VideoLocator::Column(a.path_col.clone().unwrap_or_else(|| "path".into())),
            video_root: a.video_root.clone(),
            caption: "caption".into(),
            start: None,
            end: None,
            clips: None,
        }
    };
    if let Some(p) = &a.path_pattern {
        c.video = VideoLocator::Pattern(p.clone());
    }
    if let Some(p) = &a.path_col {
        c.video = VideoLocator::Column(p.clone());
    }
    if let Some(x) = &a.caption_col {
        c.caption = x.clone();
    }
    if a.start_col.is_some() || a.end_col.is_some() {
        c.start = a.start_col.clone();
        c.end = a.end_col.clone();
    }
    if a.clips_col.is_some() {
        (c.start, c.end, c.clips) = (None, None, a.clips_col.clone());
    }
    let spans_given = a.start_col.is_some() || a.end_col.is_some() || a.clips_col.is_some();
    if !internvid && !spans_given {
        detect_span_columns(&mut c, &names);
    }
    Ok(Input::Table {
        path: a.input.clone(),
        columns: c,
    })
}

/// A generic table's clip spans, found as `viclip subset` finds them: the first pair of
/// [`SPAN_COLUMNS`] present, else a video2dataset `clips` column (said by [`span_note`], and
/// recorded in `run.json` with the other columns), so a table is never silently scored on whole files.
fn detect_span_columns(c: &mut Columns, names: &[String]) {
    let has = |n: &str| names.iter().any(|x| x == n);
    if let Some((s, e)) = SPAN_COLUMNS.iter().find(|(s, e)| has(s) && has(e)) {
        (c.start, c.end) = (Some(s.to_string()), Some(e.to_string()));
    } else if has("clips") {
        c.clips = Some("clips".into());
    }
}

/// Which columns give a generic table's spans when no flag chose them, for the log.
fn span_note(a: &ScoreArgs, input: &Input) -> Option<String> {
    let Input::Table { path, columns: c } = input else {
        return None;
    };
    if a.start_col.is_some() || a.end_col.is_some() || a.clips_col.is_some() {
        return None;
    }
    let table = path.display();
    Some(match (&c.start, &c.end, &c.clips) {
        (Some(s), Some(e), _) => format!(
            "clip spans from the columns `{s}` and `{e}` of {table} (--start-col/--end-col choose \
             others)"
        ),
        (_, _, Some(k)) => {
            format!("clip spans from the `{k}` column of {table} (--clips-col chooses another)")
        }
        _ => format!(
            "{table} has no start/end columns ({}) and no `clips` column: each row is scored on \
             its whole video (--start-col/--end-col name the span columns)",
            SPAN_COLUMNS
                .iter()
                .map(|(s, e)| format!("{s}/{e}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

fn aesthetic(a: &ScoreArgs) -> Result<Option<AestheticOptions>> {
    if !a.aesthetic {
        return Ok(None);
    }
    let m = &a.aesthetic_model;
    let (w, head) = m.files()?;
    let scorer = m.load(&a.model.device, &a.model.dtype)?;
    let info = serde_json::to_value(scorer.info(w, &m.clip_config))?;
    Ok(Some(AestheticOptions {
        scorer,
        frames: m.aesthetic_frames,
        reduce: m.aesthetic_reduce,
        info,
        files: vec![w.clone(), head.clone()],
    }))
}

/// The library options the flags describe, with the loaded model.
pub fn options(a: &ScoreArgs) -> Result<(ViClip, ScoreOptions)> {
    let shards = ShareRequest::from_process_env(a.shard_index, a.num_shards)?;
    let input = input(a)?;
    let (model, model_name, weights) = a.model.load_with_name()?;
    let clips = a.decode.clip_options(model.config())?;
    let opts = ScoreOptions {
        input,
        out: a.out.clone(),
        shard_size: a.shard_size,
        shards,
        clips,
        embeddings: a.embeddings,
        aesthetic: aesthetic(a)?,
        model_name,
        weights: Some(weights),
        write_report: !a.no_report,
        cancel: None,
    };
    Ok((model, opts))
}

/// SIGINT and SIGTERM set a flag that the run checks between batches: it then removes its
/// temporary files and returns, and the process exits with 130 or 143 as if killed by the signal.
/// A second signal ends the process at once (the kernel releases its locks; a rerun resumes). The
/// handlers stay registered after the run: signal-hook cannot restore the default action, and an
/// unregistered signal would then be ignored.
struct Signals {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    any: Arc<AtomicBool>,
}

impl Signals {
    fn register() -> Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::flag;
        let s = Signals {
            int: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
            any: Arc::new(AtomicBool::new(false)),
        };
        for (sig, own) in [(SIGINT, &s.int), (SIGTERM, &s.term)] {
            // Order matters: the shutdown hook sees the flag set only from the second signal on.
            flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&s.any))?;
            flag::register(sig, Arc::clone(own))?;
            flag::register(sig, Arc::clone(&s.any))?;
        }
        Ok(s)
    }

    /// The exit code of the signal received, if any.
    fn exit_code(&self) -> Option<i32> {
        if self.int.load(Ordering::Relaxed) {
            Some(130)
        } else if self.term.load(Ordering::Relaxed) {
            Some(143)
        } else {
            None
        }
    }
}

/// Runs `viclip score`.
pub fn run(a: &ScoreArgs) -> Result<()> {
    if a.plan {
        return run_plan(a);
    }
    let (model, mut opts) = options(a)?;
    if let Some(n) = span_note(a, &opts.input) {
        eprintln!("viclip score: {n}");
    }
    let signals = Signals::register()?;
    opts.cancel = Some(Arc::clone(&signals.any));
    let t0 = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} rows  {msg}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let mut last_log = Instant::now();
    let every = Duration::from_secs(a.log_every.max(1));
    let mut show = |p: &Progress| {
        if let Some(n) = &p.note {
            match &bar {
                Some(b) => b.println(format!("viclip score: {n}")),
                None => eprintln!("viclip score: {n}"),
            }
            return;
        }
        let rate = p.clips as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        let msg = format!("{rate:.1} clips/s, {} failed", p.rows_failed);
        if let Some(b) = &bar {
            b.set_length(p.rows_total);
            b.set_position(p.rows_done);
            b.set_message(msg);
        } else if last_log.elapsed() >= every || p.shards_done == p.shards_total {
            last_log = Instant::now();
            eprintln!(
                "viclip score: {}/{} rows, {}/{} shards, {msg}",
                p.rows_done, p.rows_total, p.shards_done, p.shards_total
            );
        }
    };
    let summary = match score(&model, &opts, &mut show) {
        Err(viclip_data::Error::Interrupted) => {
            if let Some(b) = &bar {
                b.abandon();
            }
            eprintln!("viclip score: {}", viclip_data::Error::Interrupted);
            std::process::exit(signals.exit_code().unwrap_or(130));
        }
        // A refused rerun lists one differing setting a line; the binary's error handler joins
        // lines into one, so the list is printed here and the error line says where it is.
        Err(viclip_data::Error::OtherSettings {
            path,
            what,
            differences,
        }) => {
            eprintln!(
                "viclip score: {}: {what} was scored with other settings than this run's (a \
                 directory holds one run: use a new --out for other settings, or rerun with the \
                 run's); this run's value, then the recorded one:\n  {}",
                path.display(),
                differences.join("\n  ")
            );
            bail!(
                "{}: {what} was scored with other settings than this run's; the settings that \
                 differ are listed above",
                path.display()
            );
        }
        Err(viclip_data::Error::Output { path, source }) if path == a.out => {
            return Err(
                anyhow::Error::new(viclip_data::Error::Output { path, source })
                    .context(format!("--out {}: not writable", a.out.display())),
            );
        }
        r => r?,
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let rows: u64 = summary.scored.iter().map(|s| s.rows).sum();
    let ok: u64 = summary.scored.iter().map(|s| s.ok).sum();
    eprintln!(
        "viclip score: {} shard(s) scored ({rows} rows, {ok} ok, {} failed), {} already complete, {:.1} s; {} rows in {} shards in the table",
        summary.scored.len(),
        rows - ok,
        summary.skipped,
        summary.seconds,
        summary.table_rows,
        summary.table_shards
    );
    match &summary.report {
        Some(r) => eprint!("{}", report::format_report(r)),
        None if !a.no_report => eprintln!(
            "viclip score: other shards are not complete yet; run `viclip report {}` when every task has finished",
            a.out.display()
        ),
        None => {}
    }
    Ok(())
}

/// Runs `viclip report DIR`: writes `report.json` and the histograms, prints the quantiles (refused
/// on a run with a shard missing or damaged).
pub fn run_report(a: &ReportArgs) -> Result<()> {
    let r = report::write_report(&a.dir)?;
    note_ignored(&a.dir)?;
    print!("{}", report::format_report(&r));
    Ok(())
}

/// Prints which table files of the score run directory `dir` are not the run's shards and so were
/// not read (a subset saved there, a copy of a shard, the input table); nothing for other paths.
pub fn note_ignored(dir: &std::path::Path) -> Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    let table = viclip_data::table::Table::open(dir)?;
    let ignored = table.ignored();
    if let Some(first) = ignored.first() {
        let more = match ignored.len() {
            1 => String::new(),
            n => format!(" and {} more", n - 1),
        };
        eprintln!(
            "viclip: {}: read only the run's shards; {}{more} in that directory is not one of them and was left out",
            dir.display(),
            first.display()
        );
    }
    Ok(())
}
