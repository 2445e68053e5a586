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
//! The modules depend one way, each only on those of the layers above it:
//!
//! 1. records and paths: `shard_rows` (rows, failures, a shard's input), `columns`, `shards` (stats,
//!    file records, file names), `arrow_util`, `npy`, `lock`;
//! 2. reading: `row` and `wds` under `input`; the share: `tasks` under `record`;
//! 3. what is asked: `options`, `preflight`;
//! 4. the run identity (`identity`) and the work on a shard (`work`);
//! 5. a shard's files and the run's record: `output`, `verify`, `runfile`;
//! 6. what uses them: `claims`, `plan`, `report`, `status`;
//! 7. the run: `run`.

mod arrow_util;
mod claims;
mod columns;
mod identity;
mod input;
mod lock;
mod npy;
mod options;
mod output;
mod plan;
mod preflight;
mod record;
pub mod report;
mod row;
mod run;
mod runfile;
mod shard_rows;
mod shards;
pub mod status;
mod tasks;
mod verify;
mod wds;
mod work;

pub use columns::{Columns, VideoLocator, VIDEO_EXTENSIONS};
pub use input::Input;
pub use lock::{is_locked, shard_lock_path};
pub use npy::{read_npy_f16, write_npy_f16};
pub use options::{AestheticOptions, ScoreOptions};
pub use plan::{plan, Plan, SharePlan};
pub use record::{read_record, Assignment, RunRecord};
pub use run::{score, Progress, RunSummary};
pub use shard_rows::{RowFailure, RowStatus, RowTask};
pub use shards::{FileRecord, ShardStats, SPLIT_FILE, TABLE_FILE};
pub use tasks::{Scheduler, ShardSelection, ShareRequest, SplitPlan};
pub use verify::check_complete;
