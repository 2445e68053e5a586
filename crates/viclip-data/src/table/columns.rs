//! One column of a [`RowBatch`] as numbers, seconds or strings, whatever type it is stored as: a score
//! may be Float32 in a Parquet file, a JSON number in JSONL and text in CSV; a timestamp may be a number
//! of seconds or an `HH:MM:SS.mmm` string.
//!
//! Missing values (null, empty or unparseable text, NaN) come back as `None`: the subset builders
//! count such rows and drop them rather than fail on row 200,000,000 of a table.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;

use super::{parse_seconds, RowBatch};
use crate::{Error, Result};

/// The column `name` of `batch`, or an error listing the batch's columns.
pub fn column<'a>(batch: &'a RowBatch, name: &str) -> Result<&'a ArrayRef> {
    batch.batch.column_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = batch
            .batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        Error::InvalidInput(format!(
            "no column `{name}` (columns: {})",
            names.join(", ")
        ))
    })
}

/// Numeric values of a column: integers and floats as they are, text parsed as a decimal number.
/// Null, empty, unparseable and NaN cells are `None`. Other types (lists, structs) are an error.
pub fn f64_values(batch: &RowBatch, name: &str) -> Result<Vec<Option<f64>>> {
    numeric(batch, name, |s| s.trim().parse::<f64>().ok())
}

/// Seconds of a timestamp column: numbers are seconds, text is read with [`parse_seconds`]
/// (`00:00:03.160`, `01:30`, `12.5`). Missing or unreadable cells are `None`.
pub fn seconds_values(batch: &RowBatch, name: &str) -> Result<Vec<Option<f64>>> {
    numeric(batch, name, |s| parse_seconds(s).ok())
}

fn numeric(
    batch: &RowBatch,
    name: &str,
    parse: impl Fn(&str) -> Option<f64>,
) -> Result<Vec<Option<f64>>> {
    let a = column(batch, name)?;
    let clean = |v: Option<f64>| v.filter(|x| !x.is_nan());
    macro_rules! prim {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .iter()
                .map(|v| clean(v.map(|x| x as f64)))
                .collect()
        };
    }
    let out: Vec<Option<f64>> = match a.data_type() {
        DataType::Float64 => a.as_primitive::<Float64Type>().iter().map(clean).collect(),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float16 => a
            .as_primitive::<Float16Type>()
            .iter()
            .map(|v| clean(v.map(f64::from)))
            .collect(),
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Null => vec![None; a.len()],
        _ => {
            let s = StrColumn::new(batch, name)?;
            (0..s.len())
                .map(|i| clean(s.get(i).and_then(&parse)))
                .collect()
        }
    };
    Ok(out)
}

macro_rules! ints {
    ($a:expr, $t:ty) => {
        StrColumn::Owned(
            $a.as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|x| x.to_string()))
                .collect(),
        )
    };
}

/// A column read as text: string columns borrowed, numbers and booleans formatted.
pub enum StrColumn<'a> {
    /// An Arrow `Utf8` column, borrowed.
    Utf8(&'a arrow_array::StringArray),
    /// An Arrow `LargeUtf8` column, borrowed.
    LargeUtf8(&'a arrow_array::LargeStringArray),
    /// An Arrow `Utf8View` column, borrowed.
    View(&'a arrow_array::StringViewArray),
    /// A null, boolean, integer or float column formatted as text, one entry per row (`None`: null).
    Owned(Vec<Option<String>>),
}

impl<'a> StrColumn<'a> {
    /// The column `name` of `batch` as text; nested types (lists, structs) are an error.
    pub fn new(batch: &'a RowBatch, name: &str) -> Result<Self> {
        let a = column(batch, name)?;
        Ok(match a.data_type() {
            DataType::Utf8 => StrColumn::Utf8(a.as_string::<i32>()),
            DataType::LargeUtf8 => StrColumn::LargeUtf8(a.as_string::<i64>()),
            DataType::Utf8View => StrColumn::View(a.as_string_view()),
            DataType::Null => StrColumn::Owned(vec![None; a.len()]),
            DataType::Boolean => StrColumn::Owned(
                a.as_boolean()
                    .iter()
                    .map(|v| v.map(|b| b.to_string()))
                    .collect(),
            ),
            DataType::Int8 => ints!(a, Int8Type),
            DataType::Int16 => ints!(a, Int16Type),
            DataType::Int32 => ints!(a, Int32Type),
            DataType::Int64 => ints!(a, Int64Type),
            DataType::UInt8 => ints!(a, UInt8Type),
            DataType::UInt16 => ints!(a, UInt16Type),
            DataType::UInt32 => ints!(a, UInt32Type),
            DataType::UInt64 => ints!(a, UInt64Type),
            t if t.is_floating() => StrColumn::Owned(
                f64_values(batch, name)?
                    .into_iter()
                    .map(|x| x.map(|x| x.to_string()))
                    .collect(),
            ),
            t => {
                return Err(Error::InvalidInput(format!(
                    "column `{name}` has type {t}; a text or numeric column is needed here"
                )))
            }
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            StrColumn::Utf8(a) => a.len(),
            StrColumn::LargeUtf8(a) => a.len(),
            StrColumn::View(a) => a.len(),
            StrColumn::Owned(v) => v.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i`'s text; `None` when null.
    pub fn get(&self, i: usize) -> Option<&str> {
        match self {
            StrColumn::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::LargeUtf8(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::View(a) => a.is_valid(i).then(|| a.value(i)),
            StrColumn::Owned(v) => v.get(i).and_then(|x| x.as_deref()),
        }
    }
}
