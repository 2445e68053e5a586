//! Writing record batches as JSON Lines, CSV / TSV or Parquet, atomically: rows go to
//! `{name}.tmp` beside the final path, which [`TableWriter::finish`] renames into place. A writer
//! dropped without `finish` (an error, a panic elsewhere) removes its temporary file, so a reader
//! never sees a half-written table under the final name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::Format;
use crate::{Error, Result};

enum Inner {
    Jsonl(BufWriter<File>),
    Csv(Box<csv::Writer<BufWriter<File>>>),
    Parquet(Box<ArrowWriter<BufWriter<File>>>),
}

/// A table being written; see the module docs.
pub struct TableWriter {
    path: PathBuf,
    tmp: PathBuf,
    schema: SchemaRef,
    inner: Option<Inner>,
    rows: u64,
}

impl TableWriter {
    /// Starts writing `path` in `format` with `schema`'s columns. `key_values` go to Parquet's
    /// key-value metadata (model, sampling, ...); other formats have nowhere to put them.
    pub fn create(
        path: impl AsRef<Path>,
        format: Format,
        schema: SchemaRef,
        key_values: Vec<KeyValue>,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let tmp = crate::atomic::tmp_path(&path);
        let file = File::create(&tmp).map_err(|e| Error::output(&tmp, e))?;
        let out = BufWriter::with_capacity(1 << 20, file);
        let inner = match format {
            Format::Jsonl => Inner::Jsonl(out),
            Format::Csv | Format::Tsv => {
                let mut w = csv::WriterBuilder::new()
                    .delimiter(format.delimiter())
                    .from_writer(out);
                w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
                    .map_err(|e| csv_write_error(&tmp, e))?;
                Inner::Csv(Box::new(w))
            }
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_key_value_metadata((!key_values.is_empty()).then_some(key_values))
                    .build();
                let w = ArrowWriter::try_new(out, schema.clone(), Some(props))
                    .map_err(|e| Error::output_other(&tmp, e))?;
                Inner::Parquet(Box::new(w))
            }
        };
        Ok(Self {
            path,
            tmp,
            schema,
            inner: Some(inner),
            rows: 0,
        })
    }

    /// Appends a batch; its schema must have the writer's columns.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.schema_ref().fields() != self.schema.fields() {
            return Err(Error::InvalidInput(format!(
                "{}: a batch with other columns than the table's; write batches of one schema",
                self.path.display()
            )));
        }
        let tmp = &self.tmp;
        match self.inner.as_mut() {
            Some(Inner::Jsonl(w)) => write_jsonl(w, batch, tmp, &self.path)?,
            Some(Inner::Csv(w)) => write_csv(w, batch, tmp, &self.path)?,
            Some(Inner::Parquet(w)) => w.write(batch).map_err(|e| Error::output_other(tmp, e))?,
            None => {}
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Flushes, closes and renames the file into place; returns the number of rows written.
    pub fn finish(mut self) -> Result<u64> {
        let tmp = self.tmp.clone();
        match self.inner.take() {
            Some(Inner::Jsonl(mut w)) => {
                w.flush().map_err(|e| Error::output(&tmp, e))?;
                w.get_ref().sync_all().map_err(|e| Error::output(&tmp, e))?;
            }
            Some(Inner::Csv(w)) => {
                let w = w
                    .into_inner()
                    .map_err(|e| Error::output(&tmp, e.into_error()))?;
                w.get_ref().sync_all().map_err(|e| Error::output(&tmp, e))?;
            }
            Some(Inner::Parquet(w)) => {
                let w = w.into_inner().map_err(|e| Error::output_other(&tmp, e))?;
                w.get_ref().sync_all().map_err(|e| Error::output(&tmp, e))?;
            }
            None => {}
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::output(&self.path, e))?;
        Ok(self.rows)
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.inner = None;
            // Best effort: the file is incomplete, so it must not be mistaken for output.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn csv_write_error(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::output(path, e),
        other => Error::output_other(path, format!("{other:?}")),
    }
}

/// One cell, typed enough to be written as JSON or text.
enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
    Str(&'a str),
    /// A list (e.g. `frames_used`), as JSON text: a JSON array in JSONL, that text in a CSV field.
    Json(String),
}

