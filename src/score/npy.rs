//! float16 `.npy` files (clip-retrieval's embedding layout), written atomically: to `{name}.tmp`,
//! fsynced, renamed. Written by hand rather than through `Tensor::write_npy` so the file can be synced
//! before the rename and a failure removes the temporary file.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use half::f16;

use crate::{Error, Result};

/// Writes `data` (`rows x dim` f32, row-major) as a float16 `(rows, dim)` array.
pub fn write_npy_f16(path: &Path, rows: usize, dim: usize, data: &[f32]) -> Result<()> {
    if data.len() != rows * dim {
        return Err(Error::InvalidInput(format!(
            "{}: {} values for a ({rows}, {dim}) array",
            path.display(),
            data.len()
        )));
    }
    let tmp = super::output::tmp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
        let mut header =
            format!("{{'descr': '<f2', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
        // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
        let pad = (64 - (10 + header.len() + 1) % 64) % 64;
        header.push_str(&" ".repeat(pad));
        header.push('\n');
        w.write_all(b"\x93NUMPY\x01\x00")?;
        w.write_all(&(header.len() as u16).to_le_bytes())?;
        w.write_all(header.as_bytes())?;
        let mut buf = Vec::with_capacity(dim * 2);
        for row in data.chunks(dim.max(1)) {
            buf.clear();
            for &x in row {
                buf.extend_from_slice(&f16::from_f32(x).to_le_bytes());
            }
            w.write_all(&buf)?;
        }
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&tmp, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Reads a float16 2-D `.npy` written by [`write_npy_f16`]: `((rows, dim), values as f32)`.
pub fn read_npy_f16(path: &Path) -> Result<((usize, usize), Vec<f32>)> {
    let bad = |m: &str| Error::InvalidInput(format!("{}: {m}", path.display()));
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file"));
    }
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(
        bytes
            .get(10..10 + hlen)
            .ok_or_else(|| bad("short header"))?,
    )
    .map_err(|_| bad("header is not text"))?;
    if !header.contains("'<f2'") {
        return Err(bad("not a float16 array"));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let (rows, dim) = match dims[..] {
        [r, d] => (r, d),
        _ => return Err(bad("not a 2-D array")),
    };
    let data = &bytes[10 + hlen..];
    if data.len() != rows * dim * 2 {
        return Err(bad("data size does not match the shape"));
    }
    let values = data
        .chunks_exact(2)
        .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect();
    Ok(((rows, dim), values))
}
