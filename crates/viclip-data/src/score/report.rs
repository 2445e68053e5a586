//! The run report: quantiles (1, 5, 25, 50, 75, 95, 99 %) and a histogram PNG of each score column
//! over every shard of a scored directory, because users pick thresholds from the distribution.
//! Written by `viclip score` when the last shard is done and by `viclip report`.
//!
//! All values of a column are held in memory to sort them (8 bytes a row: 0.8 GB for 100 M rows).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Once;

use serde::Serialize;

use crate::table::{f64_values, ReadOptions, StrColumn, Table};
use crate::{Error, Result};

/// The quantiles reported.
pub const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

/// Score columns the report covers (those present with at least one value).
pub const SCORE_COLUMNS: [&str; 2] = ["viclip_sim", "aesthetic"];

/// One score column's distribution.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColumnSummary {
    /// The score column (`viclip_sim` or `aesthetic`).
    pub column: String,
    /// Rows with a value.
    pub count: u64,
    /// Mean of the column's finite values.
    pub mean: f64,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// `(q, value)` for [`QUANTILES`], linear interpolation (numpy's default).
    pub quantiles: Vec<(f64, f64)>,
    /// The PNG written, when any.
    pub histogram: Option<PathBuf>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunReport {
    /// Rows over every shard of the directory.
    pub rows: u64,
    /// Rows per status.
    pub status: BTreeMap<String, u64>,
    /// One summary per score column present with at least one finite value.
    pub columns: Vec<ColumnSummary>,
}

/// `q` in `[0, 1]` of sorted values, linearly interpolated between neighbours.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q.clamp(0.0, 1.0) * last as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    let hi = sorted[(i + 1).min(last)];
    Some(sorted[i] + (hi - sorted[i]) * frac)
}

/// Summarises `values` (any order).
pub fn summarize(column: &str, mut values: Vec<f64>) -> Option<ColumnSummary> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    let (min, max) = (*values.first()?, *values.last()?);
    Some(ColumnSummary {
        column: column.to_string(),
        count: values.len() as u64,
        mean: values.iter().sum::<f64>() / values.len() as f64,
        min,
        max,
        quantiles: QUANTILES
            .iter()
            .filter_map(|&q| quantile(&values, q).map(|v| (q, v)))
            .collect(),
        histogram: None,
    })
}

/// Reads the shards of `dir`, writes `report.json` and `{column}_hist.png`, returns the report.
/// A run with a shard missing, damaged or from another run is refused, naming the shards
/// ([`super::check_complete`]).
pub fn write_report(dir: &Path) -> Result<RunReport> {
    super::verify::check_complete(dir)?;
    let table = Table::open(dir)?;
    let names = table.column_names()?;
    let cols: Vec<&str> = SCORE_COLUMNS
        .iter()
        .copied()
        .filter(|c| names.iter().any(|n| n == c))
        .collect();
    if !names.iter().any(|n| n == "status") {
        return Err(Error::InvalidInput(format!(
            "{}: its tables have no `status` column; is this the output directory of a score run?",
            dir.display()
        )));
    }
    let mut wanted: Vec<&str> = cols.clone();
    wanted.push("status");
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); cols.len()];
    let mut status = BTreeMap::new();
    let mut rows = 0u64;
    for b in table.batches(&ReadOptions::columns(&wanted)) {
        let b = b?;
        rows += b.num_rows() as u64;
        for (c, v) in cols.iter().zip(values.iter_mut()) {
            v.extend(f64_values(&b, c)?.into_iter().flatten());
        }
        let s = StrColumn::new(&b, "status")?;
        for i in 0..s.len() {
            *status
                .entry(s.get(i).unwrap_or("null").to_string())
                .or_insert(0u64) += 1;
        }
    }
    let mut columns = Vec::new();
    for (c, v) in cols.iter().zip(values) {
        let Some(mut s) = summarize(c, v.clone()) else {
            continue;
        };
        let png = dir.join(format!("{c}_hist.png"));
        histogram_png(&png, c, &v, 50)?;
        s.histogram = Some(png);
        columns.push(s);
    }
    let report = RunReport {
        rows,
        status,
        columns,
    };
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::Internal(format!("report as JSON: {e}")))?;
    crate::atomic::write_atomic(&dir.join("report.json"), json.as_bytes())?;
    Ok(report)
}

/// The report as a text table (what `viclip report` prints).
pub fn format_report(r: &RunReport) -> String {
    let mut s = format!("{} rows;", r.rows);
    for (k, n) in &r.status {
        s.push_str(&format!(" {k}: {n}"));
    }
    s.push('\n');
    s.push_str(&format!("{:<12} {:>9} {:>8}", "column", "count", "mean"));
    for q in QUANTILES {
        s.push_str(&format!(" {:>8}", format!("p{}", (q * 100.0).round())));
    }
    s.push('\n');
    for c in &r.columns {
        s.push_str(&format!("{:<12} {:>9} {:>8.4}", c.column, c.count, c.mean));
        for (_, v) in &c.quantiles {
            s.push_str(&format!(" {v:>8.4}"));
        }
        s.push('\n');
    }
    s
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bundled font is valid; if registration failed, labels would be missing, not the plot.
        let _ = plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            include_bytes!("../../assets/fonts/DejaVuSans.ttf"),
        );
    });
}

/// A histogram of `values` with `bins` bars and the 5 / 50 / 95 % quantiles marked, as PNG.
fn histogram_png(path: &Path, column: &str, values: &[f64], bins: usize) -> Result<()> {
    use plotters::prelude::*;
    register_font();
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let (Some(&lo), Some(&hi)) = (v.first(), v.last()) else {
        return Ok(());
    };
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, hi + 0.5)
    };
    let bins = bins.max(1);
    let w = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for x in &v {
        counts[(((x - lo) / w) as usize).min(bins - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    // plotters picks the image format from the extension, so the temporary name keeps `.png`.
    let tmp = path.with_extension("tmp.png");
    let err = |e: String| Error::output_other(path, format!("cannot draw the histogram: {e}"));
    {
        let root = BitMapBackend::new(&tmp, (900, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{column}: {} rows", v.len()), ("sans-serif", 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(lo..hi, 0u64..top + top / 10 + 1)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(column)
            .y_desc("rows")
            .disable_x_mesh()
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = lo + i as f64 * w;
                Rectangle::new([(x0, 0), (x0 + w, c)], BLUE.mix(0.6).filled())
            }))
            .map_err(|e| err(e.to_string()))?;
        for q in [0.05, 0.5, 0.95] {
            if let Some(x) = quantile(&v, q) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, 0), (x, top)],
                        RED,
                    )))
                    .map_err(|e| err(e.to_string()))?;
            }
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::output(path, e))
}
