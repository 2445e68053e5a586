//! File formats the CLI reads and writes: `{"text": ...}` JSON lines, `.npy` arrays.

use std::io::BufReader;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Tensor};
use viclip::fsutil::{read_line_bounded, LineRead};
use viclip::limits::MAX_LINE_BYTES;

/// Reads the `text` field of every non-blank line of a JSON-lines file. Errors name the file and line.
/// Only a regular file is read (a FIFO or a device is refused by name), and a line longer than
/// [`viclip::limits::MAX_LINE_BYTES`] is an error rather than an allocation of its size.
pub fn read_texts(path: &Path) -> Result<Vec<String>> {
    let file = viclip::fsutil::open_regular(path, "a JSON-lines file of texts")
        .map_err(|e| anyhow!("{}: {}", path.display(), e.message()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut texts = Vec::new();
    let mut buf = Vec::new();
    let mut lineno = 0u64;
    loop {
        let read = read_line_bounded(&mut reader, &mut buf, MAX_LINE_BYTES)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        lineno += 1;
        match read {
            LineRead::Eof => break,
            LineRead::TooLong => bail!(
                "{}:{lineno}: the line is longer than {MAX_LINE_BYTES} bytes, the most one text may \
                 hold (docs/limits.md); each line must be {{\"text\": \"...\"}}",
                path.display()
            ),
            LineRead::Line => {}
        }
        let line = std::str::from_utf8(&buf)
            .map_err(|_| anyhow!("{}:{lineno}: cannot read (not UTF-8?)", path.display()))?;
        // A UTF-8 byte order mark before the first line is not part of it.
        let line = match line.strip_prefix('\u{feff}') {
            Some(rest) if lineno == 1 => rest,
            _ => line,
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            anyhow!(
                "{}:{lineno}: not a JSON object ({e}); each line must be {{\"text\": \"...\"}}",
                path.display()
            )
        })?;
        match value.get("text") {
            Some(serde_json::Value::String(s)) => texts.push(s.clone()),
            Some(_) => bail!("{}:{lineno}: \"text\" is not a string", path.display()),
            None => bail!(
                "{}:{lineno}: no \"text\" field; each line must be {{\"text\": \"...\"}}",
                path.display()
            ),
        }
    }
    Ok(texts)
}

/// Reads a float `.npy` array (C order) as f32. The header's shape is checked against the file's
/// length before anything is allocated.
pub fn read_npy(path: &Path) -> Result<Tensor> {
    // A FIFO or a device would block or read forever: refused by name before opening.
    if let Err(m) = viclip::frames::check_regular_file(path, "a .npy file") {
        bail!("{}: {m}", path.display());
    }
    let (h, values) = viclip::npy::read_npy_f32(path)?;
    Ok(Tensor::from_vec(
        values,
        h.shape,
        &candle_core::Device::Cpu,
    )?)
}

/// Writes `t` as float32 `.npy`, through a temporary file renamed into place so a reader never sees a
/// partial file.
pub fn write_npy(t: &Tensor, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create directory", dir.display()))?;
    }
    // candle writes the file itself, so the temporary name comes from the shared helper but the
    // cleanup is done here.
    let tmp = viclip_data::atomic::tmp_path(path);
    let t = t
        .to_dtype(DType::F32)?
        .to_device(&candle_core::Device::Cpu)?;
    if let Err(e) = t.write_npy(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow!("{}: cannot write ({e})", tmp.display()));
    }
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{}: cannot rename into place", path.display()))?;
    Ok(())
}
