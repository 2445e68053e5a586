//! File formats the CLI reads and writes: `{"text": ...}` JSON lines, `.npy` arrays.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Tensor};

/// Reads the `text` field of every non-blank line of a JSON-lines file. Errors name the file and line.
pub fn read_texts(path: &Path) -> Result<Vec<String>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let mut texts = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let lineno = i + 1;
        let line =
            line.with_context(|| format!("{}:{lineno}: cannot read (not UTF-8?)", path.display()))?;
        // A UTF-8 byte order mark before the first line is not part of it.
        let line = match line.strip_prefix('\u{feff}') {
            Some(rest) if lineno == 1 => rest.to_string(),
            _ => line,
        };
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
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
