//! `viclip score`: ViCLIP clip-caption similarity (CLIP-SIM), optionally the LAION aesthetic score and
//! the embeddings, for every row of a clip table, in shards that survive crashes and split across
//! machines (`docs/score.md` has the user's view).
//!
//! The run, for one process:
//!
//! 1. **Input** ([`Input`]): a table (InternVid jsonl, csv / tsv / parquet / jsonl with configurable
//!    columns or a video2dataset `clips` column) or webdataset tar shards, turned into one [`RowTask`]
//!    per row (the clip's file and span, the caption) plus the row's own columns, carried through.
//! 2. **Shards**: rows `[k N, (k+1) N)` form shard `k`; this process takes the shards of its share
//!    (`k % shares == share`, [`ShardSelection`]) that are not complete yet (`verify`: stats with
//!    this run's identity (`identity`, `OUT/run.json`), files of the recorded sizes and hashes),
//!    each claimed with a lock (`lock`) so that processes sharing `--out` never score one shard
//!    twice; the table's size is fixed in `OUT/table.json` by the run's first process and the number
//!    of shares and the task-to-share mapping in `OUT/split.json` by its first split process
//!    (`tasks`, `record`).
//! 3. **Work** per shard (`work`): rows grouped by source file so each file is decoded once
//!    ([`viclip::pipeline`]), clips embedded in batches of fixed composition (the shard's good clips in
//!    row order, so a rerun computes bit-identical values), captions embedded, cosine per row; with
//!    aesthetics, a second decode of 4 uniformly sampled frames per clip scored by the LAION head.
//! 4. **Output** per shard (`output`): `NNNNN.parquet` (input columns + `viclip_sim`, `aesthetic`,
//!    `status`, `error`, `frames_used`; settings in key-value metadata), optionally clip-retrieval's
//!    `video_emb/`, `text_emb/`, `metadata/`, every file written under a temporary name, fsynced and
//!    renamed; `NNNNN_stats.json` last, with the run identity and each file's size and SHA-256,
//!    which marks the shard complete for a rerun (and is checked against the files then).
//! 5. **Report** ([`report::write_report`]): quantiles and histograms of the score columns once
//!    every shard of the table is complete.
//!
//! Every row comes out, in input order: a row that cannot be scored carries a [`RowStatus`] other
//! than `ok` and an error message, and the run goes on. Only output errors (disk full, permissions)
//! stop the run, and they never leave a partial file under a final name.
//!
//! The modules depend one way, each only on modules of the lines above it:
//!
//! 1. records and paths: `shard_rows` (rows, failures, a shard's input), `columns`, `shards` (stats,
//!    file records, file names), `compare` (two run identities), `arrow_util`, `npy`, `lock`;
//! 2. a table row's fields (`row`) and webdataset samples (`wds`); the share rule (`tasks`); a
//!    finished shard's check (`verify`); the run's identity file (`runfile`);
//! 3. reading the input (`input`); the run's table and split records (`record`); shard claims
//!    (`claims`); the report (`report`);
//! 4. what is asked (`options`, `preflight`); where a run stands (`status`);
//! 5. the run identity (`identity`) and the work on a shard (`work`);
//! 6. a shard's files (`output`); the plan (`plan`);
//! 7. the run (`run`).
//!
//! Without the crate's `score` feature only `compare`, `npy`, `shards` and `verify` are built: a
//! finished run's records and [`check_complete`].

// Built without the `score` feature too: the records of a finished run and their check
// ([`check_complete`]), which the subset builder runs on a score directory, and the f16 `.npy` files.
mod compare;
mod npy;
mod shards;
mod verify;

pub use npy::{read_npy_f16, write_npy_f16};
pub use shards::{FileRecord, ShardStats, SPLIT_FILE, TABLE_FILE};
pub use verify::check_complete;

// The job itself: decoding (FFmpeg), shard locks, webdataset tars, the report's histograms.
#[cfg(feature = "score")]
mod arrow_util;
#[cfg(feature = "score")]
mod claims;
#[cfg(feature = "score")]
mod columns;
#[cfg(feature = "score")]
mod identity;
#[cfg(feature = "score")]
mod input;
#[cfg(feature = "score")]
mod lock;
#[cfg(feature = "score")]
mod options;
#[cfg(feature = "score")]
mod output;
#[cfg(feature = "score")]
mod plan;
#[cfg(feature = "score")]
mod preflight;
#[cfg(feature = "score")]
mod record;
#[cfg(feature = "score")]
pub mod report;
#[cfg(feature = "score")]
mod row;
#[cfg(feature = "score")]
mod run;
#[cfg(feature = "score")]
mod runfile;
#[cfg(feature = "score")]
mod shard_rows;
#[cfg(feature = "score")]
pub mod status;
#[cfg(feature = "score")]
mod tasks;
#[cfg(feature = "score")]
mod wds;
#[cfg(feature = "score")]
mod work;

#[cfg(feature = "score")]
pub use columns::{video_candidates, Columns, VideoLocator, VIDEO_EXTENSIONS};
#[cfg(feature = "score")]
pub use input::Input;
#[cfg(feature = "score")]
pub use lock::{is_locked, shard_lock_path};
#[cfg(feature = "score")]
pub use options::{AestheticOptions, ScoreOptions};
#[cfg(feature = "score")]
pub use plan::{plan, Plan, SharePlan};
#[cfg(feature = "score")]
pub use record::{read_record, Assignment, RunRecord};
#[cfg(feature = "score")]
pub use run::{score, Progress, RunSummary};
#[cfg(feature = "score")]
pub use shard_rows::{RowFailure, RowStatus, RowTask};
#[cfg(feature = "score")]
pub use tasks::{Scheduler, ShardSelection, ShareRequest, SplitPlan};
