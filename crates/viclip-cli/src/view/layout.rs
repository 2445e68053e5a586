//! What the run recorded about itself (`OUT/run.json`, the run identity): which columns hold the
//! caption, the video and the span, where the videos are, how frames were sampled and resized, the
//! model and whether embeddings and aesthetic scores were written.

use std::path::{Path, PathBuf};

use serde_json::Value;
use viclip::preprocess::Preprocess;
use viclip::ViClipConfig;

use super::error::{ViewError, ViewResult};

/// How a row names its video file (the identity's `input.format.table.video`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoName {
    /// A column holding the path.
    Column(String),
    /// A file name built from columns, e.g. `{YoutubeID}.mp4`.
    Pattern(String),
}

/// The run's layout, from `run.json`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The run's output directory.
    pub out: PathBuf,
    /// The caption column (`caption` for webdataset input).
    pub caption: String,
    /// How rows name their videos; `None` for webdataset input (videos inside tars are not served).
    pub video: Option<VideoName>,
    /// Span columns: start and end, or a video2dataset `clips` column.
    pub start: Option<String>,
    /// The end column.
    pub end: Option<String>,
    /// The `clips` column.
    pub clips: Option<String>,
    /// Directory relative video paths resolve against (`--video-root` of `view`, else the run's).
    pub video_root: Option<PathBuf>,
    /// The model's frame sampling, resize, `T` and `S`.
    pub preprocess: Preprocess,
    /// The model's config as recorded.
    pub config: Option<ViClipConfig>,
    /// The checkpoint's sha256 as recorded.
    pub weights_sha256: Option<String>,
    /// The checkpoint's path as recorded (it may have moved since).
    pub weights_path: Option<PathBuf>,
    /// `--embeddings` was given: `video_emb/` and `text_emb/` exist for complete shards.
    pub embeddings: bool,
    /// An aesthetic scorer was given: the `aesthetic` column holds scores.
    pub aesthetic: bool,
    /// Rows per shard.
    pub shard_size: u64,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// `Column("path")` / `Pattern("{YoutubeID}.mp4")`, as the identity spells the locator.
fn parse_locator(s: &str) -> Option<VideoName> {
    let inner = |p: &str| {
        let body = s.strip_prefix(p)?.strip_suffix(')')?;
        serde_json::from_str::<String>(body).ok()
    };
    inner("Column(")
        .map(VideoName::Column)
        .or_else(|| inner("Pattern(").map(VideoName::Pattern))
}

impl Layout {
    /// Reads `out/run.json`; `video_root` overrides the recorded root (videos moved since).
    pub fn read(out: &Path, video_root: Option<PathBuf>) -> ViewResult<Layout> {
        let path = out.join("run.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ViewError::NotFound(format!(
                "{}: {e}; pass the output directory of `viclip score` (it writes run.json when \
                 its first process starts)",
                path.display()
            ))
        })?;
        let id: Value = serde_json::from_str(&text)
            .map_err(|e| ViewError::Internal(format!("{}: not JSON ({e})", path.display())))?;
        let preprocess: Preprocess = serde_json::from_value(id["preprocess"].clone())
            .map_err(|e| ViewError::Internal(format!("{}: `preprocess`: {e}", path.display())))?;
        let table = id.pointer("/input/format/table");
        let col = |k: &str| {
            table
                .and_then(|t| t.get(k))
                .and_then(Value::as_str)
                .map(String::from)
        };
        let video = match table {
            Some(t) => Some(
                t.get("video")
                    .and_then(Value::as_str)
                    .and_then(parse_locator)
                    .ok_or_else(|| {
                        ViewError::Internal(format!(
                            "{}: `input.format.table.video` is not a column or a pattern",
                            path.display()
                        ))
                    })?,
            ),
            None => None,
        };
        let recorded_root = str_at(&id, &["video_root"]).map(PathBuf::from);
        Ok(Layout {
            // Absolute, so that the `viclip subset` commands shown work from any directory.
            out: std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf()),
            caption: col("caption").unwrap_or_else(|| "caption".into()),
            video,
            start: col("start"),
            end: col("end"),
            clips: col("clips"),
            video_root: video_root.or(recorded_root),
            preprocess,
            config: serde_json::from_value(id["config"].clone()).ok(),
            weights_sha256: str_at(&id, &["weights", "sha256"]).map(String::from),
            weights_path: str_at(&id, &["weights", "path"]).map(PathBuf::from),
            embeddings: id["embeddings"].as_bool().unwrap_or(false),
            aesthetic: !id["aesthetic"].is_null(),
            shard_size: id["shard_size"]
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ViewError::Internal(format!("{}: no positive `shard_size`", path.display()))
                })?,
        })
    }

    /// The shard parquet of shard `k`.
    pub fn shard_path(&self, k: u64) -> PathBuf {
        self.out.join(format!("{k:05}.parquet"))
    }

    /// The video embeddings of shard `k`.
    pub fn video_emb_path(&self, k: u64) -> PathBuf {
        self.out
            .join("video_emb")
            .join(format!("video_emb_{k:05}.npy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locators_parse() {
        assert_eq!(
            parse_locator(r#"Column("path")"#),
            Some(VideoName::Column("path".into()))
        );
        assert_eq!(
            parse_locator(r#"Pattern("{YoutubeID}.mp4")"#),
            Some(VideoName::Pattern("{YoutubeID}.mp4".into()))
        );
        assert_eq!(parse_locator("Other"), None);
    }
}
