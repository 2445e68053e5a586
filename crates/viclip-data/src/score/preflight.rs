//! Checks before a run starts: mistakes in `--out` and `--video-root` are refused up front, each with
//! one message, instead of surfacing as thousands of failed rows or a half-written directory.

use std::path::{Component, Path, PathBuf};

use super::input::Input;
use viclip::{Error, Result};

/// `path` made absolute with `..` and `.` resolved and symlinks of its existing part followed, so
/// two spellings of one directory compare equal even before it exists.
fn resolved(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(n), Some(p)) => {
                rest.push(n);
                existing = p.to_path_buf();
            }
            _ => break,
        }
    }
    let mut out = std::fs::canonicalize(&existing).unwrap_or(existing);
    for c in rest.iter().rev() {
        match Path::new(c).components().next() {
            Some(Component::ParentDir) => {
                out.pop();
            }
            Some(Component::CurDir) => {}
            _ => out.push(c),
        }
    }
    out
}

/// The directories the input is read from as a whole (a table directory, a directory of tars).
fn input_dirs(input: &Input) -> Vec<PathBuf> {
    match input {
        Input::Table { path, .. } if path.is_dir() => vec![path.clone()],
        Input::Table { .. } => Vec::new(),
        Input::WebDataset { tars } if tars.len() > 1 => tars
            .first()
            .and_then(|t| t.parent())
            .map(|p| vec![p.to_path_buf()])
            .unwrap_or_default(),
        Input::WebDataset { .. } => Vec::new(),
    }
}

/// Refuses an output directory that is an existing file, the input directory or inside it, or that cannot be
/// created or written to; creates it otherwise.
pub(crate) fn check_out(out: &Path, input: &Input) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::InvalidInput(format!(
            "ScoreOptions::out {}: an existing file, not a directory; ScoreOptions::out names a new \
             directory or the one of an earlier run of the same job",
            out.display()
        )));
    }
    let o = resolved(out);
    for d in input_dirs(input) {
        let d = resolved(&d);
        if o == d || o.starts_with(&d) {
            return Err(Error::InvalidInput(format!(
                "ScoreOptions::out {} is {} {}; the shards would be read as input on the next run: choose a \
                 directory outside it",
                out.display(),
                if o == d {
                    "the input directory"
                } else {
                    "inside the input directory"
                },
                d.display()
            )));
        }
    }
    if let Input::Table { path, .. } = input {
        if resolved(path) == o {
            return Err(Error::InvalidInput(format!(
                "ScoreOptions::out {} is the input table; choose another directory",
                out.display()
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::output(out, e))?;
    // Probed where temporary files go anyway, so a probe left by a killed process is swept.
    let probe = out
        .join(".tmp")
        .join(format!("probe-{}", std::process::id()));
    match std::fs::create_dir_all(out.join(".tmp")).and_then(|_| std::fs::write(&probe, b"")) {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(Error::output(out, e)),
    }
}

/// Refuses a video root that does not exist or is not a directory (a typo would otherwise fail
/// every row with `missing_video` and mark every shard complete).
pub(crate) fn check_video_root(input: &Input) -> Result<()> {
    let Input::Table { columns, .. } = input else {
        return Ok(());
    };
    let Some(root) = &columns.video_root else {
        return Ok(());
    };
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::InvalidInput(format!(
            "Columns::video_root {}: not a directory",
            root.display()
        ))),
        Err(e) => Err(Error::Io {
            path: root.to_path_buf(),
            source: std::io::Error::new(
                e.kind(),
                format!(
                    "{e}; check Columns::video_root (relative video paths are resolved against it)"
                ),
            ),
        }),
    }
}
