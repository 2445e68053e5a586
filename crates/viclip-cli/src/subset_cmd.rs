//! `viclip subset random|div|flt|aes|dedup`: InternVid's subsets from a scored table (see
//! `docs/subsets.md`). Each writes the chosen rows in the input's format and `{out}.summary.json`, and
//! prints the summary.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use viclip_data::subset::{
    self, AesOptions, DedupOptions, FltOptions, Method, SubsetJob, VideoSource,
};

/// `viclip subset ...`.
#[derive(Args, Debug)]
pub struct SubsetArgs {
    /// The subset to build, with its flags.
    #[command(subcommand)]
    pub method: SubsetMethod,
}

/// The subset to build.
#[derive(Subcommand, Debug)]
pub enum SubsetMethod {
    /// N rows uniformly at random (InternVid-10M / 50M / 200M).
    Random {
        /// Input and output tables, reported columns, read batch size and quietness.
        #[command(flatten)]
        io: IoArgs,
        /// Rows to keep (all when the table has fewer).
        #[arg(long)]
        n: u64,
        /// Seed of the random choice; a seed and a table always give the same rows.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where each row's source video id comes from (for the summary).
        #[command(flatten)]
        video: VideoIdArgs,
    },
    /// N rows, each weighted 1 / (clips of its source video), without replacement (InternVid-10M-DIV).
    Div {
        /// Input and output tables, reported columns, read batch size and quietness.
        #[command(flatten)]
        io: IoArgs,
        /// Rows to keep (all when the table has fewer).
        #[arg(long)]
        n: u64,
        /// Seed of the weighted sample; a seed and a table always give the same rows.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where each row's source video id comes from (the weights count clips per video).
        #[command(flatten)]
        video: VideoIdArgs,
    },
    /// Duration bounds, then the top fraction by similarity, then a DIV sample of N (InternVid-10M-FLT).
    Flt {
        /// Input and output tables, reported columns, read batch size and quietness.
        #[command(flatten)]
        io: IoArgs,
        /// Rows to DIV-sample from what the filters leave; without it all of that is kept.
        #[arg(long)]
        n: Option<u64>,
        /// Seed of the DIV sample of --n; a seed and a table always give the same rows.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Minimum clip duration in seconds (end - start, inclusive).
        #[arg(long, default_value_t = 1.0)]
        min_duration: f64,
        /// Maximum clip duration in seconds (inclusive).
        #[arg(long, default_value_t = 120.0)]
        max_duration: f64,
        /// Keep this top fraction by --score-col (1 keeps all).
        #[arg(long, default_value_t = 0.30)]
        top_frac: f64,
        /// Keep rows with --score-col >= this (applied before --top-frac).
        #[arg(long)]
        min_score: Option<f64>,
        /// Similarity column (InternVid's annotation files: UMT_Score).
        #[arg(long, default_value = "viclip_sim")]
        score_col: String,
        /// Start / end columns for the duration filter.
        #[command(flatten)]
        span: SpanArgs,
        /// Where each row's source video id comes from (for the DIV sample of --n).
        #[command(flatten)]
        video: VideoIdArgs,
    },
    /// Aesthetic score >= a minimum (InternVid-Aesthetics-18M: 4), and/or the top K.
    Aes {
        /// Input and output tables, reported columns, read batch size and quietness.
        #[command(flatten)]
        io: IoArgs,
        /// Minimum aesthetic score, inclusive (default 4 unless --top-k is given alone).
        #[arg(long)]
        min_aesthetic: Option<f64>,
        /// Keep the K highest-scoring rows (ties to the earlier row).
        #[arg(long)]
        top_k: Option<u64>,
        /// Aesthetic column (InternVid's annotation files: Aesthetic_Score).
        #[arg(long, default_value = "aesthetic")]
        score_col: String,
        /// Where each row's source video id comes from (for the summary).
        #[command(flatten)]
        video: VideoIdArgs,
    },
    /// Semantic deduplication (SemDeDup) on clip embeddings from `viclip score --embeddings`.
    Dedup {
        /// Input and output tables, reported columns, read batch size and quietness.
        #[command(flatten)]
        io: IoArgs,
        /// Directory with video_emb/video_emb_{i}.npy (or a directory of .npy, or one .npy),
        /// row-aligned with --input.
        #[arg(long)]
        embeddings: PathBuf,
        /// Which embeddings of a clip-retrieval directory: video or text.
        #[arg(long, default_value = "video")]
        emb_kind: String,
        /// Drop a clip whose cosine to a kept clip of its cluster exceeds 1 - eps.
        #[arg(long)]
        eps: f64,
        /// More eps values whose kept fractions are reported, comma-separated (not written).
        #[arg(long, value_delimiter = ',')]
        sweep: Vec<f64>,
        /// k-means clusters.
        #[arg(long, default_value_t = 100)]
        clusters: usize,
        /// Maximum k-means iterations.
        #[arg(long, default_value_t = 20)]
        iters: usize,
        /// Seed of the k-means starting centroids.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Where each row's source video id comes from (for the summary).
        #[command(flatten)]
        video: VideoIdArgs,
    },
}

