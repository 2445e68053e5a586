//! The batch iterator behind [`super::Table::batches`]: one reader per file, rows numbered across
//! files, one schema for the whole table.

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::{csv, jsonl, parquet, ReadOptions, RowBatch, RowError, Table};
use crate::{Error, Result};

pub(crate) enum FileReader {
    Jsonl(jsonl::JsonlReader),
    Csv(csv::CsvReader),
    Parquet(parquet::ParquetReader),
}

impl FileReader {
    pub(crate) fn schema(&self) -> SchemaRef {
        match self {
            FileReader::Jsonl(r) => r.schema(),
            FileReader::Csv(r) => r.schema(),
            FileReader::Parquet(r) => r.schema(),
        }
    }

    fn next_batch(&mut self, first_row: u64) -> Result<Option<(RecordBatch, Vec<RowError>)>> {
        match self {
            FileReader::Jsonl(r) => r.next_batch(first_row),
            FileReader::Csv(r) => r.next_batch(first_row),
            FileReader::Parquet(r) => Ok(r.next_batch()?.map(|b| (b, Vec::new()))),
        }
    }
}

/// Iterator over a table's [`RowBatch`]es, file after file; stops after the first error.
pub struct Batches<'a> {
    pub(crate) table: &'a Table,
    pub(crate) opts: ReadOptions,
    pub(crate) file: usize,
    pub(crate) reader: Option<FileReader>,
    pub(crate) schema: Option<SchemaRef>,
    pub(crate) next_row: u64,
    pub(crate) failed: bool,
}

impl Batches<'_> {
    fn step(&mut self) -> Result<Option<RowBatch>> {
        loop {
            if self.reader.is_none() {
                if self.file >= self.table.files.len() {
                    return Ok(None);
                }
                let r = self
                    .table
                    .open_file(self.file, &self.opts, self.schema.clone())?;
                self.check_schema(&r.schema())?;
                self.reader = Some(r);
            }
            let Some(reader) = self.reader.as_mut() else {
                continue;
            };
            match reader.next_batch(self.next_row)? {
                Some((batch, errors)) => {
                    let first_row = self.next_row;
                    self.next_row += batch.num_rows() as u64;
                    return Ok(Some(RowBatch {
                        first_row,
                        batch,
                        errors,
                    }));
                }
                None => {
                    self.reader = None;
                    self.file += 1;
                }
            }
        }
    }

    /// All files of a table must have the same columns and types: the first file's schema is kept
    /// (JSONL files reuse it instead of inferring their own).
    fn check_schema(&mut self, schema: &SchemaRef) -> Result<()> {
        match &self.schema {
            None => self.schema = Some(schema.clone()),
            Some(first) if first.fields() != schema.fields() => {
                return Err(Error::InvalidInput(format!(
                    "{}: its columns differ from those of {}; all files of a table need the same columns",
                    self.table.files[self.file].display(),
                    self.table.files[0].display()
                )))
            }
            Some(_) => {}
        }
        Ok(())
    }
}

impl Iterator for Batches<'_> {
    type Item = Result<RowBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let r = self.step().transpose();
        if matches!(r, Some(Err(_))) {
            self.failed = true;
        }
        r
    }
}
