//! float16 `.npy` files (clip-retrieval's embedding layout), written atomically ([`crate::atomic`]): to
//! `{name}.tmp`, fsynced, renamed. Written by hand rather than through `Tensor::write_npy` so the file can be synced
//! before the rename and a failure removes the temporary file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use half::f16;

use crate::atomic::AtomicFile;
use crate::{Error, Result};

/// Writes `data` (`rows x dim` f32, row-major) as a float16 `(rows, dim)` array.
pub fn write_npy_f16(path: &Path, rows: usize, dim: usize, data: &[f32]) -> Result<()> {
    if rows.checked_mul(dim) != Some(data.len()) {
        return Err(Error::InvalidInput(format!(
            "{}: {} values for a ({rows}, {dim}) array",
            path.display(),
            data.len()
        )));
    }
    let (atomic, mut w) = AtomicFile::create(path)?;
    let result = (|w: &mut BufWriter<File>| -> std::io::Result<()> {
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
        Ok(())
    })(&mut w);
    // On an error the guard's drop removes the temporary file.
    result.map_err(|e| Error::output(atomic.tmp(), e))?;
    atomic.commit(w)
}

/// Reads a float16 2-D `.npy` written by [`write_npy_f16`]: `((rows, dim), values as f32)`. The header
/// is checked against the file's length before the data is read ([`viclip::npy`]).
pub fn read_npy_f16(path: &Path) -> Result<((usize, usize), Vec<f32>)> {
    let bad = |m: &str| Error::InvalidInput(format!("{}: {m}", path.display()));
    let (h, values) = viclip::npy::read_npy_f32(path)?;
    if h.dtype != viclip::npy::NpyDType::F16 {
        return Err(bad("not a float16 array"));
    }
    match h.shape[..] {
        [r, d] => Ok(((r, d), values)),
        _ => Err(bad("not a 2-D array")),
    }
}
