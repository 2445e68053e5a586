//! `.safetensors` files as named candle tensors, in the same form as the `.pth` reader.
//!
//! The format: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each tensor name to
//! `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the end of the header; an optional
//! `__metadata__` entry of strings), then the data. The file is read tensor by tensor, so peak memory is the
//! result plus one tensor; every size is checked against the file length before anything is allocated.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::pth::{widen_i8, NamedTensors};
use crate::{Error, Result};

/// The format's own limit on the JSON header (100 MB); larger values mean a corrupt or foreign file.
const MAX_HEADER: u64 = 100_000_000;

/// Reads a `.safetensors` file. Tensors come out on the CPU in file (data offset) order, in their stored
/// dtype (I8 widened to I16 and BOOL read as U8, since candle has neither).
pub fn read_safetensors(path: &Path) -> Result<NamedTensors> {
    let err = |msg: String| Error::checkpoint(path, msg);
    let io = |e| Error::io(path, e);
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let not_st =
        "not a safetensors file (too short or bad header length); check the path or re-download it";
    if file_len < 8 {
        return Err(err(not_st.into()));
    }
    let mut len = [0u8; 8];
    file.read_exact(&mut len).map_err(io)?;
    let header_len = u64::from_le_bytes(len);
    if header_len > MAX_HEADER || header_len > file_len - 8 {
        return Err(err(not_st.into()));
    }
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header).map_err(io)?;
    let data_start = 8 + header_len;
    let data_len = file_len - data_start;
    let header: serde_json::Value = serde_json::from_slice(&header).map_err(|e| {
        err(format!(
            "safetensors header is not valid JSON ({e}); the file is corrupt"
        ))
    })?;
    let entries = header
        .as_object()
        .ok_or_else(|| err("safetensors header is not a JSON object".into()))?;

    let mut specs = Vec::with_capacity(entries.len());
    for (name, info) in entries {
        if name == "__metadata__" {
            continue;
        }
        let spec = parse_entry(info, data_len).map_err(|e| err(format!("tensor `{name}`: {e}")))?;
        specs.push((name.as_str(), spec));
    }
    specs.sort_by_key(|(name, s)| (s.begin, *name));
    // Tensors may not share bytes (the format forbids it): otherwise a small file whose entries all
    // point at one large region would make the reader allocate that region once per entry.
    for w in specs.windows(2) {
        let ((a, sa), (b, sb)) = (&w[0], &w[1]);
        if sa.bytes > 0 && sb.begin < sa.begin + sa.bytes as u64 {
            return Err(err(format!(
                "tensors `{a}` and `{b}` overlap in the data section; the file is corrupt"
            )));
        }
    }

    let mut out = Vec::with_capacity(specs.len());
    for (name, s) in specs {
        file.seek(SeekFrom::Start(data_start + s.begin))
            .map_err(io)?;
        let mut bytes = vec![0u8; s.bytes];
        file.read_exact(&mut bytes).map_err(|e| {
            err(format!(
                "tensor `{name}`: reading {} bytes failed ({e}); the file is truncated",
                s.bytes
            ))
        })?;
        if s.widen {
            bytes = widen_i8(&bytes);
        }
        let t = Tensor::from_raw_buffer(&bytes, s.dtype, &s.shape, &Device::Cpu)
            .map_err(|e| err(format!("tensor `{name}`: {e}")))?;
        out.push((name.to_string(), t));
    }
    Ok(out)
}

/// One header entry, validated.
struct Entry {
    dtype: DType,
    /// Stored as int8, to be widened to i16.
    widen: bool,
    shape: Vec<usize>,
    begin: u64,
    bytes: usize,
}

fn parse_entry(info: &serde_json::Value, data_len: u64) -> Result<Entry, String> {
    let dtype = info
        .get("dtype")
        .and_then(|d| d.as_str())
        .ok_or("no dtype")?;
    let (dtype, widen, es) = match dtype {
        "F64" => (DType::F64, false, 8),
        "F32" => (DType::F32, false, 4),
        "F16" => (DType::F16, false, 2),
        "BF16" => (DType::BF16, false, 2),
        "I64" => (DType::I64, false, 8),
        "I32" => (DType::I32, false, 4),
        "U32" => (DType::U32, false, 4),
        "I16" => (DType::I16, false, 2),
        "I8" => (DType::I16, true, 1),
        "U8" | "BOOL" => (DType::U8, false, 1),
        "F8_E4M3" => (DType::F8E4M3, false, 1),
        other => {
            return Err(format!(
                "dtype {other} is not supported; convert it to f32, f16 or bf16"
            ))
        }
    };
    let shape = info
        .get("shape")
        .and_then(|s| s.as_array())
        .ok_or("no shape")?;
    let shape: Vec<usize> = shape
        .iter()
        .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<_>>()
        .ok_or("shape holds a non-integer")?;
    let offsets = info
        .get("data_offsets")
        .and_then(|o| o.as_array())
        .ok_or("no data_offsets")?;
    let (begin, end) = match offsets.as_slice() {
        [b, e] => (
            b.as_u64().ok_or("bad data_offsets")?,
            e.as_u64().ok_or("bad data_offsets")?,
        ),
        _ => return Err("data_offsets is not [begin, end]".into()),
    };
    if begin > end || end > data_len {
        return Err(format!(
            "data_offsets [{begin}, {end}] lie outside the {data_len} data bytes; the file is truncated or corrupt"
        ));
    }
    let bytes = shape
        .iter()
        .try_fold(es, |acc: usize, &n| acc.checked_mul(n))
        .ok_or("shape overflows")?;
    if bytes as u64 != end - begin {
        return Err(format!(
            "shape {shape:?} needs {bytes} bytes but data_offsets span {}",
            end - begin
        ));
    }
    Ok(Entry {
        dtype,
        widen,
        shape,
        begin,
        bytes,
    })
}
