//! Questions answered from the [`Index`]: a filtered, sorted page of clip ids, the histograms with
//! their quantiles, random samples per score bucket and the threshold preview.

use serde::{Deserialize, Serialize};

use super::error::{ViewError, ViewResult};
use super::index::{Index, Key};

/// Most clips one page holds.
pub const MAX_PAGE: usize = 200;
/// Most histogram bins.
pub const MAX_BINS: usize = 200;

/// A score column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    /// `viclip_sim`.
    #[default]
    ViclipSim,
    /// `aesthetic`.
    Aesthetic,
}

impl Column {
    fn get(self, k: &Key) -> f32 {
        match self {
            Column::ViclipSim => k.sim,
            Column::Aesthetic => k.aes,
        }
    }

    fn order(self, idx: &Index) -> &[u32] {
        match self {
            Column::ViclipSim => &idx.by_sim,
            Column::Aesthetic => &idx.by_aes,
        }
    }
}

/// `GET /api/clips` parameters.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ClipQuery {
    /// Sort by this score (`row`: input order, and rows without the score are listed too).
    pub sort: Option<String>,
    /// `asc` or `desc` (default).
    pub order: Option<String>,
    /// Only rows of this status.
    pub status: Option<String>,
    /// Score range `[min, max)` on `col` (default: the sort column).
    pub min: Option<f32>,
    /// Upper end of the score range (exclusive).
    pub max: Option<f32>,
    /// The column `min`/`max` apply to.
    pub col: Option<Column>,
    /// First match shown.
    pub offset: Option<usize>,
    /// Matches shown (at most [`MAX_PAGE`]).
    pub limit: Option<usize>,
}

fn column(name: &str) -> ViewResult<Option<Column>> {
    match name {
        "viclip_sim" => Ok(Some(Column::ViclipSim)),
        "aesthetic" => Ok(Some(Column::Aesthetic)),
        "row" => Ok(None),
        _ => Err(ViewError::BadRequest(format!(
            "sort `{name}`: use viclip_sim, aesthetic or row"
        ))),
    }
}

