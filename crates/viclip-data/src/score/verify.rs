//! Verified completion: a shard is complete when its stats file parses, carries this run's identity
//! and lists every file of the shard with the size and SHA-256 it had when written, and every file
//! still has them. The check is cheap on a rerun: a file whose size and mtime are unchanged is taken
//! as written; only a file whose mtime moved (a copy, an edit) is hashed again. Readers of a finished
//! run (`viclip report`, `viclip subset`) check presence and sizes only: a copied directory (new
//! mtimes) would otherwise be read whole on every report.

use std::collections::BTreeSet;
use std::path::{Component, Path};

use super::compare::diff;
use super::shards::{parquet_path, stats_path, FileRecord, ShardStats};
use crate::{Error, Result};
use viclip::manifest::sha256_file;

/// Stats files above this size are not read.
const MAX_STATS_BYTES: u64 = 16 << 20;

impl FileRecord {
    /// Records `out/rel` as it is now (the job's output, after writing the file).
    #[cfg(feature = "score")]
    pub(crate) fn of(out: &Path, rel: &str) -> Result<Self> {
        let p = out.join(rel);
        let meta = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?;
        Ok(FileRecord {
            path: rel.to_string(),
            size: meta.len(),
            sha256: sha256_file(&p)?,
            mtime: mtime_ns(&meta),
        })
    }

    /// What is wrong with the file now, if anything; `hash`: also compare the content of a file
    /// whose mtime moved.
    fn problem(&self, out: &Path, hash: bool) -> Option<String> {
        let rel = Path::new(&self.path);
        if rel.is_absolute() || rel.components().any(|c| c == Component::ParentDir) {
            return Some(format!(
                "its stats list {} outside the directory",
                self.path
            ));
        }
        let p = out.join(rel);
        let meta = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Some(format!("{} is missing", self.path))
            }
            Err(e) => return Some(format!("{}: {e}", self.path)),
        };
        if !meta.is_file() {
            return Some(format!("{} is not a regular file", self.path));
        }
        if meta.len() != self.size {
            return Some(format!(
                "{} has {} bytes, {} when written",
                self.path,
                meta.len(),
                self.size
            ));
        }
        if !hash || mtime_ns(&meta) == self.mtime {
            return None;
        }
        match sha256_file(&p) {
            Ok(s) if s == self.sha256 => None,
            Ok(_) => Some(format!("{} was altered (sha256 differs)", self.path)),
            Err(e) => Some(e.to_string()),
        }
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Where one shard stands.
#[derive(Debug)]
pub(crate) enum ShardState {
    Complete,
    /// No stats file (never finished, or a crash before its last write).
    Missing,
    /// Finished once, but a file is missing, truncated or altered since: redo it.
    Damaged(String),
    /// Scored with another run identity: one line per differing key.
    Foreign(Vec<String>),
}

/// The state of shard `k` of `out` for a run of `identity`; `hash`: see [`FileRecord::problem`].
pub(crate) fn shard_state(
    out: &Path,
    k: u64,
    identity: &serde_json::Value,
    hash: bool,
) -> Result<ShardState> {
    let sp = stats_path(out, k);
    // Written by this crate, a few KiB; anything far larger is not a stats file.
    if std::fs::metadata(&sp).is_ok_and(|m| m.len() > MAX_STATS_BYTES) {
        return Ok(ShardState::Damaged(format!(
            "{} is larger than any stats file",
            sp.display()
        )));
    }
    let text = match std::fs::read_to_string(&sp) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ShardState::Missing),
        Err(e) => return Err(Error::io(&sp, e)),
    };
    // A stats file is renamed into place whole, so one that does not parse was not written by a
    // finished shard (or was damaged since): the shard is redone.
    let Ok(stats) = serde_json::from_str::<ShardStats>(&text) else {
        return Ok(ShardState::Damaged(format!(
            "{} does not parse",
            sp.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        )));
    };
    let lines = diff(identity, &stats.settings);
    if !lines.is_empty() {
        return Ok(ShardState::Foreign(lines));
    }
    if stats.files.is_empty() {
        return Ok(ShardState::Damaged("its stats list no files".into()));
    }
    let main = parquet_path(out, k);
    let main = main.file_name().map(|n| n.to_string_lossy().into_owned());
    if !stats.files.iter().any(|f| Some(&f.path) == main.as_ref()) {
        return Ok(ShardState::Damaged(
            "its stats do not list its parquet".into(),
        ));
    }
    for f in &stats.files {
        if let Some(p) = f.problem(out, hash) {
            return Ok(ShardState::Damaged(p));
        }
    }
    Ok(ShardState::Complete)
}

