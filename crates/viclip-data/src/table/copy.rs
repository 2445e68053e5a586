//! Copying chosen rows of a table into a new file, keeping every column: what a subset builder does
//! once it knows which rows it keeps. Same format in and out: JSON Lines lines are copied byte for byte,
//! CSV records field for field (the csv writer may quote differently), Parquet rows are read with a row
//! selection per row group (only the chosen rows' pages are decoded) and written with the input's
//! schema and key-value metadata. Another output format goes through arrow batches and [`TableWriter`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection, RowSelector};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{csv as tcsv, jsonl, parquet as tpq, Format, ReadOptions, Table, TableWriter};
use crate::atomic::AtomicFile;
use crate::{Error, Result};

impl Table {
    /// Writes the rows whose table-wide indices are in `rows` (strictly increasing) to `out`, all
    /// columns, in row order; returns the number written. The output format follows `out`'s
    /// extension; the same format as the input keeps the rows exactly (see the module docs).
    pub fn copy_rows(&self, rows: &[u64], out: &Path) -> Result<u64> {
        if let Some(w) = rows.windows(2).find(|w| w[0] >= w[1]) {
            return Err(Error::InvalidInput(format!(
                "copy_rows: row indices must be strictly increasing ({} then {})",
                w[0], w[1]
            )));
        }
        let format = Format::from_path(out)?;
        let n = match (self.format, format) {
            (Format::Jsonl, Format::Jsonl) => self.copy_jsonl(rows, out)?,
            (Format::Csv, Format::Csv) | (Format::Tsv, Format::Tsv) => self.copy_csv(rows, out)?,
            (Format::Parquet, Format::Parquet) => self.copy_parquet(rows, out)?,
            _ => self.copy_converted(rows, out, format)?,
        };
        if n != rows.len() as u64 {
            return Err(Error::InvalidInput(format!(
                "{}: asked for {} rows but the table has only {n} of them (row {} is past its end)",
                self.path().display(),
                rows.len(),
                rows.get(n as usize).copied().unwrap_or_default()
            )));
        }
        Ok(n)
    }

    fn copy_jsonl(&self, rows: &[u64], out: &Path) -> Result<u64> {
        let (atomic, mut w) = AtomicFile::create(out)?;
        let (mut row, mut next, mut buf) = (0u64, 0usize, Vec::new());
        for path in self.files() {
            let mut lines = jsonl::Lines::open(path)?;
            while next < rows.len() {
                let Some(line) = lines.next_line(&mut buf)? else {
                    break;
                };
                if rows[next] == row {
                    if line.too_long {
                        // Its bytes were read past, not kept: the row cannot be copied verbatim.
                        return Err(Error::InvalidInput(format!(
                            "{}:{}: {}",
                            path.display(),
                            line.no,
                            jsonl::too_long_message()
                        )));
                    }
                    if buf.last() != Some(&b'\n') {
                        buf.push(b'\n');
                    }
                    w.write_all(&buf).map_err(|e| Error::output(out, e))?;
                    next += 1;
                }
                row += 1;
            }
        }
        atomic.commit(w)?;
        Ok(next as u64)
    }

    fn copy_csv(&self, rows: &[u64], out: &Path) -> Result<u64> {
        let (atomic, w) = AtomicFile::create(out)?;
        let mut w = csv::WriterBuilder::new()
            .delimiter(self.format().delimiter())
            .from_writer(w);
        let (mut row, mut next, mut rec) = (0u64, 0usize, csv::ByteRecord::new());
        for (i, path) in self.files().iter().enumerate() {
            let mut r = tcsv::reader(path, self.format().delimiter())?;
            if i == 0 {
                let header = r
                    .byte_headers()
                    .map_err(|e| tcsv::csv_error(path, &e))?
                    .clone();
                w.write_byte_record(&header)
                    .map_err(|e| tcsv::csv_error(out, &e))?;
            }
            while next < rows.len()
                && r.read_byte_record(&mut rec)
                    .map_err(|e| tcsv::csv_error(path, &e))?
            {
                if rows[next] == row {
                    w.write_byte_record(&rec)
                        .map_err(|e| tcsv::csv_error(out, &e))?;
                    next += 1;
                }
                row += 1;
            }
        }
        let inner = w
            .into_inner()
            .map_err(|e| Error::output(out, e.into_error()))?;
        atomic.commit(inner)?;
        Ok(next as u64)
    }

