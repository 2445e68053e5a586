//! Checks before a run starts: mistakes in `--out` and `--video-root` are refused up front, each with
//! one message, instead of surfacing as thousands of failed rows or a half-written directory.

use std::path::{Component, Path, PathBuf};

use super::input::Input;
use crate::{Error, Result, Setting};

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

/// Refuses an output directory that is an existing file, the input directory or inside it, the
/// root, a top-level system directory or the home directory, or that cannot be created; creates it
/// otherwise.
pub(crate) fn check_out(out: &Path, input: &Input) -> Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(Error::setting(
            Setting::OutputDir,
            out.display(),
            "an existing file, not a directory; name a new directory or the one of an earlier run \
             of the same job",
        ));
    }
    let o = resolved(out);
    for d in input_dirs(input) {
        let d = resolved(&d);
        if o == d || o.starts_with(&d) {
            return Err(Error::setting(
                Setting::OutputDir,
                out.display(),
                format!(
                    "is {} {}; the shards would be read as input on the next run: choose a \
                     directory outside it",
                    if o == d {
                        "the input directory"
                    } else {
                        "inside the input directory"
                    },
                    d.display()
                ),
            ));
        }
    }
    if let Input::Table { path, .. } = input {
        if resolved(path) == o {
            return Err(Error::setting(
                Setting::OutputDir,
                out.display(),
                "is the input table; choose another directory",
            ));
        }
    }
    if let Some(why) = system_dir(&o) {
        return Err(Error::setting(
            Setting::OutputDir,
            out.display(),
            format!(
                "{why}; a run writes its shards, records and temporary files into the output \
                 directory, so give it a directory of its own (e.g. {})",
                o.join("viclip-out").display()
            ),
        ));
    }
    // Writability is probed by the run's temporary directory, created right after this check.
    std::fs::create_dir_all(out).map_err(|e| Error::output(out, e))
}

/// Top-level directories of the system that no run may use as its output directory.
const SYSTEM_DIRS: &[&str] = &[
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/opt", "/proc", "/root",
    "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/Users", "/System", "/Library",
];

/// Why the resolved output directory `o` is a system directory: the root, a top-level system
/// directory, or the user's home directory itself (their subdirectories are fine).
fn system_dir(o: &Path) -> Option<String> {
    if o.parent().is_none() {
        return Some("the file system's root".into());
    }
    if SYSTEM_DIRS.iter().any(|d| o == Path::new(d)) {
        return Some("a system directory".into());
    }
    let home = std::env::var_os("HOME").map(|h| resolved(Path::new(&h)));
    if home.is_some_and(|h| h == o && h.parent().is_some()) {
        return Some("the home directory itself".into());
    }
    None
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
        Ok(_) => Err(Error::setting(
            Setting::VideoRoot,
            root.display(),
            "not a directory",
        )),
        Err(e) => Err(Error::setting(
            Setting::VideoRoot,
            root.display(),
            format!("{e}; relative video paths are resolved against it"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_roots_are_not_output_directories() {
        for d in ["/", "/usr", "/etc", "/tmp", "/home"] {
            assert!(system_dir(&resolved(Path::new(d))).is_some(), "{d}");
        }
        for d in ["/tmp/run", "/home/someone/out", "/srv/data/out"] {
            assert!(system_dir(Path::new(d)).is_none(), "{d}");
        }
    }
}