/// The identity of the run in `dir`: `run.json`, else the first stats file among `shards` that
/// parses (a damaged one is reported by [`shard_state`]).
pub(crate) fn recorded_identity(
    dir: &Path,
    shards: impl IntoIterator<Item = u64>,
) -> Option<serde_json::Value> {
    let read = |p: &Path| -> Option<serde_json::Value> {
        let small = std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_STATS_BYTES);
        let text = std::fs::read_to_string(p).ok().filter(|_| small)?;
        serde_json::from_str(&text).ok()
    };
    read(&dir.join("run.json")).or_else(|| {
        shards
            .into_iter()
            .find_map(|k| read(&stats_path(dir, k))?.get("settings").cloned())
    })
}

/// Checks that `dir`, when it is the output of `viclip score` (it holds a shard stats file), is a
/// complete run: every shard of its table complete with intact files, all of one run, no stray
/// shard. Directories without stats files are left alone (any table directory can be read).
pub fn check_complete(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let mut stats_seen = BTreeSet::new();
    let mut parquet_seen = BTreeSet::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let shard = |suffix: &str| {
            name.strip_suffix(suffix)
                .filter(|s| s.len() >= 5 && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
        };
        if let Some(k) = shard("_stats.json") {
            stats_seen.insert(k);
        } else if let Some(k) = shard(".parquet") {
            parquet_seen.insert(k);
        }
    }
    if stats_seen.is_empty() {
        return Ok(());
    }
    let Some(identity) = recorded_identity(dir, stats_seen.iter().copied()) else {
        return Err(Error::InvalidInput(format!(
            "{}: no readable run.json or shard stats file; is this the output of `viclip score`?",
            dir.display()
        )));
    };
    let id = &identity;
    let rows = id.pointer("/input/rows").and_then(|v| v.as_u64());
    let size = id.pointer("/shard_size").and_then(|v| v.as_u64());
    let (Some(rows), Some(size)) = (rows, size.filter(|&s| s > 0)) else {
        return Err(Error::InvalidInput(format!(
            "{}: scored by a viclip version that did not record a run identity; \
             score again into a new output directory",
            dir.display()
        )));
    };
    let n = rows.div_ceil(size);
    let mut bad: Vec<String> = Vec::new();
    for k in 0..n {
        match shard_state(dir, k, id, false)? {
            ShardState::Complete => {}
            ShardState::Missing if parquet_seen.contains(&k) => {
                bad.push(format!("{k:05} (parquet without its stats file)"))
            }
            ShardState::Missing => bad.push(format!("{k:05} (missing)")),
            ShardState::Damaged(why) => bad.push(format!("{k:05} ({why})")),
            ShardState::Foreign(lines) => bad.push(format!(
                "{k:05} (scored with other settings: {})",
                lines.join("; ")
            )),
        }
    }
    for k in parquet_seen.union(&stats_seen).filter(|&&k| k >= n) {
        bad.push(format!(
            "{k:05} (beyond the {n} shards of the run's {rows} rows)"
        ));
    }
    if bad.is_empty() {
        return Ok(());
    }
    let shown = bad.len().min(20);
    let more = if bad.len() > shown {
        format!(", and {} more", bad.len() - shown)
    } else {
        String::new()
    };
    Err(Error::InvalidInput(format!(
        "{}: incomplete `viclip score` run, {} of {n} shard(s) not complete: {}{more}; rerun \
         `viclip score` with the same options to finish them",
        dir.display(),
        bad.len(),
        bad[..shown].join(", ")
    )))
}
