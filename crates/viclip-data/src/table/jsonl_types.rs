//! Column types of JSON Lines tables: what each JSON value makes of a column, how two merge, and the
//! arrow array a column of cells becomes.

use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, StringBuilder, UInt64Builder,
};
use arrow_array::ArrayRef;
use arrow_schema::DataType;
use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Null,
    Bool,
    /// Integers that fit an i64, none negative (so far): Int64, widened to UInt64 by a larger one.
    NonNeg,
    /// Integers that fit an i64, some negative: Int64.
    Int,
    /// Non-negative integers, some above `i64::MAX`: UInt64, so they are carried unchanged.
    UInt,
    Float,
    Str,
}

impl Kind {
    pub(crate) fn of(v: &Value) -> Kind {
        match v {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(n) if n.as_i64().is_some_and(|i| i < 0) => Kind::Int,
            Value::Number(n) if n.is_i64() => Kind::NonNeg,
            Value::Number(n) if n.is_u64() => Kind::UInt,
            Value::Number(_) => Kind::Float,
            _ => Kind::Str,
        }
    }

    pub(crate) fn merge(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::Null, b) => b,
            (a, Kind::Null) => a,
            (Kind::NonNeg, Kind::Int) | (Kind::Int, Kind::NonNeg) => Kind::Int,
            (Kind::NonNeg, Kind::UInt) | (Kind::UInt, Kind::NonNeg) => Kind::UInt,
            // Negative and above-i64 integers in one column: no integer type holds both, and a
            // float would change them; the column keeps their JSON text.
            (Kind::Int, Kind::UInt) | (Kind::UInt, Kind::Int) => Kind::Str,
            (Kind::NonNeg | Kind::Int | Kind::UInt, Kind::Float)
            | (Kind::Float, Kind::NonNeg | Kind::Int | Kind::UInt) => Kind::Float,
            _ => Kind::Str,
        }
    }

    pub(crate) fn data_type(self) -> DataType {
        match self {
            Kind::Bool => DataType::Boolean,
            Kind::NonNeg | Kind::Int => DataType::Int64,
            Kind::UInt => DataType::UInt64,
            Kind::Float => DataType::Float64,
            Kind::Null | Kind::Str => DataType::Utf8,
        }
    }
}

pub(crate) fn kind_of_type(t: &DataType) -> Kind {
    match t {
        DataType::Boolean => Kind::Bool,
        DataType::Int64 => Kind::Int,
        DataType::UInt64 => Kind::UInt,
        DataType::Float64 => Kind::Float,
        _ => Kind::Str,
    }
}

/// Whether `v` fits a column of `kind`; the error names the column's type.
pub(crate) fn check_kind(kind: Kind, v: &Value) -> std::result::Result<(), &'static str> {
    match (kind, v) {
        (_, Value::Null) | (Kind::Str | Kind::Null, _) => Ok(()),
        (Kind::Bool, Value::Bool(_)) => Ok(()),
        (Kind::NonNeg | Kind::Int, Value::Number(n)) if n.is_i64() => Ok(()),
        (Kind::UInt, Value::Number(n)) if n.is_u64() => Ok(()),
        (Kind::Float, Value::Number(_)) => Ok(()),
        (Kind::Bool, _) => Err("boolean"),
        (Kind::NonNeg | Kind::Int, _) => Err("integer"),
        (Kind::UInt, _) => Err("non-negative integer"),
        (Kind::Float, _) => Err("numeric"),
    }
}

pub(crate) fn build_array(kind: Kind, cells: &[Option<Value>]) -> ArrayRef {
    match kind {
        Kind::Bool => {
            let mut b = BooleanBuilder::with_capacity(cells.len());
            cells
                .iter()
                .for_each(|c| b.append_option(c.as_ref().and_then(Value::as_bool)));
            Arc::new(b.finish())
        }
        Kind::NonNeg | Kind::Int => {
            let mut b = Int64Builder::with_capacity(cells.len());
            cells
                .iter()
                .for_each(|c| b.append_option(c.as_ref().and_then(Value::as_i64)));
            Arc::new(b.finish())
        }
        Kind::UInt => {
            let mut b = UInt64Builder::with_capacity(cells.len());
            cells
                .iter()
                .for_each(|c| b.append_option(c.as_ref().and_then(Value::as_u64)));
            Arc::new(b.finish())
        }
        Kind::Float => {
            let mut b = Float64Builder::with_capacity(cells.len());
            cells
                .iter()
                .for_each(|c| b.append_option(c.as_ref().and_then(Value::as_f64)));
            Arc::new(b.finish())
        }
        Kind::Null | Kind::Str => {
            let mut b = StringBuilder::with_capacity(cells.len(), cells.len() * 16);
            for c in cells {
                match c {
                    None | Some(Value::Null) => b.append_null(),
                    Some(Value::String(s)) => b.append_value(s),
                    Some(other) => b.append_value(other.to_string()),
                }
            }
            Arc::new(b.finish())
        }
    }
}
