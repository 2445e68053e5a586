//! Reading float `.npy` arrays with every header claim checked against the file before anything is
//! allocated: a 1 KB file whose header promises a 120 GB array is an error naming the file, not an
//! abort, and a shape whose element count overflows is an error, not a panic.
//!
//! Kept here rather than going through `Tensor::read_npy`, which allocates the header's length and
//! the shape's element count as claimed, multiplies the shape unchecked and ignores `fortran_order`.

use std::path::Path;

use half::f16;

use crate::{Error, Result};

/// The largest header a `.npy` file may have (numpy's own `max_header_size` default is 10 000).
const MAX_HEADER: usize = 1 << 20;

/// Element types read (and converted to f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDType {
    /// `<f2`
    F16,
    /// `<f4`
    F32,
    /// `<f8`
    F64,
}

impl NpyDType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            NpyDType::F16 => 2,
            NpyDType::F32 => 4,
            NpyDType::F64 => 8,
        }
    }
}

/// What a checked `.npy` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Element type.
    pub dtype: NpyDType,
    /// Array shape, C order.
    pub shape: Vec<usize>,
    /// Byte offset of the data.
    pub data_offset: usize,
    /// Elements in the array (the shape's product, checked).
    pub elements: usize,
}

/// Parses and checks the header at the start of `bytes` (a prefix of the file, at least the header;
/// `file_len` is the whole file's length): the data the shape claims must fit in the file.
pub fn parse_npy_header(bytes: &[u8], file_len: u64, path: &Path) -> Result<NpyHeader> {
    let bad = |m: String| {
        Error::InvalidInput(format!(
            "{}: {m}; write it with numpy.save(path, array.astype('float32'))",
            path.display()
        ))
    };
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file (no \\x93NUMPY magic)".into()));
    }
    let (hlen, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 => {
            let b = bytes
                .get(8..12)
                .ok_or_else(|| bad("truncated header".into()))?;
            let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            (usize::try_from(n).unwrap_or(usize::MAX), 12)
        }
        v => return Err(bad(format!("unsupported .npy version {v}"))),
    };
    if hlen > MAX_HEADER {
        return Err(bad(format!(
            "header of {hlen} bytes (at most {MAX_HEADER})"
        )));
    }
    let data_offset = start + hlen;
    let header = bytes
        .get(start..data_offset)
        .ok_or_else(|| bad(format!("header of {hlen} bytes is longer than the file")))?;
    // Latin-1 (version 1/2) or UTF-8 (3); every key and value that matters is ASCII.
    let header: String = header.iter().map(|&b| char::from(b)).collect();
    let descr = dict_value(&header, "descr").ok_or_else(|| bad("no 'descr' in header".into()))?;
    let dtype = match descr.trim_matches('\'') {
        "<f2" | "=f2" | "<e" => NpyDType::F16,
        "<f4" | "=f4" | "<f" => NpyDType::F32,
        "<f8" | "=f8" | "<d" => NpyDType::F64,
        other => {
            return Err(bad(format!(
                "dtype {other}, expected little-endian float16/32/64"
            )))
        }
    };
    match dict_value(&header, "fortran_order") {
        Some("False") => {}
        Some("True") => return Err(bad("Fortran-order arrays are not supported".into())),
        _ => return Err(bad("no fortran_order False/True in header".into())),
    }
    let shape_text = dict_value(&header, "shape").ok_or_else(|| bad("no 'shape'".into()))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .ok_or_else(|| bad(format!("shape {shape_text} is not a tuple")))?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad(format!("shape {shape_text} is not a tuple of sizes")))?;
    let elements = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let data_len = elements
        .checked_mul(dtype.size())
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad(format!("shape {shape:?} overflows")))?;
    let available = file_len.saturating_sub(data_offset as u64);
    if data_len > available {
        return Err(bad(format!(
            "header claims shape {shape:?} ({data_len} bytes of data), the file holds {available}; truncated or corrupt"
        )));
    }
    // An empty array's other sizes are not bounded by its data; bound each by the file's length so a
    // consumer looping over rows of an `(n, 0)` array stays proportional to the file.
    if let Some(d) = shape.iter().find(|&&d| d as u64 > file_len) {
        return Err(bad(format!(
            "shape {shape:?} has a size {d} larger than the file ({file_len} bytes)"
        )));
    }
    Ok(NpyHeader {
        dtype,
        shape,
        data_offset,
        elements,
    })
}

/// The text of the value of `'key':` in a numpy header dict: a quoted string, a tuple, or a word.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = match rest.chars().next()? {
        '\'' => rest[1..].find('\'')? + 2,
        '(' => rest.find(')')? + 1,
        _ => rest.find([',', '}']).unwrap_or(rest.len()),
    };
    Some(rest[..end].trim())
}

/// Reads a float `.npy` array as `(shape, values as f32)`; the header is checked against the file's
/// length before the data is read.
pub fn read_npy_f32(path: &Path) -> Result<(NpyHeader, Vec<f32>)> {
    let bytes = crate::fsutil::read_regular(path, "a .npy file")?;
    let h = parse_npy_header(&bytes, bytes.len() as u64, path)?;
    let data = &bytes[h.data_offset..h.data_offset + h.elements * h.dtype.size()];
    let values = match h.dtype {
        NpyDType::F16 => data
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        NpyDType::F32 => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        NpyDType::F64 => data
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f64::from_le_bytes(b) as f32
            })
            .collect(),
    };
    Ok((h, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = b"\x93NUMPY\x01\x00".to_vec();
        v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn claims_are_checked_against_the_length() {
        let p = Path::new("x.npy");
        let ok = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }",
            &[0; 8],
        );
        let h = parse_npy_header(&ok, ok.len() as u64, p).expect("valid");
        assert_eq!((h.shape.clone(), h.elements), (vec![2, 1], 2));
        let huge = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (30000000000,), }",
            &[0; 8],
        );
        let e = parse_npy_header(&huge, huge.len() as u64, p).expect_err("claims 120 GB");
        assert!(e.to_string().contains("120000000000 bytes"), "{e}");
        let over = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }",
            &[],
        );
        let e = parse_npy_header(&over, u64::MAX, p).expect_err("overflow");
        assert!(e.to_string().contains("overflows"), "{e}");
        let scalar = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
            &[0; 8],
        );
        assert_eq!(
            parse_npy_header(&scalar, 100, p).map(|h| h.elements).ok(),
            Some(1)
        );
    }
}