    fn copy_parquet(&self, rows: &[u64], out: &Path) -> Result<u64> {
        let (atomic, w) = AtomicFile::create(out)?;
        let mut writer: Option<ArrowWriter<BufWriter<File>>> = None;
        let mut first_schema: Option<arrow_schema::SchemaRef> = None;
        let mut w = Some(w);
        let (mut row, mut next, mut written) = (0u64, 0usize, 0u64);
        for path in self.files() {
            let (f, meta) = tpq::metadata(path)?;
            if writer.is_none() {
                first_schema = Some(meta.schema().clone());
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_key_value_metadata(Some(tpq::key_values(&meta)))
                    .build();
                let sink = w
                    .take()
                    .ok_or_else(|| Error::Internal("copy_parquet: parquet writer reused".into()))?;
                writer = Some(
                    ArrowWriter::try_new(sink, meta.schema().clone(), Some(props))
                        .map_err(|e| tpq::parquet_error(out, e))?,
                );
            }
            let Some(wr) = writer.as_mut() else { continue };
            if first_schema
                .as_ref()
                .is_some_and(|s| s.fields() != meta.schema().fields())
            {
                return Err(Error::InvalidInput(format!(
                    "{}: its columns differ from those of {}; all files of a table need the same columns",
                    path.display(),
                    self.files()[0].display()
                )));
            }
            for (g, rg) in meta.metadata().row_groups().iter().enumerate() {
                let len = rg.num_rows().max(0) as u64;
                let mut selectors = Vec::new();
                let mut pos = 0u64;
                while next < rows.len() && rows[next] < row + len {
                    let local = rows[next] - row;
                    if local > pos {
                        selectors.push(RowSelector::skip((local - pos) as usize));
                    }
                    selectors.push(RowSelector::select(1));
                    pos = local + 1;
                    next += 1;
                }
                row += len;
                if selectors.is_empty() {
                    continue;
                }
                if pos < len {
                    selectors.push(RowSelector::skip((len - pos) as usize));
                }
                let file = f.try_clone().map_err(|e| Error::io(path, e))?;
                // Guarded: the parquet decoders panic on some corrupt data.
                written += tpq::guard(path, || {
                    let reader =
                        ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
                            .with_row_groups(vec![g])
                            .with_row_selection(RowSelection::from(selectors))
                            .build()
                            .map_err(|e| tpq::parquet_error(path, e))?;
                    let mut n = 0u64;
                    for batch in reader {
                        let batch = batch.map_err(|e| tpq::parquet_error(path, e))?;
                        n += batch.num_rows() as u64;
                        wr.write(&batch).map_err(|e| tpq::parquet_error(out, e))?;
                    }
                    Ok(n)
                })?;
            }
        }
        let sink = match writer {
            Some(wr) => wr.into_inner().map_err(|e| tpq::parquet_error(out, e))?,
            None => w.ok_or_else(|| Error::Internal("copy_parquet: parquet writer lost".into()))?,
        };
        atomic.commit(sink)?;
        Ok(written.min(next as u64))
    }

    /// Another output format than the input's: through arrow batches, one slice per run of rows.
    fn copy_converted(&self, rows: &[u64], out: &Path, format: Format) -> Result<u64> {
        let mut writer: Option<TableWriter> = None;
        let mut next = 0usize;
        for b in self.batches(&ReadOptions::default()) {
            let b = b?;
            let end = b.first_row + b.num_rows() as u64;
            let w = match writer.as_mut() {
                Some(w) => w,
                None => writer.insert(TableWriter::create(
                    out,
                    format,
                    b.batch.schema(),
                    Vec::new(),
                )?),
            };
            while next < rows.len() && rows[next] < end {
                let start = next;
                while next + 1 < rows.len()
                    && rows[next + 1] == rows[next] + 1
                    && rows[next + 1] < end
                {
                    next += 1;
                }
                next += 1;
                let offset = (rows[start] - b.first_row) as usize;
                w.write(&b.batch.slice(offset, next - start))?;
            }
        }
        match writer {
            Some(w) => w.finish(),
            None => {
                // An empty table: an empty file of the right format (a header for CSV).
                let schema = std::sync::Arc::new(arrow_schema::Schema::empty());
                TableWriter::create(out, format, schema, Vec::new())?.finish()
            }
        }
    }
}
