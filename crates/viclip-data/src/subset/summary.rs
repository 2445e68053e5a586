//! What a subset run reports: rows in and out, distinct source videos, the steps of its recipe and the
//! distribution of each score column before and after; printed and written as `{out}.summary.json`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::filter::Step;
use crate::{Error, Result};

/// The quantiles reported, as `viclip score`'s run report has them.
pub const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99];

/// Distribution of the finite values of a score column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Rows with a (finite) value.
    pub count: u64,
    /// Smallest finite value; `None` when there is none.
    pub min: Option<f64>,
    /// Largest finite value; `None` when there is none.
    pub max: Option<f64>,
    /// Mean of the finite values; `None` when there is none.
    pub mean: Option<f64>,
    /// `"p01"`, `"p05"`, ... `"p99"`: linear interpolation between order statistics (numpy's default).
    pub quantiles: BTreeMap<String, f64>,
}

impl Stats {
    /// Stats of the finite values among `values` (sorted in place of a copy: O(n log n)).
    pub fn of(values: impl Iterator<Item = f64>) -> Self {
        let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
        v.sort_unstable_by(|a, b| a.total_cmp(b));
        let n = v.len();
        let quantiles = if n == 0 {
            BTreeMap::new()
        } else {
            QUANTILES
                .iter()
                .map(|&p| {
                    (
                        format!("p{:02}", (p * 100.0).round() as u32),
                        quantile_sorted(&v, p),
                    )
                })
                .collect()
        };
        Stats {
            count: n as u64,
            min: v.first().copied(),
            max: v.last().copied(),
            mean: (n > 0).then(|| v.iter().sum::<f64>() / n as f64),
            quantiles,
        }
    }
}

/// The `p` quantile of sorted `v` with linear interpolation: position `p * (n - 1)`; NaN when empty.
pub fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = p.clamp(0.0, 1.0) * (v.len().saturating_sub(1)) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (pos - lo as f64) * (v[hi] - v[lo])
}

/// One score column before and after selection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreSummary {
    /// The score column.
    pub column: String,
    /// Its distribution over every input row.
    pub before: Stats,
    /// Its distribution over the selected rows.
    pub after: Stats,
}

/// SemDeDup's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DedupReport {
    /// Number of k-means clusters used (the asked number, capped at the rows with an embedding).
    pub clusters: usize,
    /// Lloyd iterations the k-means ran.
    pub iterations: usize,
    /// The eps used for the output.
    pub eps: f64,
    /// Kept fraction (of the rows with an embedding) for each eps asked for, the output's first.
    pub kept_fraction: Vec<(f64, f64)>,
    /// Rows whose embedding is zero or not finite (a clip that failed to score): kept, not compared.
    pub rows_without_embedding: u64,
    /// Size of the largest cluster (the comparison cost grows with its square).
    pub largest_cluster: usize,
}

/// A subset run's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The method's name: `random`, `div`, `flt`, `aes` or `dedup`.
    pub method: String,
    /// The input table (file or directory of shards).
    pub input: PathBuf,
    /// The output table written.
    pub output: PathBuf,
    /// The method's parameters as JSON (`n` and `seed`, or the options; `embeddings` for dedup).
    pub params: serde_json::Value,
    /// Rows of the input table.
    pub rows_in: u64,
    /// Rows selected and written to the output.
    pub rows_out: u64,
    /// Distinct source videos in and out (when a video id is known).
    pub videos_in: Option<u64>,
    /// Distinct source videos among the selected rows (when a video id is known).
    pub videos_out: Option<u64>,
    /// Where the video id came from (`column YoutubeID`, `first 11 chars of the file name in path`).
    pub video_key: Option<String>,
    /// Rows without a video id (each counted as a video of its own).
    pub rows_without_video_id: u64,
    /// Rows with a missing or unreadable start / end (FLT drops them).
    pub rows_without_span: u64,
    /// Rows left after each step of the FLT or AES recipe, in order (empty for other methods).
    pub steps: Vec<Step>,
    /// The selection's score column (FLT, AES) first, then the other reported score columns.
    pub scores: Vec<ScoreSummary>,
    /// SemDeDup's outcome; `None` for other methods.
    pub dedup: Option<DedupReport>,
    /// Wall-clock seconds of the whole job (reading, selecting, writing).
    pub seconds: f64,
}

impl Summary {
    /// Where the summary of an output goes: `{out}.summary.json`.
    pub fn path_for(out: &Path) -> PathBuf {
        let mut name = out.file_name().unwrap_or_default().to_os_string();
        name.push(".summary.json");
        out.with_file_name(name)
    }

    /// Writes the summary as pretty JSON to `path`.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::Internal(format!("summary as JSON: {e}")))?;
        std::fs::write(path, text + "\n").map_err(|e| Error::output(path, e))
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.4}"))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} -> {}",
            self.method,
            self.input.display(),
            self.output.display()
        )?;
        writeln!(f, "  rows: {} in, {} out", self.rows_in, self.rows_out)?;
        if let (Some(a), Some(b)) = (self.videos_in, self.videos_out) {
            let key = self.video_key.as_deref().unwrap_or("?");
            writeln!(f, "  source videos ({key}): {a} in, {b} out")?;
        }
        if self.rows_without_span > 0 {
            writeln!(
                f,
                "  rows without a readable span: {}",
                self.rows_without_span
            )?;
        }
        for s in &self.steps {
            writeln!(f, "  step {}: {} rows", s.name, s.rows)?;
        }
        for s in &self.scores {
            writeln!(f, "  {}:", s.column)?;
            for (label, st) in [("before", &s.before), ("after", &s.after)] {
                let q: Vec<String> = st
                    .quantiles
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect();
                writeln!(
                    f,
                    "    {label:6} n {} min {} mean {} max {} | {}",
                    st.count,
                    fmt_opt(st.min),
                    fmt_opt(st.mean),
                    fmt_opt(st.max),
                    q.join(" ")
                )?;
            }
        }
        if let Some(d) = &self.dedup {
            writeln!(
                f,
                "  dedup: {} clusters ({} iterations, largest {}), {} rows without embedding",
                d.clusters, d.iterations, d.largest_cluster, d.rows_without_embedding
            )?;
            for (eps, kept) in &d.kept_fraction {
                writeln!(f, "    eps {eps}: kept {:.2}%", kept * 100.0)?;
            }
        }
        write!(f, "  {:.1} s", self.seconds)
    }
}