/// Input, output and reporting, common to all methods.
#[derive(Args, Debug)]
pub struct IoArgs {
    /// Scored table (.parquet, .jsonl, .csv, .tsv) or a directory of shards.
    #[arg(long)]
    pub input: PathBuf,
    /// Output table; the input's extension keeps its format and rows exactly.
    #[arg(long)]
    pub out: PathBuf,
    /// Score columns whose quantiles the summary reports, comma-separated (default: those of
    /// viclip_sim, aesthetic, UMT_Score, Aesthetic_Score present).
    #[arg(long, value_delimiter = ',')]
    pub report_cols: Option<Vec<String>>,
    /// Rows per read batch.
    #[arg(long, default_value_t = 65_536)]
    pub batch_size: usize,
    /// Print nothing (the summary file is still written).
    #[arg(long)]
    pub quiet: bool,
}

/// Where the source video id comes from (default: a YoutubeID / video_id column). DIV and FLT with
/// --n sample by it; the other methods use it for the summary's count of distinct source videos.
#[derive(Args, Debug)]
pub struct VideoIdArgs {
    /// Column holding the source video id.
    #[arg(long, conflicts_with = "video_id_from_path")]
    pub video_id_col: Option<String>,
    /// Take the first N characters of the file name in --path-col (InternVid's script: 11).
    #[arg(long, value_name = "N")]
    pub video_id_from_path: Option<usize>,
    /// Path column for --video-id-from-path.
    #[arg(long, default_value = "path")]
    pub path_col: String,
}

impl VideoIdArgs {
    fn source(&self) -> Result<Option<VideoSource>> {
        Ok(match (&self.video_id_col, self.video_id_from_path) {
            (Some(c), _) => Some(VideoSource::Column(c.clone())),
            (None, Some(0)) => bail!("--video-id-from-path must be at least 1"),
            (None, Some(chars)) => Some(VideoSource::PathPrefix {
                column: self.path_col.clone(),
                chars,
            }),
            (None, None) => None,
        })
    }
}

/// Start / end columns for FLT's duration filter (default: Start_timestamp/End_timestamp or start/end).
#[derive(Args, Debug)]
pub struct SpanArgs {
    /// Clip start column (seconds, or HH:MM:SS.mmm / MM:SS strings); needs --end-col.
    #[arg(long, requires = "end_col")]
    pub start_col: Option<String>,
    /// Clip end column (seconds, or HH:MM:SS.mmm / MM:SS strings); needs --start-col.
    #[arg(long, requires = "start_col")]
    pub end_col: Option<String>,
}

/// Most k-means iterations `subset dedup --iters` accepts (it usually converges in tens).
const MAX_KMEANS_ITERS: usize = 10_000;

