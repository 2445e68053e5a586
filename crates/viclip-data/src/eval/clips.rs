//! Evaluation inputs: the `(path, label)` / `(path, caption)` rows of a clip list and the clips
//! themselves, embedded in list order. A clip is a `.npy` file of preprocessed frames (`(T, 3, S, S)` or
//! `(1, T, 3, S, S)` float, already resized and normalised), a directory of frame images, or a video
//! file (decoded whole with the `video` feature); the latter two go through [`viclip::pipeline`] with
//! the given preprocessing (the zero-shot numbers use [`Preprocess::for_config`]: middle sampling,
//! bicubic).

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::table::{ReadOptions, StrColumn, Table};
use crate::{Error, Result};
use viclip::embed::ViClip;
use viclip::embeddings::Embeddings;
use viclip::engine::{ClipEngine, EngineOptions};
use viclip::pipeline::{ClipSource, PipelineOptions};
use viclip::preprocess::Preprocess;

/// The `(first, second)` text of each row of a table (csv, tsv, jsonl, parquet), e.g. `path, label`.
pub fn read_pairs(table: &Path, first: &str, second: &str) -> Result<Vec<(String, String)>> {
    let t = Table::open(table)?;
    let mut out = Vec::new();
    for b in t.batches(&ReadOptions::columns(&[first, second])) {
        let b = b?;
        let (a, c) = (StrColumn::new(&b, first)?, StrColumn::new(&b, second)?);
        for i in 0..b.num_rows() {
            let row = b.first_row + i as u64;
            let (Some(x), Some(y)) = (a.get(i), c.get(i)) else {
                return Err(Error::InvalidInput(format!(
                    "{}: row {row} has no `{first}` or no `{second}`",
                    table.display()
                )));
            };
            out.push((x.to_string(), y.to_string()));
        }
    }
    Ok(out)
}

/// The text of one column of a table, row by row (nulls are an error naming the row).
pub fn read_column(table: &Path, column: &str) -> Result<Vec<String>> {
    let t = Table::open(table)?;
    let mut out = Vec::new();
    for b in t.batches(&ReadOptions::columns(&[column])) {
        let b = b?;
        let c = StrColumn::new(&b, column)?;
        for i in 0..b.num_rows() {
            let v = c.get(i).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "{}: row {} has no `{column}`",
                    table.display(),
                    b.first_row + i as u64
                ))
            })?;
            out.push(v.to_string());
        }
    }
    Ok(out)
}

/// `path` as written in a list at `list`: absolute paths as they are, relative ones from the list's
/// directory (so a list and its clips can move together).
pub fn resolve(list: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        list.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// Embedded clips, in input order, and the clips that could not be read.
#[derive(Debug)]
pub struct EmbeddedClips {
    /// One row per entry of `ok`.
    pub embeddings: Embeddings,
    /// Input positions of the embedded clips, increasing.
    pub ok: Vec<usize>,
    /// Input position and message of each clip that failed.
    pub failures: Vec<(usize, String)>,
}

/// Embeds the clips at `paths` (see the module docs), `batch_size` at a time.
pub fn embed_clip_files(
    model: &ViClip,
    paths: &[PathBuf],
    preprocess: &Preprocess,
    batch_size: usize,
) -> Result<EmbeddedClips> {
    let batch_size = batch_size.max(1);
    let mut rows: Vec<Option<Vec<f32>>> = vec![None; paths.len()];
    let mut failures = Vec::new();
    let (npy, other): (Vec<usize>, Vec<usize>) = (0..paths.len()).partition(|&i| {
        paths[i]
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    });
    for chunk in npy.chunks(batch_size) {
        let mut clips = Vec::new();
        let mut idx = Vec::new();
        for &i in chunk {
            match read_clip(&paths[i]) {
                Ok(t) => {
                    clips.push(t);
                    idx.push(i);
                }
                Err(e) => failures.push((i, e.to_string())),
            }
        }
        if clips.is_empty() {
            continue;
        }
        let emb = model.embed_videos(&Tensor::cat(&clips, 0)?)?.to_vec2()?;
        for (i, e) in idx.into_iter().zip(emb) {
            rows[i] = Some(e);
        }
    }
    if !other.is_empty() {
        let mut sources = Vec::new();
        for &i in &other {
            sources.push(source(&paths[i])?);
        }
        let opts = PipelineOptions::new(preprocess.clone()).with_batch_size(batch_size);
        for r in ClipEngine::start(model, sources, EngineOptions::new(opts))? {
            let r = r?;
            match r.outcome {
                Ok(c) => rows[other[r.source_index]] = Some(c.embedding),
                Err(e) => failures.push((other[r.source_index], e.to_string())),
            }
        }
    }
    failures.sort_by_key(|f| f.0);
    let ok: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].is_some()).collect();
    let dim = model.config().embed_dim;
    let flat: Vec<f32> = rows.into_iter().flatten().flatten().collect();
    let t = Tensor::from_vec(flat, (ok.len(), dim), &Device::Cpu)?;
    Ok(EmbeddedClips {
        embeddings: Embeddings::from_unnormalized(&t)?,
        ok,
        failures,
    })
}

/// A preprocessed clip as `(1, T, 3, S, S)` f32.
fn read_clip(path: &Path) -> Result<Tensor> {
    // The checked reader: the header's shape is compared with the file's length before allocating.
    let (h, values) = viclip::npy::read_npy_f32(path)?;
    let t = Tensor::from_vec(values, h.shape, &Device::Cpu)?;
    let t = t.to_dtype(DType::F32)?;
    match t.dims() {
        [_, 3, _, _] => Ok(t.unsqueeze(0)?),
        [1, _, 3, _, _] => Ok(t),
        d => Err(Error::InvalidInput(format!(
            "{}: shape {d:?}; a preprocessed clip is (T, 3, S, S) or (1, T, 3, S, S)",
            path.display()
        ))),
    }
}

fn source(path: &Path) -> Result<ClipSource> {
    Ok(if path.is_dir() {
        ClipSource::FramesDir(path.to_path_buf())
    } else {
        ClipSource::Video {
            path: path.to_path_buf(),
            spans: Vec::new(),
        }
    })
}
