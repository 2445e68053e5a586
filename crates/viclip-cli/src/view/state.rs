//! The server's shared state: the run's layout, its index (reloaded when more shards of a running
//! run complete), the row reader, the strip cache and the search model.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use viclip::ViClip;

use super::error::{ViewError, ViewResult};
use super::frames::StripCache;
use super::index::Index;
use super::layout::Layout;
use super::rows::Rows;

/// How often a run that is not complete is checked for newly completed shards.
const REFRESH: Duration = Duration::from_secs(2);

/// Where the search model comes from.
#[derive(Debug, Clone)]
pub enum ModelSource {
    /// The checkpoint the run recorded, if it is still at its recorded path with the recorded hash.
    Recorded,
    /// This checkpoint (its sha256 must equal the run's), with this config (default: the run's).
    Files {
        /// The checkpoint.
        weights: PathBuf,
        /// A preset name or JSON config path.
        config: Option<String>,
    },
    /// No search.
    Off,
}

/// Everything the handlers share.
pub struct AppState {
    /// The run's layout.
    pub layout: Arc<Layout>,
    index: RwLock<Arc<Index>>,
    checked: Mutex<Instant>,
    /// Rows of the shards.
    pub rows: Rows,
    /// Thumbnail strips.
    pub strips: StripCache,
    /// At most two strips decode at once (each decode uses a thread).
    pub decode: tokio::sync::Semaphore,
    /// The text tower for search, or why search is off.
    pub model: Result<Arc<ViClip>, String>,
}

impl AppState {
    /// Opens the run in `out`.
    pub fn open(layout: Layout, model: Result<Arc<ViClip>, String>) -> ViewResult<AppState> {
        let layout = Arc::new(layout);
        let index = Index::load(&layout)?;
        Ok(AppState {
            rows: Rows::new(layout.clone()),
            layout,
            index: RwLock::new(Arc::new(index)),
            checked: Mutex::new(Instant::now()),
            strips: StripCache::default(),
            decode: tokio::sync::Semaphore::new(2),
            model,
        })
    }

    /// The index, reloaded first when the run was not complete, a check is due and the set of
    /// complete shards changed.
    pub fn index(&self) -> ViewResult<Arc<Index>> {
        let poisoned = || ViewError::Internal("index lock poisoned".into());
        let cur = self.index.read().map_err(|_| poisoned())?.clone();
        let running = cur.status.complete < cur.status.shards.len() as u64;
        if !running {
            return Ok(cur);
        }
        {
            let mut t = self.checked.lock().map_err(|_| poisoned())?;
            if t.elapsed() < REFRESH {
                return Ok(cur);
            }
            *t = Instant::now();
        }
        let now = viclip_data::score::status::status(&self.layout.out)
            .map_err(|e| ViewError::Internal(e.to_string()))?;
        if now.shards == cur.status.shards {
            return Ok(cur);
        }
        let fresh = Arc::new(Index::load(&self.layout)?);
        *self.index.write().map_err(|_| poisoned())? = fresh.clone();
        Ok(fresh)
    }
}

/// The sha256 of `path`, from the run's hash cache (`OUT/.hashes.json`, by real path, size and
/// modification time) when it has it, else computed.
pub fn weights_sha256(out: &Path, path: &Path) -> ViewResult<String> {
    let io = |e: std::io::Error| ViewError::NotFound(format!("{}: {e}", path.display()));
    let real = std::fs::canonicalize(path).map_err(io)?;
    let meta = std::fs::metadata(&real).map_err(io)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    let cached = std::fs::read(out.join(".hashes.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get(real.display().to_string()).cloned())
        .filter(|e| e["size"].as_u64() == Some(meta.len()) && e["mtime"].as_u64() == Some(mtime))
        .and_then(|e| e["sha256"].as_str().map(String::from));
    match cached {
        Some(s) => Ok(s),
        None => Ok(viclip::manifest::sha256_file(&real)?),
    }
}

/// Loads the search model `source` names, checked against the run: `Err(reason)` when search is
/// off; an error when weights given explicitly are not the run's.
pub fn load_model(
    layout: &Layout,
    source: &ModelSource,
    device: &str,
    dtype: &str,
) -> anyhow::Result<Result<Arc<ViClip>, String>> {
    if !layout.embeddings {
        return Ok(Err(
            "the run was scored without --embeddings: there are no video embeddings to search"
                .into(),
        ));
    }
    let (weights, config, explicit) = match source {
        ModelSource::Off => return Ok(Err("search is off (--no-search)".into())),
        ModelSource::Recorded => match &layout.weights_path {
            Some(p) if p.is_file() => (p.clone(), None, false),
            Some(p) => {
                return Ok(Err(format!(
                "the run's weights {} are not there any more; pass --weights (the same checkpoint)",
                p.display()
            )))
            }
            None => {
                return Ok(Err(
                    "the run recorded no weights file; pass --weights".into()
                ))
            }
        },
        ModelSource::Files { weights, config } => (weights.clone(), config.clone(), true),
    };
    let sha = weights_sha256(&layout.out, &weights)?;
    if let Some(want) = &layout.weights_sha256 {
        if *want != sha {
            let m = format!(
                "{}: sha256 {sha}, but the run was scored with weights of sha256 {want}; pass the \
                 run's own checkpoint to --weights (its query embeddings must match the stored \
                 video embeddings)",
                weights.display()
            );
            if explicit {
                anyhow::bail!(m);
            }
            return Ok(Err(m));
        }
    }
    let cfg = match (&config, &layout.config) {
        (Some(c), _) => viclip::ViClipConfig::from_name_or_path(c)?,
        (None, Some(c)) => c.clone(),
        (None, None) => anyhow::bail!("run.json records no model config; pass --config"),
    };
    let opts = viclip::LoadOptions::from_names(device, dtype)?;
    Ok(Ok(Arc::new(ViClip::from_files(&weights, &cfg, opts)?)))
}
