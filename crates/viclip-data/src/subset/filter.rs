//! Threshold, top-fraction and top-k selection over a score column, and the FLT and AES recipes built
//! from them (docs/reference/datasets.md §2). Pure functions over per-row state: O(n) apart from the DIV step.

use serde::Serialize;

use super::bits::Bits;
use super::sample::div_sample;
use crate::table::Table;
use crate::{Error, Result, Setting};
use arrow_schema::DataType;

/// Rows left after one step of a recipe, for the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// What the step did, e.g. `viclip_sim >= 0.3` or `top 1000 by aesthetic`.
    pub name: String,
    /// Rows still selected after the step.
    pub rows: u64,
}

impl Step {
    fn new(name: impl Into<String>, bits: &Bits) -> Self {
        Self {
            name: name.into(),
            rows: bits.count(),
        }
    }
}

/// How many rows "the top `frac`" of `m` rows is: `floor(frac * m)`, computed with a 1e-9 slack so
/// that `0.3 * 10` (2.9999999999999996 in floating point) gives 3. `frac` is in (0, 1].
pub fn top_fraction_count(m: u64, frac: f64) -> u64 {
    ((frac * m as f64 + 1e-9).floor() as u64).min(m)
}

/// The `k` highest-scoring rows among `eligible` (all of them when fewer). Ties at the cut go to the
/// lower row index, so exactly `min(k, eligible)` rows are kept. Rows past the end of `score` are not
/// eligible; NaN sorts below every number. O(n): a selection (`select_nth_unstable`) finds the cut
/// value, one pass applies it.
pub fn top_k_rows(score: &[f64], eligible: &Bits, k: u64) -> Bits {
    let eligible = &Bits::from_fn(eligible.len(), |i| eligible.get(i) && i < score.len());
    let m = eligible.count();
    if k >= m {
        return eligible.clone();
    }
    let mut out = Bits::new(eligible.len());
    if k == 0 {
        return out;
    }
    let mut vals: Vec<f64> = eligible.ones().map(|i| score[i]).collect();
    let cut_at = (m - k) as usize;
    let (_, cut, _) = vals.select_nth_unstable_by(cut_at, |a, b| a.total_cmp(b));
    let cut = *cut;
    drop(vals);
    let above = eligible
        .ones()
        .filter(|&i| score[i].total_cmp(&cut).is_gt())
        .count() as u64;
    let mut ties_left = k - above;
    for i in eligible.ones() {
        match score[i].total_cmp(&cut) {
            std::cmp::Ordering::Greater => out.set(i),
            std::cmp::Ordering::Equal if ties_left > 0 => {
                ties_left -= 1;
                out.set(i);
            }
            _ => {}
        }
    }
    out
}

/// InternVid-10M-FLT and its variants.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FltOptions {
    /// Rows to DIV-sample from what the filters leave; `None` keeps all of it.
    pub n: Option<u64>,
    /// Seed of the DIV sampling (used only when `n` is set).
    pub seed: u64,
    /// Inclusive duration bounds in seconds (InternVid: 1 and 120).
    pub min_duration: f64,
    /// Upper duration bound in seconds, inclusive (InternVid: 120).
    pub max_duration: f64,
    /// Keep this top fraction by score (InternVid: 0.30); `None` skips the step.
    pub top_frac: Option<f64>,
    /// Keep rows with score >= this.
    pub min_score: Option<f64>,
    /// The similarity column (`viclip_sim`; InternVid's files have `UMT_Score`).
    pub score_col: String,
}

impl Default for FltOptions {
    fn default() -> Self {
        Self {
            n: None,
            seed: 42,
            min_duration: 1.0,
            max_duration: 120.0,
            top_frac: Some(0.30),
            min_score: None,
            score_col: "viclip_sim".into(),
        }
    }
}

impl FltOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.min_duration >= 0.0 && self.min_duration <= self.max_duration) {
            return Err(Error::setting(
                Setting::MinDuration,
                self.min_duration,
                format!(
                    "must be between 0 and the maximum duration ({})",
                    self.max_duration
                ),
            ));
        }
        if let Some(f) = self.top_frac {
            if !(f > 0.0 && f <= 1.0) {
                return Err(Error::setting(
                    Setting::TopFraction,
                    f,
                    "must be in (0, 1]; 1 keeps everything",
                ));
            }
        }
        if let Some(s) = self.min_score.filter(|s| !s.is_finite()) {
            return Err(Error::setting(
                Setting::MinScore,
                s,
                "must be a finite number",
            ));
        }
        Ok(())
    }
}