fn cell<'a>(a: &'a ArrayRef, i: usize, name: &str, path: &Path) -> Result<Cell<'a>> {
    if a.is_null(i) {
        return Ok(Cell::Null);
    }
    Ok(match a.data_type() {
        DataType::Boolean => Cell::Bool(a.as_boolean().value(i)),
        DataType::Int8 => Cell::Int(a.as_primitive::<Int8Type>().value(i).into()),
        DataType::Int16 => Cell::Int(a.as_primitive::<Int16Type>().value(i).into()),
        DataType::Int32 => Cell::Int(a.as_primitive::<Int32Type>().value(i).into()),
        DataType::Int64 => Cell::Int(a.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Cell::UInt(a.as_primitive::<UInt8Type>().value(i).into()),
        DataType::UInt16 => Cell::UInt(a.as_primitive::<UInt16Type>().value(i).into()),
        DataType::UInt32 => Cell::UInt(a.as_primitive::<UInt32Type>().value(i).into()),
        DataType::UInt64 => Cell::UInt(a.as_primitive::<UInt64Type>().value(i)),
        DataType::Float16 => Cell::F32(a.as_primitive::<Float16Type>().value(i).into()),
        DataType::Float32 => Cell::F32(a.as_primitive::<Float32Type>().value(i)),
        DataType::Float64 => Cell::F64(a.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => Cell::Str(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Cell::Str(a.as_string::<i64>().value(i)),
        DataType::Utf8View => Cell::Str(a.as_string_view().value(i)),
        DataType::Null => Cell::Null,
        DataType::List(_) => Cell::Json(list_json(&a.as_list::<i32>().value(i), name, path)?),
        DataType::LargeList(_) => Cell::Json(list_json(&a.as_list::<i64>().value(i), name, path)?),
        DataType::FixedSizeList(..) => {
            Cell::Json(list_json(&a.as_fixed_size_list().value(i), name, path)?)
        }
        t => {
            return Err(Error::InvalidInput(format!(
                "{}: column `{name}` has type {t}, which JSONL and CSV output cannot hold; write .parquet",
                path.display()
            )))
        }
    })
}

/// A cell as JSON text (NaN and infinities, which JSON lacks, as `null`).
fn json_text(c: Cell<'_>) -> String {
    match c {
        Cell::Null => "null".to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Int(v) => v.to_string(),
        Cell::UInt(v) => v.to_string(),
        Cell::F32(v) if v.is_finite() => serde_json::to_string(&v).unwrap_or_default(),
        Cell::F64(v) if v.is_finite() => serde_json::to_string(&v).unwrap_or_default(),
        Cell::F32(_) | Cell::F64(_) => "null".to_string(),
        Cell::Str(s) => serde_json::to_string(s).unwrap_or_default(),
        Cell::Json(j) => j,
    }
}

/// The values of one list cell as a JSON array (nested lists recurse through [`cell`]).
fn list_json(values: &ArrayRef, name: &str, path: &Path) -> Result<String> {
    let mut out = String::from("[");
    for k in 0..values.len() {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&json_text(cell(values, k, name, path)?));
    }
    out.push(']');
    Ok(out)
}

/// `path`: the temporary file written (named by write errors); `shown`: the table's final name
/// (named by errors about the data, which are the caller's to fix).
fn write_jsonl(
    w: &mut BufWriter<File>,
    batch: &RecordBatch,
    path: &Path,
    shown: &Path,
) -> Result<()> {
    let schema = batch.schema();
    let names: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| serde_json::to_string(f.name()).unwrap_or_default())
        .collect();
    let mut line = Vec::with_capacity(256);
    for i in 0..batch.num_rows() {
        line.clear();
        line.push(b'{');
        for (c, (a, name)) in batch.columns().iter().zip(&names).enumerate() {
            if c > 0 {
                line.push(b',');
            }
            line.extend_from_slice(name.as_bytes());
            line.push(b':');
            // JSON has no NaN or infinity: they are written as null.
            let json = json_text(cell(a, i, name, shown)?);
            line.extend_from_slice(json.as_bytes());
        }
        line.extend_from_slice(b"}\n");
        w.write_all(&line).map_err(|e| Error::output(path, e))?;
    }
    Ok(())
}

/// As [`write_jsonl`].
fn write_csv(
    w: &mut csv::Writer<BufWriter<File>>,
    batch: &RecordBatch,
    path: &Path,
    shown: &Path,
) -> Result<()> {
    let schema = batch.schema();
    let mut record = csv::StringRecord::new();
    for i in 0..batch.num_rows() {
        record.clear();
        for (a, f) in batch.columns().iter().zip(schema.fields()) {
            let text = match cell(a, i, f.name(), shown)? {
                Cell::Null => String::new(),
                Cell::Bool(b) => b.to_string(),
                Cell::Int(v) => v.to_string(),
                Cell::UInt(v) => v.to_string(),
                Cell::F32(v) => v.to_string(),
                Cell::F64(v) => v.to_string(),
                Cell::Str(s) => s.to_string(),
                Cell::Json(j) => j,
            };
            record.push_field(&text);
        }
        w.write_record(&record)
            .map_err(|e| csv_write_error(path, e))?;
    }
    Ok(())
}
