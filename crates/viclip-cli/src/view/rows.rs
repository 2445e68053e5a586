//! The cells of the rows a page shows, read from their shard (every column but the embeddings),
//! with the last few shards' rows cached; and where a row's video file is, confined to the video root.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use viclip_data::score::video_candidates;
use viclip_data::table::{f64_values, ReadOptions, StrColumn, Table};

use super::error::{ViewError, ViewResult};
use super::layout::{Layout, VideoName};

/// One clip as a card shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Clip {
    /// The clip id: its row in the table (shard `id / shard_size`).
    pub id: u64,
    /// The caption.
    pub caption: Option<String>,
    /// The video as the row names it (relative to the video root), `None` for webdataset rows.
    pub video: Option<String>,
    /// The span's start cell, as written.
    pub start: Option<String>,
    /// The span's end cell (or the `clips` cell), as written.
    pub end: Option<String>,
    /// `viclip_sim`.
    pub viclip_sim: Option<f64>,
    /// `aesthetic`.
    pub aesthetic: Option<f64>,
    /// `status`.
    pub status: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `warning`.
    pub warning: Option<String>,
    /// `video_color`.
    pub video_color: Option<String>,
}

/// Shards whose rows are kept in memory.
const CACHED_SHARDS: usize = 8;

/// Reads rows from the shards, caching the last 8 shards read.
pub struct Rows {
    layout: Arc<Layout>,
    cache: Mutex<VecDeque<(u64, Arc<Vec<Clip>>)>>,
}

fn strings(b: &viclip_data::table::RowBatch, name: Option<&str>) -> Vec<Option<String>> {
    let col = name.and_then(|n| StrColumn::new(b, n).ok());
    (0..b.num_rows())
        .map(|i| col.as_ref().and_then(|c| c.get(i)).map(String::from))
        .collect()
}

impl Rows {
    /// Rows of the run laid out as `layout`.
    pub fn new(layout: Arc<Layout>) -> Self {
        Rows {
            layout,
            cache: Mutex::new(VecDeque::new()),
        }
    }

    /// Every row of shard `k`.
    pub fn shard(&self, k: u64) -> ViewResult<Arc<Vec<Clip>>> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| ViewError::Internal("row cache poisoned".into()))?;
        if let Some((_, v)) = cache.iter().find(|(s, _)| *s == k) {
            return Ok(v.clone());
        }
        drop(cache);
        let rows = Arc::new(self.read(k)?);
        cache = self
            .cache
            .lock()
            .map_err(|_| ViewError::Internal("row cache poisoned".into()))?;
        cache.push_front((k, rows.clone()));
        cache.truncate(CACHED_SHARDS);
        Ok(rows)
    }

    /// The clip `id` (its shard must be complete: the caller checks with the index).
    pub fn clip(&self, id: u64) -> ViewResult<Clip> {
        let k = id / self.layout.shard_size;
        let rows = self.shard(k)?;
        rows.get((id % self.layout.shard_size) as usize)
            .cloned()
            .ok_or_else(|| {
                ViewError::NotFound(format!("clip {id}: shard {k} has {} rows", rows.len()))
            })
    }

    fn read(&self, k: u64) -> ViewResult<Vec<Clip>> {
        let l = &self.layout;
        let path = l.shard_path(k);
        let table = Table::open(&path)?;
        let names = table.column_names()?;
        let present = |c: Option<&String>| c.filter(|c| names.contains(c)).cloned();
        let mut out = Vec::new();
        for b in table.batches(&ReadOptions::default()) {
            let b = b?;
            let n = b.num_rows();
            let num = |c: &str| -> ViewResult<Vec<Option<f64>>> {
                Ok(if names.iter().any(|x| x == c) {
                    f64_values(&b, c)?
                } else {
                    vec![None; n]
                })
            };
            let (sim, aes) = (num("viclip_sim")?, num("aesthetic")?);
            let caption = strings(&b, present(Some(&l.caption)).as_deref());
            let start = strings(&b, present(l.start.as_ref()).as_deref());
            let end = strings(&b, present(l.end.as_ref().or(l.clips.as_ref())).as_deref());
            let video = self.video_names(&b, &names);
            let [status, error, warning, color] = ["status", "error", "warning", "video_color"]
                .map(|c| strings(&b, present(Some(&c.to_string())).as_deref()));
            for i in 0..n {
                out.push(Clip {
                    id: k * l.shard_size + out.len() as u64,
                    caption: caption[i].clone(),
                    video: video[i].clone(),
                    start: start[i].clone(),
                    end: end[i].clone(),
                    viclip_sim: sim[i],
                    aesthetic: aes[i],
                    status: status[i].clone(),
                    error: error[i].clone(),
                    warning: warning[i].clone(),
                    video_color: color[i].clone(),
                });
            }
        }
        Ok(out)
    }

    /// Each row's video name: the path column's cell, or the pattern with its `{column}`s filled.
    fn video_names(
        &self,
        b: &viclip_data::table::RowBatch,
        names: &[String],
    ) -> Vec<Option<String>> {
        let n = b.num_rows();
        match &self.layout.video {
            None => vec![None; n],
            Some(VideoName::Column(c)) => strings(b, names.contains(c).then_some(c.as_str())),
            Some(VideoName::Pattern(p)) => {
                let fields: Vec<(String, Vec<Option<String>>)> = pattern_fields(p)
                    .into_iter()
                    .map(|f| {
                        let v = strings(b, names.contains(&f).then_some(f.as_str()));
                        (f, v)
                    })
                    .collect();
                (0..n)
                    .map(|i| {
                        fields.iter().try_fold(p.clone(), |acc, (f, v)| {
                            Some(acc.replace(&format!("{{{f}}}"), v[i].as_deref()?))
                        })
                    })
                    .collect()
            }
        }
    }
}

fn pattern_fields(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = p;
    while let Some(a) = rest.find('{') {
        let Some(b) = rest[a..].find('}') else { break };
        out.push(rest[a + 1..a + b].to_string());
        rest = &rest[a + b + 1..];
    }
    out
}

/// The file of clip `c`, as `viclip score` found it (the name, else the name with each of
/// [`viclip_data::score::VIDEO_EXTENSIONS`]), only if it is a regular file whose real path (symbolic links followed)
/// lies under the real video root.
pub fn video_file(layout: &Layout, c: &Clip) -> ViewResult<PathBuf> {
    let id = c.id;
    let name = c.video.as_deref().ok_or_else(|| {
        ViewError::NotFound(format!(
            "clip {id}: the row names no video file (webdataset rows keep theirs in the tar)"
        ))
    })?;
    let root = layout.video_root.as_deref().ok_or_else(|| {
        ViewError::NotFound(format!(
            "clip {id}: the run recorded no video root; pass --video-root"
        ))
    })?;
    let real_root = std::fs::canonicalize(root).map_err(|e| {
        ViewError::NotFound(format!(
            "video root {}: {e}; pass --video-root where the videos are now",
            root.display()
        ))
    })?;
    for cand in video_candidates(root, name) {
        let Ok(real) = std::fs::canonicalize(&cand) else {
            continue;
        };
        if !real.starts_with(&real_root) {
            return Err(ViewError::Forbidden(format!(
                "clip {id}: {} is outside the video root {}; the viewer serves only files under it \
                 (pass --video-root to widen it)",
                cand.display(),
                real_root.display()
            )));
        }
        if real.is_file() {
            return Ok(real);
        }
    }
    Err(ViewError::NotFound(format!(
        "clip {id}: {} not found under {}",
        name,
        root.display()
    )))
}
