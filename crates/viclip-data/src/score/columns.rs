//! Which columns of a clip table describe the clip, and where its video files are.

use std::path::{Path, PathBuf};

/// Extensions tried, in this order, when a row's video file does not exist under its own name
/// (InternVid's ids come without one; downloads end up as mp4, webm or mkv).
pub const VIDEO_EXTENSIONS: [&str; 6] = ["mp4", "webm", "mkv", "mov", "m4v", "avi"];

/// The files a table's video name may be, in the order they are tried: the name itself (resolved
/// against `root` when relative), then its stem with each of [`VIDEO_EXTENSIONS`] (InternVid's
/// `{YoutubeID}.mp4` may have been downloaded as `.webm`). The `score` job and `viclip view` both
/// find a row's video through it.
pub fn video_candidates(root: &std::path::Path, name: &str) -> Vec<std::path::PathBuf> {
    let p = std::path::Path::new(name);
    let p = if p.is_relative() {
        root.join(p)
    } else {
        p.to_path_buf()
    };
    let known = p
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    let base = if known {
        p.with_extension("")
    } else {
        p.clone()
    };
    let mut out = vec![p];
    for ext in VIDEO_EXTENSIONS {
        let mut c = base.clone().into_os_string();
        c.push(".");
        c.push(ext);
        out.push(c.into());
    }
    out
}

/// Where a row's video file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoLocator {
    /// A column holding the path (relative paths are joined to the video root).
    Column(String),
    /// A file name built from columns: `{YoutubeID}.mp4` (InternVid's default).
    Pattern(String),
}

/// Which columns of a table describe the clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// How each row names its video file: a path column or a file-name pattern over columns.
    pub video: VideoLocator,
    /// Directory that relative paths are resolved against; `None`: the table's directory (its
    /// parent for a table file, the directory itself for a directory of table files), so a table
    /// that lists videos beside it works from any working directory.
    pub video_root: Option<PathBuf>,
    /// Column holding the caption that CLIP-SIM compares the clip with; null or empty is `bad_caption`.
    pub caption: String,
    /// Start and end of the clip (seconds, `MM:SS(.mmm)` or `HH:MM:SS(.mmm)`); none: the whole file.
    pub start: Option<String>,
    /// Column of the clip's end (same formats as `start`); `None`: the clip runs to the end of the file.
    pub end: Option<String>,
    /// A video2dataset `clips` column (`[[start, end]]`) instead of start / end; exactly one span per
    /// row (rows in = rows out), so a row listing several is reported as `bad_span`.
    pub clips: Option<String>,
}

impl Columns {
    /// The directory relative video paths of the table at `table` resolve against:
    /// [`Columns::video_root`], else the table's directory.
    pub fn root_for(&self, table: &Path) -> PathBuf {
        if let Some(r) = &self.video_root {
            return r.clone();
        }
        if table.is_dir() {
            return table.to_path_buf();
        }
        match table.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// InternVid's annotation files: `{YoutubeID}.mp4` under `video_root`, `Caption`,
    /// `Start_timestamp`, `End_timestamp`.
    pub fn internvid(video_root: Option<PathBuf>) -> Self {
        Columns {
            video: VideoLocator::Pattern("{YoutubeID}.mp4".into()),
            video_root,
            caption: "Caption".into(),
            start: Some("Start_timestamp".into()),
            end: Some("End_timestamp".into()),
            clips: None,
        }
    }
}
