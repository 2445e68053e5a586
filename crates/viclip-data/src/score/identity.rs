//! The run identity: everything a shard's values depend on, written into every shard's stats and
//! compared before any work, so that one `--out` never mixes two runs (see `docs/score.md`).
//!
//! Files are identified by content, not by name: model files by a full SHA-256 (cached in
//! `OUT/.hashes.json` by path, size and mtime, so a rerun does not read a 1.5 GB checkpoint again),
//! the input by its size, row count and a SHA-256 of the whole file up to 64 MiB, of its first and
//! last MiB and 14 blocks spread between them beyond (a 234 M-row table is fingerprinted in
//! milliseconds). Paths, mtimes and names are recorded but not compared: a run may go on from a
//! moved or copied input or checkpoint with the same content.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::DType;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::input::Input;
use super::options::ScoreOptions;
use crate::{Error, Result};
use viclip::ViClipConfig;

/// Files up to this size are hashed whole for the input fingerprint.
const WHOLE: u64 = 64 << 20;
/// Bytes hashed at the head and the tail of a larger file.
const EDGE: u64 = 1 << 20;
/// Blocks of `BLOCK` bytes hashed between head and tail.
const SAMPLES: u64 = 14;
const BLOCK: u64 = 64 << 10;

fn mtime_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn hex(d: impl AsRef<[u8]>) -> String {
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of the whole file, hex: the core's checksum (the same one the manifest pins).
use viclip::manifest::sha256_file;

/// The sampled content fingerprint of one file (see the module docs), fed into `h`.
fn fingerprint_into(path: &Path, h: &mut Sha256) -> Result<u64> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = f.metadata().map_err(|e| Error::io(path, e))?.len();
    h.update(size.to_le_bytes());
    if size <= WHOLE {
        std::io::copy(&mut f, h).map_err(|e| Error::io(path, e))?;
        return Ok(size);
    }
    let mut ranges = vec![(0, EDGE)];
    ranges.extend((1..=SAMPLES).map(|i| (size / (SAMPLES + 1) * i, BLOCK)));
    ranges.push((size - EDGE, EDGE));
    let mut buf = vec![0u8; EDGE as usize];
    for (at, len) in ranges {
        let b = &mut buf[..len as usize];
        f.seek(SeekFrom::Start(at))
            .and_then(|_| f.read_exact(b))
            .map_err(|e| Error::io(path, e))?;
        h.update(&*b);
    }
    Ok(size)
}

/// Path, size, mtime and content fingerprint of the input files, with the row count.
fn input_identity(input: &Input, rows: u64) -> Result<Value> {
    let (path, files, kind) = match input {
        Input::Table { path, columns: c } => (
            path.clone(),
            crate::table::Table::open(path)?.files().to_vec(),
            json!({"table": {
                "video": format!("{:?}", c.video), "caption": c.caption,
                "start": c.start, "end": c.end, "clips": c.clips,
            }}),
        ),
        Input::WebDataset { tars } => (
            tars.first()
                .and_then(|t| t.parent())
                .map_or_else(PathBuf::new, Path::to_path_buf),
            tars.clone(),
            json!("webdataset"),
        ),
    };
    let mut h = Sha256::new();
    let (mut size, mut newest) = (0u64, 0u64);
    for f in &files {
        // The names of the files of a directory count (renamed shards are read in another order),
        // the path of a single file does not (a moved input is the same input).
        if files.len() > 1 {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
            h.update(name.unwrap_or_default().as_bytes());
        }
        size += fingerprint_into(f, &mut h)?;
        let meta = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
        newest = newest.max(mtime_ns(&meta));
    }
    Ok(json!({
        "format": kind,
        "files": files.len(),
        "size": size,
        "rows": rows,
        "fingerprint": hex(h.finalize()),
        "path": std::fs::canonicalize(&path).unwrap_or(path).display().to_string(),
        "mtime": newest,
    }))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cached {
    size: u64,
    mtime: u64,
    sha256: String,
}

/// Full SHA-256 of model files, cached in `OUT/.hashes.json` by canonical path, size and mtime.
pub(crate) struct HashCache {
    path: PathBuf,
    entries: BTreeMap<String, Cached>,
    dirty: bool,
}

impl HashCache {
    /// The cache of `out` (empty when missing or unreadable: it is only a cache).
    pub(crate) fn open(out: &Path) -> Self {
        let path = out.join(".hashes.json");
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        HashCache {
            path,
            entries,
            dirty: false,
        }
    }

    /// `{sha256, size, path}` of `file`.
    pub(crate) fn file(&mut self, file: &Path) -> Result<Value> {
        let canon = std::fs::canonicalize(file).map_err(|e| Error::io(file, e))?;
        let meta = std::fs::metadata(&canon).map_err(|e| Error::io(file, e))?;
        let key = canon.display().to_string();
        let (size, mtime) = (meta.len(), mtime_ns(&meta));
        let sha = match self.entries.get(&key) {
            Some(c) if c.size == size && c.mtime == mtime => c.sha256.clone(),
            _ => {
                let sha256 = sha256_file(&canon)?;
                self.entries.insert(
                    key.clone(),
                    Cached {
                        size,
                        mtime,
                        sha256: sha256.clone(),
                    },
                );
                self.dirty = true;
                sha256
            }
        };
        Ok(json!({"sha256": sha, "size": size, "path": key}))
    }

    /// Writes the cache through a file in `temp` (this process's directory) and a rename; best
    /// effort, as two processes may race and either's copy is right.
    pub(crate) fn save(&self, temp: &Path) {
        if !self.dirty {
            return;
        }
        let Ok(text) = serde_json::to_vec_pretty(&self.entries) else {
            return;
        };
        let tmp = temp.join("hashes.json");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &self.path);
        }
    }
}

/// The identity of the run `opts` describes with a model of `config` in `dtype` over an input of
/// `rows` rows. Needs no loaded model, so `score --plan` shows the same identity a run records.
pub(crate) fn run_identity(
    config: &ViClipConfig,
    dtype: DType,
    opts: &ScoreOptions,
    rows: u64,
    cache: &mut HashCache,
) -> Result<Value> {
    let weights = match &opts.weights {
        Some(w) => {
            let mut v = cache.file(w)?;
            v["name"] = json!(opts.model_name);
            v
        }
        None => json!({"name": opts.model_name}),
    };
    let aesthetic = match &opts.aesthetic {
        Some(a) => {
            let mut files = serde_json::Map::new();
            for (i, f) in a.files.iter().enumerate() {
                let role = ["clip_weights", "head"]
                    .get(i)
                    .map_or(format!("file{i}"), |r| r.to_string());
                files.insert(role, cache.file(f)?);
            }
            json!({
                "scorer": a.info, "frames": a.frames, "reduce": a.reduce.as_str(), "files": files,
            })
        }
        None => Value::Null,
    };
    let video_root = match &opts.input {
        // Relative paths resolve against the root, or the table's directory without one.
        Input::Table { columns, path } => {
            let root = columns.root_for(path);
            json!(std::fs::canonicalize(&root)
                .unwrap_or(root)
                .display()
                .to_string())
        }
        Input::WebDataset { .. } => Value::Null,
    };
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "input": input_identity(&opts.input, rows)?,
        "weights": weights,
        "config": config,
        "dtype": format!("{dtype:?}"),
        "preprocess": opts.clips.preprocess(config),
        "video_root": video_root,
        "shard_size": opts.shard_size,
        "embeddings": opts.embeddings,
        "aesthetic": aesthetic,
    }))
}