/// Builds the job `args` describes.
pub fn job(args: &SubsetArgs) -> Result<SubsetJob> {
    let (io, method, video, span) = match &args.method {
        SubsetMethod::Random { io, n, seed, video } => (
            io,
            Method::Random { n: *n, seed: *seed },
            video.source()?,
            None,
        ),
        SubsetMethod::Div { io, n, seed, video } => (
            io,
            Method::Div { n: *n, seed: *seed },
            video.source()?,
            None,
        ),
        SubsetMethod::Flt {
            io,
            n,
            seed,
            min_duration,
            max_duration,
            top_frac,
            min_score,
            score_col,
            span,
            video,
        } => {
            let opts = FltOptions {
                n: *n,
                seed: *seed,
                min_duration: *min_duration,
                max_duration: *max_duration,
                top_frac: Some(*top_frac),
                min_score: *min_score,
                score_col: score_col.clone(),
            };
            let span = span.start_col.clone().zip(span.end_col.clone());
            (io, Method::Flt(opts), video.source()?, span)
        }
        SubsetMethod::Aes {
            io,
            min_aesthetic,
            top_k,
            score_col,
            video,
        } => {
            let min = min_aesthetic.or(if top_k.is_none() { Some(4.0) } else { None });
            let opts = AesOptions {
                min_aesthetic: min,
                top_k: *top_k,
                score_col: score_col.clone(),
            };
            (io, Method::Aes(opts), video.source()?, None)
        }
        SubsetMethod::Dedup {
            io,
            embeddings,
            emb_kind,
            eps,
            sweep,
            clusters,
            iters,
            seed,
            video,
        } => {
            if *iters > MAX_KMEANS_ITERS {
                bail!("--iters {iters} is more than {MAX_KMEANS_ITERS}");
            }
            let opts = DedupOptions {
                eps: *eps,
                sweep: sweep.clone(),
                clusters: *clusters,
                iters: *iters,
                seed: *seed,
            };
            let m = Method::Dedup {
                embeddings: embeddings.clone(),
                kind: emb_kind.clone(),
                opts,
            };
            (io, m, video.source()?, None)
        }
    };
    if !(1..=viclip_data::table::MAX_BATCH_ROWS).contains(&io.batch_size) {
        bail!(
            "--batch-size {} is outside 1..={} rows",
            io.batch_size,
            viclip_data::table::MAX_BATCH_ROWS
        );
    }
    let mut job = SubsetJob::new(&io.input, &io.out, method);
    job.video = video;
    job.span = span;
    job.report = io.report_cols.clone();
    job.batch_size = io.batch_size;
    Ok(job)
}

/// Runs `viclip subset ...`.
pub fn run(args: &SubsetArgs) -> Result<()> {
    let job = job(args)?;
    crate::score_cmd::note_ignored(&job.input)?;
    let summary = subset::build(&job)?;
    let path_key = summary
        .video_key
        .as_deref()
        .and_then(|k| k.strip_prefix("column "))
        .filter(|c| subset::VIDEO_PATH_COLUMNS.contains(c));
    if let (Some(c), None) = (path_key, &job.video) {
        eprintln!(
            "viclip subset: video ids from the `{c}` column (one file, one video); when each file \
             is a clip cut from a longer video, --video-id-from-path N takes the first N characters \
             of its name instead"
        );
    }
    let asked = match &args.method {
        SubsetMethod::Random { n, .. } | SubsetMethod::Div { n, .. } => Some(*n),
        _ => None,
    };
    if let Some(n) = asked.filter(|&n| n > summary.rows_in) {
        eprintln!(
            "viclip: warning: --n {n} is more than the {} row(s) of {}; all of them are kept",
            summary.rows_in,
            job.input.display()
        );
    }
    let quiet = match &args.method {
        SubsetMethod::Random { io, .. }
        | SubsetMethod::Div { io, .. }
        | SubsetMethod::Flt { io, .. }
        | SubsetMethod::Aes { io, .. }
        | SubsetMethod::Dedup { io, .. } => io.quiet,
    };
    if !quiet {
        println!("{summary}");
        println!(
            "  summary: {}",
            subset::Summary::path_for(&job.output).display()
        );
    }
    Ok(())
}
