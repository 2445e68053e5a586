//! Small arrow helpers of the score job: one cell as JSON (a video2dataset `clips` cell may be a JSON
//! string in CSV / JSONL or a nested list in Parquet) and the output's new columns.

use std::sync::Arc;

use arrow_array::builder::{Float32Builder, Int32Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field};
use serde_json::Value;

/// Row `i` of `a` as JSON: text is parsed as JSON (or kept as a string when it is not JSON), lists
/// become arrays, numbers numbers. `Ok(None)` for null; an unsupported type is an error message.
pub(crate) fn cell_json(a: &ArrayRef, i: usize) -> Result<Option<Value>, String> {
    if a.is_null(i) {
        return Ok(None);
    }
    let text = |s: &str| {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_string())))
    };
    Ok(match a.data_type() {
        DataType::Utf8 => text(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => text(a.as_string::<i64>().value(i)),
        DataType::Utf8View => text(a.as_string_view().value(i)),
        DataType::Float64 => Some(Value::from(a.as_primitive::<Float64Type>().value(i))),
        DataType::Float32 => Some(Value::from(a.as_primitive::<Float32Type>().value(i) as f64)),
        DataType::Int64 => Some(Value::from(a.as_primitive::<Int64Type>().value(i))),
        DataType::Int32 => Some(Value::from(a.as_primitive::<Int32Type>().value(i))),
        DataType::UInt64 => Some(Value::from(a.as_primitive::<UInt64Type>().value(i))),
        DataType::UInt32 => Some(Value::from(a.as_primitive::<UInt32Type>().value(i))),
        DataType::List(_) => Some(list_json(&a.as_list::<i32>().value(i))?),
        DataType::LargeList(_) => Some(list_json(&a.as_list::<i64>().value(i))?),
        DataType::FixedSizeList(_, _) => Some(list_json(&a.as_fixed_size_list().value(i))?),
        t => return Err(format!("type {t} cannot hold clip spans")),
    })
}

fn list_json(values: &ArrayRef) -> Result<Value, String> {
    (0..values.len())
        .map(|k| cell_json(values, k).map(|v| v.unwrap_or(Value::Null)))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// Names of the columns the job adds; an input column of the same name is replaced.
pub(crate) const OUTPUT_COLUMNS: [&str; 7] = [
    "viclip_sim",
    "aesthetic",
    "status",
    "error",
    "frames_used",
    "video_color",
    "warning",
];

/// The fields of [`OUTPUT_COLUMNS`].
pub(crate) fn output_fields() -> Vec<Field> {
    vec![
        Field::new("viclip_sim", DataType::Float32, true),
        Field::new("aesthetic", DataType::Float32, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, true),
        Field::new(
            "frames_used",
            DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
            true,
        ),
        // How the frames were converted: matrix, range, bit depth, rotation (docs/video.md).
        Field::new("video_color", DataType::Utf8, true),
        // Set when a clip decoded but not cleanly (e.g. the fraction of frames lost to bit rot).
        Field::new("warning", DataType::Utf8, true),
    ]
}

pub(crate) fn f32_array(v: impl Iterator<Item = Option<f32>>) -> ArrayRef {
    let mut b = Float32Builder::new();
    for x in v {
        b.append_option(x);
    }
    Arc::new(b.finish())
}

pub(crate) fn str_array<'a>(v: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut b = StringBuilder::new();
    for x in v {
        b.append_option(x);
    }
    Arc::new(b.finish())
}

pub(crate) fn i32_list_array<'a>(v: impl Iterator<Item = Option<&'a [i32]>>) -> ArrayRef {
    let mut b = ListBuilder::new(Int32Builder::new());
    for x in v {
        match x {
            Some(xs) => {
                b.values().append_slice(xs);
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}
