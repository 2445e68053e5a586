//! Writing one finished shard: the scored parquet, the embedding files and the stats, each under a
//! temporary name, fsynced and renamed; the stats file goes last, lists the others with their sizes
//! and SHA-256, and marks the shard complete. The temporary names (`{file}.tmp`) are the shard's
//! own: only the process holding the shard's lock (`super::lock`) writes them.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use parquet::file::metadata::KeyValue;

use super::arrow_util::{f32_array, i32_list_array, output_fields, str_array, OUTPUT_COLUMNS};
use super::npy::write_npy_f16;
use super::options::ScoreOptions;
use super::shard_rows::ShardInput;
use super::shards::{parquet_path, stats_path, stem, FileRecord, ShardStats};
use super::work::RowOut;
use crate::atomic::write_atomic;
use crate::table::{Format, TableWriter};
use crate::{Error, Result};
use viclip::ViClip;

/// The settings written into every shard's Parquet key-value metadata (`viclip.*`).
pub(crate) fn key_values(
    model: &ViClip,
    opts: &ScoreOptions,
    identity: &serde_json::Value,
) -> Vec<KeyValue> {
    let p = opts.clips.preprocess(model.config());
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
        kv(
            "batch_size",
            opts.clips
                .batch_size
                .unwrap_or(model.batch_size())
                .to_string(),
        ),
        kv("settings", identity.to_string()),
    ];
    if let Some(sha) = identity.pointer("/weights/sha256").and_then(|v| v.as_str()) {
        out.push(kv("weights_sha256", sha.into()));
    }
    if let Some(a) = &opts.aesthetic {
        out.push(kv("aesthetic", a.info.to_string()));
        out.push(kv("aesthetic_frames", format!("uniform({})", a.frames)));
        out.push(kv("aesthetic_reduce", a.reduce.as_str().into()));
    }
    out
}

/// The output rows: each input batch with the job's columns appended (input columns of the same
/// names are dropped: a scored table can be scored again).
fn output_batches(shard: &ShardInput, rows: &[RowOut]) -> Result<Vec<RecordBatch>> {
    let n_in: usize = shard.batches.iter().map(RecordBatch::num_rows).sum();
    if n_in != rows.len() || rows.len() != shard.tasks.len() {
        return Err(Error::Internal(format!(
            "shard {}: {n_in} input rows but {} results",
            shard.index,
            rows.len()
        )));
    }
    let mut out = Vec::with_capacity(shard.batches.len());
    let mut at = 0;
    for b in &shard.batches {
        let schema = b.schema();
        let keep: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| !OUTPUT_COLUMNS.contains(&schema.field(i).name().as_str()))
            .collect();
        let mut fields: Vec<Field> = keep.iter().map(|&i| schema.field(i).clone()).collect();
        fields.extend(output_fields());
        let mut cols: Vec<ArrayRef> = keep.iter().map(|&i| b.column(i).clone()).collect();
        let r = &rows[at..at + b.num_rows()];
        cols.push(f32_array(r.iter().map(|o| o.sim)));
        cols.push(f32_array(r.iter().map(|o| o.aesthetic)));
        cols.push(str_array(r.iter().map(|o| {
            Some(o.failure.as_ref().map_or("ok", |f| f.kind.as_str()))
        })));
        cols.push(str_array(
            r.iter()
                .map(|o| o.failure.as_ref().map(|f| f.message.as_str())),
        ));
        cols.push(i32_list_array(r.iter().map(|o| o.frames.as_deref())));
        cols.push(str_array(r.iter().map(|o| o.color.as_deref())));
        cols.push(str_array(r.iter().map(|o| o.warning.as_deref())));
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
            .map_err(|e| Error::Internal(format!("shard {}: {e}", shard.index)))?;
        out.push(batch);
        at += b.num_rows();
    }
    Ok(out)
}

fn write_parquet(path: &Path, batches: &[RecordBatch], kv: &[KeyValue]) -> Result<()> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let mut w = TableWriter::create(path, Format::Parquet, first.schema(), kv.to_vec())?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(())
}

/// Rows of embeddings (zeros where a row has none), flattened.
fn emb_matrix(
    rows: &[RowOut],
    dim: usize,
    pick: impl Fn(&RowOut) -> Option<&Vec<f32>>,
) -> Vec<f32> {
    let mut m = vec![0f32; rows.len() * dim];
    for (o, dst) in rows.iter().zip(m.chunks_exact_mut(dim.max(1))) {
        if let Some(e) = pick(o).filter(|e| e.len() == dim) {
            dst.copy_from_slice(e);
        }
    }
    m
}

/// Writes shard `shard`'s files under `out`, then `stats` with the files recorded; see the module
/// docs. Returns the stats as written.
pub(crate) fn write_shard(
    out: &Path,
    shard: &ShardInput,
    rows: &[RowOut],
    embeddings: Option<usize>,
    kv: &[KeyValue],
    mut stats: ShardStats,
) -> Result<ShardStats> {
    // Test hook: a panic where a dependency may panic (the parquet writer's zstd under memory
    // pressure), in a thread of the writer, as `VICLIP_TEST_PANIC_IN_WRITER` asks.
    #[cfg(feature = "internal")]
    if std::env::var_os("VICLIP_TEST_PANIC_IN_WRITER").is_some() {
        let _ = std::thread::Builder::new()
            .name("writer-test".into())
            .spawn(|| panic!("VICLIP_TEST_PANIC_IN_WRITER"))
            .map(|h| h.join());
    }
    let batches = output_batches(shard, rows)?;
    let s = stem(shard.index);
    let mut files = Vec::new();
    if let Some(dim) = embeddings {
        for (dir, pick) in [
            (
                "video_emb",
                (|o: &RowOut| o.video_emb.as_ref()) as fn(&RowOut) -> Option<&Vec<f32>>,
            ),
            ("text_emb", |o: &RowOut| o.text_emb.as_ref()),
        ] {
            let d = out.join(dir);
            std::fs::create_dir_all(&d).map_err(|e| Error::output(&d, e))?;
            let m = emb_matrix(rows, dim, pick);
            write_npy_f16(&d.join(format!("{dir}_{s}.npy")), rows.len(), dim, &m)?;
            files.push(format!("{dir}/{dir}_{s}.npy"));
        }
        let d = out.join("metadata");
        std::fs::create_dir_all(&d).map_err(|e| Error::output(&d, e))?;
        write_parquet(&d.join(format!("metadata_{s}.parquet")), &batches, kv)?;
        files.push(format!("metadata/metadata_{s}.parquet"));
    }
    write_parquet(&parquet_path(out, shard.index), &batches, kv)?;
    files.push(format!("{s}.parquet"));
    // Hashed back from the files just written (in the page cache), so the record is of the bytes
    // on disk, whatever the writers did.
    stats.files = files
        .iter()
        .map(|f| FileRecord::of(out, f))
        .collect::<Result<_>>()?;
    let text = serde_json::to_string_pretty(&stats)
        .map_err(|e| Error::Internal(format!("shard {s} stats as JSON: {e}")))?;
    write_atomic(&stats_path(out, shard.index), text.as_bytes())?;
    sync_dir(out);
    Ok(stats)
}

/// Makes the renames durable (a power cut after the run must not bring back the temporary names).
/// Best effort: not every filesystem lets a directory be opened and synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
