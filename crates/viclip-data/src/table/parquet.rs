//! Parquet tables through arrow-rs: column projection at the file level (only the asked-for columns
//! are decoded), record batches as stored, and the file's key-value metadata for carrying through.

use std::fs::File;
use std::path::Path;

use arrow_array::{RecordBatch, RecordBatchReader};
use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::KeyValue;

use super::ReadOptions;
use crate::{Error, Result};

pub(crate) fn parquet_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!(
        "{}: not a readable parquet file ({e}); check that it was completely written",
        path.display()
    ))
}

/// Runs `f`, turning a panic inside the parquet crate into an error naming `path`: its decoders
/// assert on some kinds of corrupt data (e.g. "Decoder for dict should have been set") rather than
/// returning an error, and a damaged file must not take the process down.
pub(crate) fn guard<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    viclip::panics::catch(f).unwrap_or_else(|_| {
        Err(parquet_error(
            path,
            "the parquet decoder failed on corrupt data",
        ))
    })
}

/// The file's metadata (schema, row groups, key-value pairs), read once.
pub(crate) fn metadata(path: &Path) -> Result<(File, ArrowReaderMetadata)> {
    guard(path, || metadata_unguarded(path))
}

fn metadata_unguarded(path: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let f = super::open_table_file(path)?;
    let meta = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new())
        .map_err(|e| parquet_error(path, e))?;
    let schema = meta.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Dictionary(..)))
    {
        return Ok((f, meta));
    }
    // Dictionary-encoded columns (pandas categoricals, pyarrow `dictionary` types) are read as their
    // plain value type, which every consumer and writer handles; the values are the same.
    let plain: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Dictionary(_, value) => f.as_ref().clone().with_data_type(*value.clone()),
            _ => f.as_ref().clone(),
        })
        .collect();
    let plain = Arc::new(Schema::new_with_metadata(plain, schema.metadata().clone()));
    let meta = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new().with_schema(plain))
        .map_err(|e| parquet_error(path, e))?;
    Ok((f, meta))
}

/// Key-value metadata other than the arrow schema hint (which the writer regenerates).
pub(crate) fn key_values(meta: &ArrowReaderMetadata) -> Vec<KeyValue> {
    meta.metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|k| k.key != parquet::arrow::ARROW_SCHEMA_META_KEY)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) struct ParquetReader {
    path: std::path::PathBuf,
    inner: ParquetRecordBatchReader,
    schema: SchemaRef,
}

impl ParquetReader {
    pub(crate) fn open(path: &Path, opts: &ReadOptions) -> Result<Self> {
        guard(path, || Self::open_unguarded(path, opts))
    }

    fn open_unguarded(path: &Path, opts: &ReadOptions) -> Result<Self> {
        let (f, meta) = metadata(path)?;
        let full = meta.schema().clone();
        if full.fields().len() > super::MAX_COLUMNS {
            return Err(super::too_many_columns(
                path,
                None,
                Some(full.fields().len()),
            ));
        }
        super::csv::check_unique_names(full.fields().iter().map(|f| f.name().as_str()), path)?;
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta);
        if let Some(cols) = &opts.columns {
            let roots = cols
                .iter()
                .map(|c| {
                    full.index_of(c).map_err(|_| {
                        Error::InvalidInput(format!(
                            "{}: no column `{c}` (columns: {})",
                            path.display(),
                            full.fields()
                                .iter()
                                .map(|f| f.name().as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })
                })
                .collect::<Result<Vec<usize>>>()?;
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            builder = builder.with_projection(mask);
        }
        let inner = builder
            .with_batch_size(opts.batch_size.clamp(1, super::MAX_BATCH_ROWS))
            .build()
            .map_err(|e| parquet_error(path, e))?;
        let schema = inner.schema();
        Ok(Self {
            path: path.to_path_buf(),
            inner,
            schema,
        })
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub(crate) fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let path = self.path.clone();
        guard(&path, || {
            self.inner
                .next()
                .transpose()
                .map_err(|e| parquet_error(&self.path, e))
        })
    }
}
