//! Frames that are already decoded: a directory of images (one file per frame) or raw RGB u8 arrays,
//! through the same sampling, resize and normalisation as decoded video ([`crate::preprocess`]).
//!
//! A directory's frames are its `png` / `jpg` / `jpeg` files (case-insensitive extension; other files
//! are ignored) in natural name order: digit runs compare as numbers, so `f2.png` comes before
//! `f10.png`, and zero-padded names sort as plain text would. Only the sampled files are read. PNG
//! frames are exact; JPEG decoding (the `image` crate) can differ from OpenCV's libjpeg by a few LSB.
//! Alpha is dropped, grey is replicated to RGB, 16-bit images are reduced to 8 bits.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use crate::preprocess::{Preprocess, ProcessedClip, RgbFrame};
use crate::{Error, Result};

// Where the commands have taken it from; it lives with the other user-path checks in fsutil.
pub use crate::fsutil::check_regular_file;

/// How a directory clip is named in errors and output rows (it has no time span).
pub const DIR_SPAN: &str = "all frames";

/// The frame files of a directory, in frame order.
#[derive(Debug, Clone)]
pub struct FramesDir {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl FramesDir {
    /// Lists the image files of `dir`. Fails when `dir` is missing, unreadable or holds no image.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let err = |msg: String| Error::Decode {
            path: dir.to_path_buf(),
            span: DIR_SPAN.into(),
            msg,
        };
        if !dir.is_dir() {
            return Err(err(
                "not a directory; frames come from a directory of png/jpg frames".into(),
            ));
        }
        let rd =
            std::fs::read_dir(dir).map_err(|e| err(format!("cannot list the directory ({e})")))?;
        let mut files = Vec::new();
        for entry in rd {
            let p = entry
                .map_err(|e| err(format!("cannot list the directory ({e})")))?
                .path();
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            if p.is_file() && matches!(ext.as_deref(), Some("png" | "jpg" | "jpeg")) {
                files.push(p);
            }
        }
        if files.is_empty() {
            return Err(err("holds no .png/.jpg/.jpeg frame".into()));
        }
        files.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
        Ok(FramesDir {
            dir: dir.to_path_buf(),
            files,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The frame files, in frame order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Number of frame files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether the directory holds no frame files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads frame `i` as RGB.
    pub fn load(&self, i: usize) -> Result<RgbFrame> {
        let path = self.files.get(i).ok_or_else(|| Error::Decode {
            path: self.dir.clone(),
            span: DIR_SPAN.into(),
            msg: format!(
                "frame {i} requested but the directory holds {}",
                self.files.len()
            ),
        })?;
        // Without the codecs, say which feature decodes the file rather than "unsupported format".
        #[cfg(not(feature = "image"))]
        return Err(Error::Decode {
            path: path.clone(),
            span: format!("frame {i} of {}", self.dir.display()),
            msg: "decoding PNG/JPEG frames needs viclip's `image` feature".into(),
        });
        #[cfg(feature = "image")]
        let img = image::open(path).map_err(|e| Error::Decode {
            path: path.clone(),
            span: format!("frame {i} of {}", self.dir.display()),
            msg: format!("cannot decode the image ({e}); frames must be PNG or JPEG files"),
        })?;
        #[cfg(feature = "image")]
        {
            let rgb = img.to_rgb8();
            let (w, h) = (rgb.width() as usize, rgb.height() as usize);
            RgbFrame::new(w, h, rgb.into_raw())
        }
    }

    /// Reads every frame.
    pub fn load_all(&self) -> Result<Vec<RgbFrame>> {
        (0..self.len()).map(|i| self.load(i)).collect()
    }

    /// Samples, reads only the sampled files, resizes and normalises.
    pub fn preprocess(&self, p: &Preprocess) -> Result<ProcessedClip> {
        let indices = p.sample(self.len(), &self.dir, DIR_SPAN)?;
        // Repeated indices (middle / uniform on short clips) are read once.
        let mut cache: Vec<Option<RgbFrame>> = vec![None; self.len()];
        let mut frames = Vec::with_capacity(indices.len());
        for &i in &indices {
            let f = match &cache[i] {
                Some(f) => f.clone(),
                None => {
                    let f = self.load(i)?;
                    cache[i] = Some(f.clone());
                    f
                }
            };
            frames.push(f);
        }
        Ok(ProcessedClip {
            pixels: p.process_sampled(&frames)?,
            num_source_frames: self.len(),
            indices,
        })
    }
}

/// Preprocesses a clip held as raw RGB frames (e.g. the golden `frames_rgb_u8`); `name` only labels
/// errors.
pub fn preprocess_frames(frames: &[RgbFrame], name: &str, p: &Preprocess) -> Result<ProcessedClip> {
    p.process_all(frames, name, DIR_SPAN)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Natural order: runs of ASCII digits compare by value (then by length, so `01` < `1` stays stable),
/// everything else byte by byte.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (da, db) = (trim_zeros(&a[si..i]), trim_zeros(&b[sj..j]));
            let ord = da
                .len()
                .cmp(&db.len())
                .then(da.cmp(db))
                .then((i - si).cmp(&(j - sj)).reverse());
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let k = d.iter().position(|&c| c != b'0').unwrap_or(d.len());
    &d[k..]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec![
            "f10.png", "f2.png", "f1.png", "a.png", "f02.png", "f001.png",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            ["a.png", "f001.png", "f1.png", "f02.png", "f2.png", "f10.png"]
        );
        let mut z = vec!["000012.jpg", "000003.jpg", "000100.jpg"];
        z.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(z, ["000003.jpg", "000012.jpg", "000100.jpg"]);
    }
}