/// The ids of one page and the number of matches.
pub fn page(idx: &Index, q: &ClipQuery) -> ViewResult<(usize, Vec<u64>)> {
    let sort = column(q.sort.as_deref().unwrap_or("viclip_sim"))?;
    let desc = match q.order.as_deref().unwrap_or("desc") {
        "desc" => true,
        "asc" => false,
        o => {
            return Err(ViewError::BadRequest(format!(
                "order `{o}`: use asc or desc"
            )))
        }
    };
    let limit = q.limit.unwrap_or(24);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ViewError::BadRequest(format!(
            "limit {limit}: give 1 to {MAX_PAGE} clips per page"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    let status = match &q.status {
        Some(s) if !s.is_empty() => match idx.statuses.iter().position(|x| x == s) {
            Some(i) => Some(i as u16),
            None => return Ok((0, Vec::new())),
        },
        _ => None,
    };
    let range_col = q.col.or(sort).unwrap_or_default();
    let (lo, hi) = (
        q.min.unwrap_or(f32::NEG_INFINITY),
        q.max.unwrap_or(f32::INFINITY),
    );
    let ranged = q.min.is_some() || q.max.is_some();
    let keep = |pos: usize| {
        let k = &idx.keys[pos];
        status.is_none_or(|s| k.status == s)
            && (!ranged || {
                let v = range_col.get(k);
                v >= lo && v < hi
            })
    };
    let mut total = 0;
    let mut ids = Vec::with_capacity(limit);
    let mut take = |pos: usize| {
        if keep(pos) {
            if total >= offset && ids.len() < limit {
                ids.push(idx.id_of(pos));
            }
            total += 1;
        }
    };
    match (sort, desc) {
        (Some(c), true) => c.order(idx).iter().for_each(|&p| take(p as usize)),
        (Some(c), false) => c.order(idx).iter().rev().for_each(|&p| take(p as usize)),
        (None, true) => (0..idx.keys.len()).rev().for_each(&mut take),
        (None, false) => (0..idx.keys.len()).for_each(&mut take),
    }
    Ok((total, ids))
}

/// One histogram bar: `[lo, hi)` (the last bar includes its upper end).
#[derive(Debug, Clone, Serialize)]
pub struct Bin {
    /// Lower edge.
    pub lo: f32,
    /// Upper edge.
    pub hi: f32,
    /// Rows in the bin.
    pub count: u64,
}

/// A score column's distribution.
#[derive(Debug, Clone, Serialize)]
pub struct Histogram {
    /// The column.
    pub column: Column,
    /// Rows with a value.
    pub count: u64,
    /// Mean value.
    pub mean: f64,
    /// `(q, value)` for q = 1, 5, 25, 50, 75, 95, 99 %.
    pub quantiles: Vec<(f64, f64)>,
    /// The bars, equal width from the minimum to the maximum.
    pub bins: Vec<Bin>,
}

/// The value at quantile `q` of the column (linear interpolation, as `viclip report`).
pub fn quantile(idx: &Index, c: Column, q: f64) -> Option<f64> {
    let o = c.order(idx);
    if o.is_empty() {
        return None;
    }
    // `o` is descending; position p of the ascending order is o[n - 1 - p].
    let n = o.len();
    let at = |p: usize| c.get(&idx.keys[o[n - 1 - p] as usize]) as f64;
    let x = q * (n - 1) as f64;
    let (i, f) = (x.floor() as usize, x - x.floor());
    Some(if i + 1 < n {
        at(i) + f * (at(i + 1) - at(i))
    } else {
        at(i)
    })
}

/// The histogram of `c` with `bins` bars; `None` when no row has the score.
pub fn histogram(idx: &Index, c: Column, bins: usize) -> ViewResult<Option<Histogram>> {
    if bins == 0 || bins > MAX_BINS {
        return Err(ViewError::BadRequest(format!(
            "bins {bins}: give 1 to {MAX_BINS}"
        )));
    }
    let o = c.order(idx);
    let (Some(&top), Some(&bottom)) = (o.first(), o.last()) else {
        return Ok(None);
    };
    let (min, max) = (
        c.get(&idx.keys[bottom as usize]),
        c.get(&idx.keys[top as usize]),
    );
    let width = ((max - min) / bins as f32).max(f32::EPSILON);
    let mut out: Vec<Bin> = (0..bins)
        .map(|i| Bin {
            lo: min + width * i as f32,
            hi: min + width * (i + 1) as f32,
            count: 0,
        })
        .collect();
    out[bins - 1].hi = max;
    let mut sum = 0.0f64;
    for &p in o {
        let v = c.get(&idx.keys[p as usize]);
        sum += v as f64;
        let b = (((v - min) / width) as usize).min(bins - 1);
        out[b].count += 1;
    }
    let qs = viclip_data::score::report::QUANTILES;
    Ok(Some(Histogram {
        column: c,
        count: o.len() as u64,
        mean: sum / o.len() as f64,
        quantiles: qs
            .iter()
            .filter_map(|&q| quantile(idx, c, q).map(|v| (q, v)))
            .collect(),
        bins: out,
    }))
}

/// A small deterministic generator (splitmix64): samples repeat for the same seed.
struct Mix(u64);

impl Mix {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// Random clips of one score bucket.
#[derive(Debug, Clone, Serialize)]
pub struct Bucket {
    /// Lower edge.
    pub lo: f32,
    /// Upper edge.
    pub hi: f32,
    /// Rows in the bucket.
    pub count: u64,
    /// The sampled ids.
    pub ids: Vec<u64>,
}

/// `buckets` equal-width buckets between the 1 % and 99 % quantiles of `c` (the tails go to the
/// end buckets), `per` random clips from each, drawn with `seed`.
pub fn samples(
    idx: &Index,
    c: Column,
    buckets: usize,
    per: usize,
    seed: u64,
) -> ViewResult<Vec<Bucket>> {
    if buckets == 0 || buckets > 20 || per == 0 || per > 20 {
        return Err(ViewError::BadRequest(format!(
            "buckets {buckets}, per {per}: give 1 to 20 of each"
        )));
    }
    let (Some(lo), Some(hi)) = (quantile(idx, c, 0.01), quantile(idx, c, 0.99)) else {
        return Ok(Vec::new());
    };
    let (lo, hi) = (lo as f32, hi as f32);
    let width = ((hi - lo) / buckets as f32).max(f32::EPSILON);
    let o = c.order(idx);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); buckets];
    for &p in o.iter().rev() {
        let v = c.get(&idx.keys[p as usize]);
        let b = (((v - lo) / width).max(0.0) as usize).min(buckets - 1);
        members[b].push(p);
    }
    let mut rng = Mix(seed);
    Ok(members
        .into_iter()
        .enumerate()
        .map(|(b, m)| {
            let mut picks: Vec<u32> = Vec::new();
            // Distinct picks by rejection: `per` is at most 20.
            while picks.len() < per.min(m.len()) {
                let p = m[rng.next(m.len())];
                if !picks.contains(&p) {
                    picks.push(p);
                }
            }
            Bucket {
                lo: lo + width * b as f32,
                hi: lo + width * (b + 1) as f32,
                count: m.len() as u64,
                ids: picks.iter().map(|&p| idx.id_of(p as usize)).collect(),
            }
        })
        .collect())
}
