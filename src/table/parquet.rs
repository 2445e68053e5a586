//! Parquet tables through arrow-rs: column projection at the file level (only the asked-for columns
//! are decoded), record batches as stored, and the file's key-value metadata for carrying through.

use std::fs::File;
use std::path::Path;

use arrow_array::{RecordBatch, RecordBatchReader};
use arrow_schema::SchemaRef;
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

/// The file's metadata (schema, row groups, key-value pairs), read once.
pub(crate) fn metadata(path: &Path) -> Result<(File, ArrowReaderMetadata)> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = ArrowReaderMetadata::load(&f, ArrowReaderOptions::new())
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
        let (f, meta) = metadata(path)?;
        let full = meta.schema().clone();
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
            .with_batch_size(opts.batch_size.max(1))
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
        self.inner
            .next()
            .transpose()
            .map_err(|e| parquet_error(&self.path, e))
    }
}
