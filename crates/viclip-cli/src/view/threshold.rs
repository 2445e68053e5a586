//! The threshold preview: an FLT fraction (duration bounds, then the top fraction by CLIP-SIM, as
//! `viclip subset flt` selects), an aesthetic minimum (`viclip subset aes`), or both in that order;
//! how many rows and hours are kept, the clips just above and below each cut, and the exact
//! `viclip subset` command that carries the choice out.

use std::path::Path;

use serde::{Deserialize, Serialize};
use viclip_data::subset::top_fraction_count;

use super::error::{ViewError, ViewResult};
use super::index::Index;

/// `GET /api/threshold` parameters.
#[derive(Debug, Clone, Deserialize)]
pub struct ThresholdQuery {
    /// FLT: keep this top fraction by `viclip_sim`, in (0, 1].
    pub frac: Option<f64>,
    /// FLT's minimum duration in seconds (default 1, as `subset flt`).
    pub min_dur: Option<f64>,
    /// FLT's maximum duration in seconds (default 120).
    pub max_dur: Option<f64>,
    /// AES: keep rows with `aesthetic >= min_aes`.
    pub min_aes: Option<f64>,
}

/// The preview.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    /// Rows of the complete shards.
    pub rows: u64,
    /// Hours of video over those rows (spans with a duration).
    pub hours: f64,
    /// Rows kept.
    pub kept: u64,
    /// Hours kept.
    pub kept_hours: f64,
    /// The CLIP-SIM at the FLT cut (the lowest kept score).
    pub sim_cut: Option<f32>,
    /// Ids of the kept clips just above the cut(s), nearest the cut last.
    pub above: Vec<u64>,
    /// Ids of the clips just below the cut(s), nearest the cut first.
    pub below: Vec<u64>,
    /// The command(s) that build this subset.
    pub command: String,
}

/// Single-quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:=,".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Clips on each side of a cut.
const SIDE: usize = 4;

/// The preview of `q` over `idx`, for the run in `out` whose spans are in the columns `span`
/// (start, end), which the FLT command names.
pub fn preview(
    idx: &Index,
    out: &Path,
    span: Option<(&str, &str)>,
    q: &ThresholdQuery,
) -> ViewResult<Preview> {
    let (min_dur, max_dur) = (q.min_dur.unwrap_or(1.0), q.max_dur.unwrap_or(120.0));
    if let Some(f) = q.frac.filter(|f| !(*f > 0.0 && *f <= 1.0)) {
        return Err(ViewError::BadRequest(format!(
            "frac {f}: give a fraction in (0, 1]"
        )));
    }
    if !(min_dur.is_finite() && max_dur.is_finite() && min_dur <= max_dur) {
        return Err(ViewError::BadRequest(format!(
            "min_dur {min_dur}, max_dur {max_dur}: give finite bounds, min <= max"
        )));
    }
    if q.min_aes.is_some_and(|a| !a.is_finite()) {
        return Err(ViewError::BadRequest(
            "min_aes: give a finite number".into(),
        ));
    }
    let hours = |ps: &mut dyn Iterator<Item = usize>| -> f64 {
        ps.map(|p| idx.keys[p].dur)
            .filter(|d| d.is_finite())
            .map(f64::from)
            .sum::<f64>()
            / 3600.0
    };
    let all = idx.keys.len();
    // FLT: the duration-ok rows by descending score; the first k are kept.
    let (mut kept, mut above, mut below, mut sim_cut): (Vec<usize>, Vec<u64>, Vec<u64>, _) =
        ((0..all).collect(), Vec::new(), Vec::new(), None);
    if let Some(frac) = q.frac {
        let ok: Vec<usize> = idx
            .by_sim
            .iter()
            .map(|&p| p as usize)
            .filter(|&p| {
                let d = idx.keys[p].dur as f64;
                d >= min_dur && d <= max_dur
            })
            .collect();
        let k = top_fraction_count(ok.len() as u64, frac) as usize;
        sim_cut = k.checked_sub(1).map(|i| idx.keys[ok[i]].sim);
        above = ok[k.saturating_sub(SIDE)..k]
            .iter()
            .map(|&p| idx.id_of(p))
            .collect();
        below = ok[k..(k + SIDE).min(ok.len())]
            .iter()
            .map(|&p| idx.id_of(p))
            .collect();
        kept = ok[..k].to_vec();
    }
    if let Some(min) = q.min_aes {
        let mut pass: Vec<usize> = kept
            .iter()
            .copied()
            .filter(|&p| !idx.keys[p].aes.is_nan())
            .collect();
        pass.sort_by(|&a, &b| idx.keys[b].aes.total_cmp(&idx.keys[a].aes).then(a.cmp(&b)));
        let k = pass.partition_point(|&p| idx.keys[p].aes as f64 >= min);
        above = pass[k.saturating_sub(SIDE)..k]
            .iter()
            .map(|&p| idx.id_of(p))
            .collect();
        below = pass[k..(k + SIDE).min(pass.len())]
            .iter()
            .map(|&p| idx.id_of(p))
            .collect();
        pass.truncate(k);
        kept = pass;
    }
    let input = shell_quote(&out.display().to_string());
    let cols = span.map_or(String::new(), |(s, e)| {
        format!(
            " --start-col {} --end-col {}",
            shell_quote(s),
            shell_quote(e)
        )
    });
    let flt = |input: &str, o: &str| {
        format!(
            "viclip subset flt --input {input} --out {o} --top-frac {} --min-duration {min_dur} --max-duration {max_dur}{cols}",
            q.frac.unwrap_or(1.0)
        )
    };
    let aes = |input: &str| {
        format!(
            "viclip subset aes --input {input} --out kept.parquet --min-aesthetic {}",
            q.min_aes.unwrap_or(0.0)
        )
    };
    let command = match (q.frac.is_some(), q.min_aes.is_some()) {
        (true, true) => format!("{} && {}", flt(&input, "flt.parquet"), aes("flt.parquet")),
        (true, false) => flt(&input, "kept.parquet"),
        (false, true) => aes(&input),
        (false, false) => String::new(),
    };
    Ok(Preview {
        rows: all as u64,
        hours: hours(&mut (0..all)),
        kept: kept.len() as u64,
        kept_hours: hours(&mut kept.iter().copied()),
        sim_cut,
        above,
        below,
        command,
    })
}

/// `(id, sim, aes)` of up to `n` rows with both scores, evenly spread over the rows (for the
/// CLIP-SIM × aesthetic scatter).
pub fn scatter(idx: &Index, n: usize) -> Vec<(u64, f32, f32)> {
    let both: Vec<usize> = (0..idx.keys.len())
        .filter(|&p| !idx.keys[p].sim.is_nan() && !idx.keys[p].aes.is_nan())
        .collect();
    let step = both.len().div_ceil(n.max(1)).max(1);
    both.iter()
        .step_by(step)
        .map(|&p| (idx.id_of(p), idx.keys[p].sim, idx.keys[p].aes))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/data/out"), "/data/out");
        assert_eq!(shell_quote("a b'c"), r"'a b'\''c'");
    }
}