/// FLT: rows with a score and a duration within bounds (`duration_ok`), then `min_score`, then the top
/// `top_frac` by score, then DIV-sampling `n` (weights from the clips per video that are left).
/// `video` is needed only when `n` is set. Returns the chosen rows (sorted) and the steps.
pub fn flt_select(
    score: &[f64],
    duration_ok: &Bits,
    video: Option<(&[u32], usize)>,
    opts: &FltOptions,
) -> Result<(Vec<u64>, Vec<Step>)> {
    opts.validate()?;
    if let Some((v, _)) = video.filter(|(v, _)| v.len() < score.len()) {
        return Err(Error::InvalidInput(format!(
            "flt_select: {} video ids for {} rows; pass one per row",
            v.len(),
            score.len()
        )));
    }
    let mut keep = Bits::from_fn(score.len(), |i| duration_ok.get(i) && score[i].is_finite());
    let mut steps = vec![Step::new(
        format!(
            "duration in [{}, {}] s, score present",
            opts.min_duration, opts.max_duration
        ),
        &keep,
    )];
    if let Some(min) = opts.min_score {
        keep = Bits::from_fn(score.len(), |i| keep.get(i) && score[i] >= min);
        steps.push(Step::new(format!("{} >= {min}", opts.score_col), &keep));
    }
    if let Some(frac) = opts.top_frac {
        let k = top_fraction_count(keep.count(), frac);
        keep = top_k_rows(score, &keep, k);
        steps.push(Step::new(
            format!("top {}% by {}", frac * 100.0, opts.score_col),
            &keep,
        ));
    }
    let rows = match opts.n {
        None => keep.ones().map(|i| i as u64).collect(),
        Some(n) => {
            let (video, n_videos) = video.ok_or_else(|| {
                Error::setting(
                    Setting::VideoId,
                    "unset",
                    "FLT with a sample size DIV-samples by source video: name its column or path prefix",
                )
            })?;
            let rows = div_sample(
                keep.ones().map(|i| (i as u64, video[i])),
                n_videos,
                n,
                opts.seed,
            );
            steps.push(Step {
                name: format!("DIV sample of {n} (seed {})", opts.seed),
                rows: rows.len() as u64,
            });
            rows
        }
    };
    Ok((rows, steps))
}

/// InternVid-Aesthetics: a minimum aesthetic score (InternVid: 4, inclusive) and/or the top k.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AesOptions {
    /// Keep rows with score >= this (InternVid: 4); `None` skips the step.
    pub min_aesthetic: Option<f64>,
    /// Then keep the `k` highest-scoring rows (ties to the lower row index); `None` skips the step.
    pub top_k: Option<u64>,
    /// `aesthetic` as a score run with an aesthetic scorer writes it; InternVid's files have `Aesthetic_Score`.
    pub score_col: String,
}

impl Default for AesOptions {
    fn default() -> Self {
        Self {
            min_aesthetic: Some(4.0),
            top_k: None,
            score_col: "aesthetic".into(),
        }
    }
}

/// AES: rows with a score, then `score >= min_aesthetic`, then the `top_k` highest (ties to the lower
/// row index).
pub fn aes_select(score: &[f64], opts: &AesOptions) -> Result<(Vec<u64>, Vec<Step>)> {
    if let Some(s) = opts.min_aesthetic.filter(|s| !s.is_finite()) {
        return Err(Error::setting(
            Setting::MinAesthetic,
            s,
            "must be a finite number",
        ));
    }
    let mut keep = Bits::from_fn(score.len(), |i| score[i].is_finite());
    let mut steps = vec![Step::new("score present", &keep)];
    if let Some(min) = opts.min_aesthetic {
        keep = Bits::from_fn(score.len(), |i| keep.get(i) && score[i] >= min);
        steps.push(Step::new(format!("{} >= {min}", opts.score_col), &keep));
    }
    if let Some(k) = opts.top_k {
        keep = top_k_rows(score, &keep, k);
        steps.push(Step::new(format!("top {k} by {}", opts.score_col), &keep));
    }
    Ok((keep.ones().map(|i| i as u64).collect(), steps))
}

/// Refuses a criterion column in which no row holds a number although it is not stored as numbers
/// (a caption column given as the score column, say): selecting on it would keep no row at all. A
/// numeric column that is entirely null is left to the selection (it reports zero rows kept).
pub(crate) fn check_numeric_criterion(table: &Table, col: &str, values: &[f64]) -> Result<()> {
    if values.is_empty() || values.iter().any(|x| !x.is_nan()) {
        return Ok(());
    }
    let schema = table.schema()?;
    let Ok(field) = schema.field_with_name(col) else {
        return Ok(());
    };
    let t = field.data_type();
    if t.is_numeric() || matches!(t, DataType::Null) {
        return Ok(());
    }
    Err(Error::setting(
        Setting::ScoreColumn,
        format!("`{col}`"),
        format!(
            "{}: the column has type {t} and none of its {} rows holds a number; name a numeric \
             column",
            table.path().display(),
            values.len()
        ),
    ))
}
