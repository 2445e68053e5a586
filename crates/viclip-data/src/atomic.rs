//! Files that appear complete or not at all: written under `{name}.tmp` beside the final path,
//! fsynced, then renamed into place. A write that fails or is abandoned (the [`AtomicFile`] dropped
//! before [`AtomicFile::commit`]) removes the temporary file, so a partial file is never mistaken for
//! output. Every output of this crate that is not streamed through a format writer goes through here.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// `{path}.tmp`: where a file is written before it is renamed into place.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// A file being written under [`tmp_path`] of its final path.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    done: bool,
}

impl AtomicFile {
    /// Creates the temporary file; returns the guard and a 1 MiB buffered writer into it.
    pub fn create(path: &Path) -> Result<(Self, BufWriter<File>)> {
        let tmp = tmp_path(path);
        let f = File::create(&tmp).map_err(|e| Error::output(&tmp, e))?;
        let a = AtomicFile {
            path: path.to_path_buf(),
            tmp,
            done: false,
        };
        Ok((a, BufWriter::with_capacity(1 << 20, f)))
    }

    /// The temporary path (for error messages about writes into it).
    pub fn tmp(&self) -> &Path {
        &self.tmp
    }

    /// Flushes `w`, syncs the file and renames it to the final path.
    pub fn commit(mut self, w: BufWriter<File>) -> Result<()> {
        let f = w
            .into_inner()
            .map_err(|e| Error::output(&self.tmp, e.into_error()))?;
        f.sync_all().map_err(|e| Error::output(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::output(&self.path, e))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` through a synced temporary file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let (a, mut w) = AtomicFile::create(path)?;
    w.write_all(bytes).map_err(|e| Error::output(a.tmp(), e))?;
    a.commit(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_renames_and_drop_removes_the_temporary() {
        let dir = std::env::temp_dir().join(format!("viclip-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tempdir");
        let out = dir.join("a.json");
        write_atomic(&out, b"{}").expect("write");
        assert_eq!(std::fs::read(&out).expect("read"), b"{}");
        assert!(!tmp_path(&out).exists());

        let other = dir.join("b.bin");
        let (a, mut w) = AtomicFile::create(&other).expect("create");
        w.write_all(b"partial").expect("write");
        assert!(tmp_path(&other).exists());
        drop((a, w));
        assert!(!tmp_path(&other).exists() && !other.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
