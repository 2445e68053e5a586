//! The in-memory index of a run: per row of every complete shard, its scores, status and duration
//! (16 bytes a row: 160 MB for 10 M rows), and the rows sorted by each score. Pages, histograms,
//! samples and threshold previews are computed from it; captions and the other cells of a page are
//! read from the shards only for the rows shown ([`super::rows`]).

use std::path::Path;

use viclip_data::score::status::{status, RunStatus, ShardState};
use viclip_data::table::{f64_values, seconds_values, ReadOptions, StrColumn, Table};

use super::error::{ViewError, ViewResult};
use super::layout::Layout;

/// One row's numbers. NaN: no value (a failed row has no score; a row without end has no duration).
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// `viclip_sim`.
    pub sim: f32,
    /// `aesthetic`.
    pub aes: f32,
    /// Seconds of the span (`end - start`).
    pub dur: f32,
    /// Index into [`Index::statuses`].
    pub status: u16,
}

/// A loaded (complete) shard: its rows are `keys[first .. first + rows]`.
#[derive(Debug, Clone, Copy)]
pub struct Loaded {
    /// Shard index.
    pub shard: u64,
    /// Position of its first row in [`Index::keys`].
    pub first: usize,
    /// Its rows.
    pub rows: usize,
}

/// The index of the complete shards of a run.
#[derive(Debug, Clone)]
pub struct Index {
    /// Where the run stands (shards complete, in flight, missing).
    pub status: RunStatus,
    /// The complete shards, in shard order.
    pub loaded: Vec<Loaded>,
    /// By shard index: position in `loaded`, if loaded.
    pub slot: Vec<Option<usize>>,
    /// Every loaded row, shard after shard.
    pub keys: Vec<Key>,
    /// Status names ([`Key::status`] indexes it).
    pub statuses: Vec<String>,
    /// Positions of rows with a `viclip_sim`, by descending score (ties: earlier row first).
    pub by_sim: Vec<u32>,
    /// Positions of rows with an `aesthetic` score, by descending score.
    pub by_aes: Vec<u32>,
    /// Rows per shard.
    pub shard_size: u64,
}

impl Index {
    /// Reads the score columns of every complete shard of the run in `layout.out`.
    pub fn load(layout: &Layout) -> ViewResult<Index> {
        let status = status(&layout.out).map_err(|e| ViewError::NotFound(e.to_string()))?;
        let mut idx = Index {
            slot: vec![None; status.shards.len()],
            status,
            loaded: Vec::new(),
            keys: Vec::new(),
            statuses: Vec::new(),
            by_sim: Vec::new(),
            by_aes: Vec::new(),
            shard_size: layout.shard_size,
        };
        let complete: Vec<u64> = (0..idx.status.shards.len() as u64)
            .filter(|k| idx.status.shards[*k as usize] == ShardState::Complete)
            .collect();
        for k in complete {
            let first = idx.keys.len();
            idx.read_shard(layout, &layout.shard_path(k))?;
            let rows = idx.keys.len() - first;
            idx.slot[k as usize] = Some(idx.loaded.len());
            idx.loaded.push(Loaded {
                shard: k,
                first,
                rows,
            });
        }
        if idx.keys.len() > u32::MAX as usize {
            return Err(ViewError::Internal(format!(
                "{}: more than {} scored rows; the viewer indexes at most that many",
                layout.out.display(),
                u32::MAX
            )));
        }
        idx.by_sim = sorted(&idx.keys, |k| k.sim);
        idx.by_aes = sorted(&idx.keys, |k| k.aes);
        Ok(idx)
    }

    fn status_code(&mut self, s: &str) -> u16 {
        if let Some(i) = self.statuses.iter().position(|x| x == s) {
            return i as u16;
        }
        self.statuses.push(s.to_string());
        (self.statuses.len() - 1) as u16
    }

    fn read_shard(&mut self, layout: &Layout, path: &Path) -> ViewResult<()> {
        let table = Table::open(path)?;
        let names = table.column_names()?;
        let has = |c: &Option<String>| c.as_ref().filter(|c| names.contains(c)).cloned();
        let (start, end) = (has(&layout.start), has(&layout.end));
        let mut cols = vec!["viclip_sim".to_string(), "status".to_string()];
        let aes = names.iter().any(|n| n == "aesthetic");
        if aes {
            cols.push("aesthetic".into());
        }
        cols.extend(start.iter().chain(end.iter()).cloned());
        for b in table.batches(&ReadOptions::columns(&cols)) {
            let b = b?;
            let sim = f64_values(&b, "viclip_sim")?;
            let a = if aes {
                f64_values(&b, "aesthetic")?
            } else {
                vec![None; b.num_rows()]
            };
            let s = match &start {
                Some(c) => seconds_values(&b, c)?,
                None => vec![Some(0.0); b.num_rows()],
            };
            let e = match &end {
                Some(c) => seconds_values(&b, c)?,
                None => vec![None; b.num_rows()],
            };
            let st = StrColumn::new(&b, "status")?;
            for i in 0..b.num_rows() {
                let code = self.status_code(st.get(i).unwrap_or("unknown"));
                let dur = match (s[i], e[i]) {
                    (Some(s), Some(e)) => (e - s) as f32,
                    _ => f32::NAN,
                };
                let f = |v: Option<f64>| v.map_or(f32::NAN, |x| x as f32);
                self.keys.push(Key {
                    sim: f(sim[i]),
                    aes: f(a[i]),
                    dur,
                    status: code,
                });
            }
        }
        Ok(())
    }

    /// The clip id (table row) of position `pos`.
    pub fn id_of(&self, pos: usize) -> u64 {
        let l = match self.loaded.binary_search_by(|l| l.first.cmp(&pos)) {
            Ok(i) => self.loaded[i],
            Err(i) => self.loaded[i - 1],
        };
        l.shard * self.shard_size + (pos - l.first) as u64
    }

    /// The position of clip `id`, or why it is not viewable.
    pub fn pos_of(&self, id: u64) -> ViewResult<usize> {
        let k = id / self.shard_size;
        let i = (id % self.shard_size) as usize;
        match self.slot.get(k as usize).copied().flatten() {
            Some(s) if i < self.loaded[s].rows => Ok(self.loaded[s].first + i),
            Some(_) => Err(ViewError::NotFound(format!(
                "clip {id}: no such row in shard {k}"
            ))),
            None if (k as usize) < self.slot.len() => Err(ViewError::NotFound(format!(
                "clip {id}: shard {k} is not complete yet; it can be viewed once it is scored"
            ))),
            None => Err(ViewError::NotFound(format!(
                "clip {id}: the run has {} rows",
                self.status.record.table_rows
            ))),
        }
    }
}

/// Positions of the rows with a value, by descending value, ties to the earlier row.
fn sorted(keys: &[Key], f: impl Fn(&Key) -> f32 + Sync) -> Vec<u32> {
    use rayon::slice::ParallelSliceMut;
    let mut v: Vec<u32> = (0..keys.len() as u32)
        .filter(|&i| !f(&keys[i as usize]).is_nan())
        .collect();
    v.par_sort_unstable_by(|&a, &b| {
        f(&keys[b as usize])
            .total_cmp(&f(&keys[a as usize]))
            .then(a.cmp(&b))
    });
    v
}
