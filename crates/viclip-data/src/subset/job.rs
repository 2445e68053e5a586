//! [`build`]: the columns a job reads, the one pass over them, the selection, the copy of the chosen
//! rows and the summary.

use std::time::Instant;

use super::load::{self, Loaded};
use super::{
    aes_select, dedup_rows, div_sample, filter, flt_select, random_rows, Bits, DedupReport, Method,
    ScoreSummary, Stats, Step, SubsetJob, Summary, VideoSource, SCORE_COLUMNS, SPAN_COLUMNS,
    VIDEO_ID_COLUMNS, VIDEO_PATH_COLUMNS,
};
use crate::table::Table;
use crate::{Error, Result, Setting};

/// A column the job needs is not in `table`: an error about the `setting` that names it (`value`:
/// what it is set to, `unset` when nothing names it).
fn missing(
    table: &Table,
    what: &str,
    names: &[String],
    (setting, value): (Setting, &str),
    hint: &str,
) -> Error {
    Error::setting(
        setting,
        value,
        format!(
            "{}: {what} (columns: {}); {hint}",
            table.path().display(),
            names.join(", ")
        ),
    )
}

/// Runs `job`: reads, selects, writes the chosen rows and `{out}.summary.json`; returns the summary.
pub fn build(job: &SubsetJob) -> Result<Summary> {
    let t0 = Instant::now();
    if job.input == job.output {
        return Err(Error::setting(
            Setting::SubsetOutput,
            job.output.display(),
            "is the input table; write the subset to another file",
        ));
    }
    let table = Table::open(&job.input)?;
    let names = table.column_names()?;
    let plan = columns(job, &table, &names)?;
    let state = load::load(&table, &plan, job.batch_size.max(1))?;
    let crit: &[f64] = state.criterion.as_deref().unwrap_or(&[]);
    if let Some(c) = &plan.criterion {
        filter::check_numeric_criterion(&table, c, crit)?;
    }
    let chosen = select(job, &table, &names, &state)?;
    table.copy_rows(&chosen.rows, &job.output)?;
    let summary = summary(job, &plan, state, chosen, t0);
    summary.write_json(&Summary::path_for(&job.output))?;
    Ok(summary)
}

/// The columns the job reads: the video id (found by name unless given), the score it selects on,
/// the scores it reports and FLT's start / end. A column the method needs and the table lacks is
/// an error naming the table's columns.
fn columns(job: &SubsetJob, table: &Table, names: &[String]) -> Result<load::Plan> {
    let has = |c: &str| names.iter().any(|n| n == c);
    let needs_video = matches!(job.method, Method::Div { .. })
        || matches!(&job.method, Method::Flt(o) if o.n.is_some());
    let video = match &job.video {
        Some(v) => Some(v.clone()),
        None => VIDEO_ID_COLUMNS
            .iter()
            .chain(VIDEO_PATH_COLUMNS.iter())
            .find(|c| has(c))
            .map(|c| VideoSource::Column(c.to_string())),
    };
    if needs_video && video.is_none() {
        return Err(missing(
            table,
            "no video id column",
            names,
            (Setting::VideoId, "unset"),
            "name a column, or a prefix of a path column's file names",
        ));
    }
    let criterion = match &job.method {
        Method::Flt(o) => Some(o.score_col.clone()),
        Method::Aes(o) => Some(o.score_col.clone()),
        _ => None,
    };
    if let Some(c) = criterion.as_deref().filter(|c| !has(c)) {
        let alt = if matches!(job.method, Method::Aes(_)) {
            "Aesthetic_Score"
        } else {
            "UMT_Score"
        };
        return Err(missing(
            table,
            &format!("no score column `{c}`"),
            names,
            (Setting::ScoreColumn, c),
            &format!("name the score column (InternVid's files: {alt})"),
        ));
    }
    let reported: Vec<String> = match &job.report {
        Some(r) => r.clone(),
        None => SCORE_COLUMNS
            .iter()
            .filter(|c| has(c))
            .map(|c| c.to_string())
            .collect(),
    };
    let reported: Vec<String> = reported
        .into_iter()
        .filter(|c| Some(c) != criterion.as_ref())
        .collect();
    let span = match &job.method {
        Method::Flt(o) => {
            let pair = match &job.span {
                Some(p) => p.clone(),
                None => SPAN_COLUMNS
                    .iter()
                    .find(|(s, e)| has(s) && has(e))
                    .map(|(s, e)| (s.to_string(), e.to_string()))
                    .ok_or_else(|| {
                        missing(
                            table,
                            "no start / end columns",
                            names,
                            (Setting::SpanColumns, "unset"),
                            "name the start and end columns",
                        )
                    })?,
            };
            Some((pair.0, pair.1, o.min_duration, o.max_duration))
        }
        _ => None,
    };
    Ok(load::Plan {
        criterion,
        reported,
        span,
        video,
    })
}

/// What the method chose: the rows (ascending), its parameters and steps as the summary records
/// them, and SemDeDup's report.
struct Chosen {
    rows: Vec<u64>,
    params: serde_json::Value,
    steps: Vec<Step>,
    dedup: Option<DedupReport>,
}

/// The method's selection on the loaded columns.
fn select(job: &SubsetJob, table: &Table, names: &[String], state: &Loaded) -> Result<Chosen> {
    let n_rows = state.n_rows;
    let video_slice = state.video.as_deref().map(|v| (v, state.n_videos));
    let mut steps = Vec::new();
    let mut dedup = None;
    let crit: &[f64] = state.criterion.as_deref().unwrap_or(&[]);
    let (rows, params) = match &job.method {
        Method::Random { n, seed } => (
            random_rows(n_rows, *n, *seed),
            serde_json::json!({"n": n, "seed": seed}),
        ),
        Method::Div { n, seed } => {
            let (v, nv) = video_slice.ok_or_else(|| {
                missing(
                    table,
                    "no video id",
                    names,
                    (Setting::VideoId, "unset"),
                    "name a column, or a prefix of a path column's file names",
                )
            })?;
            let rows = div_sample((0..n_rows).map(|r| (r, v[r as usize])), nv, *n, *seed);
            (rows, serde_json::json!({"n": n, "seed": seed}))
        }
        Method::Flt(o) => {
            let ok = state
                .duration_ok
                .clone()
                .unwrap_or_else(|| Bits::new(crit.len()));
            let (rows, s) = flt_select(crit, &ok, video_slice, o)?;
            steps = s;
            (rows, serde_json::to_value(o).unwrap_or_default())
        }
        Method::Aes(o) => {
            let (rows, s) = aes_select(crit, o)?;
            steps = s;
            (rows, serde_json::to_value(o).unwrap_or_default())
        }
        Method::Dedup {
            embeddings,
            kind,
            opts,
        } => {
            let (rows, report) = dedup_rows(table, n_rows, embeddings, kind, opts)?;
            dedup = Some(report);
            let mut p = serde_json::to_value(opts).unwrap_or_default();
            p["embeddings"] = serde_json::json!(embeddings);
            (rows, p)
        }
    };
    Ok(Chosen {
        rows,
        params,
        steps,
        dedup,
    })
}

/// The summary of a job that chose `chosen` from the loaded columns.
fn summary(
    job: &SubsetJob,
    plan: &load::Plan,
    state: Loaded,
    chosen: Chosen,
    t0: Instant,
) -> Summary {
    let rows = &chosen.rows;
    let mut scores = Vec::new();
    if let (Some(c), Some(v)) = (&plan.criterion, &state.criterion) {
        scores.push(score_summary(c, v.len(), |i| v[i], rows));
    }
    for (c, v) in plan.reported.iter().zip(&state.reported) {
        scores.push(score_summary(c, v.len(), |i| f64::from(v[i]), rows));
    }
    let (videos_in, videos_out) = match &state.video {
        Some(v) => {
            let mut seen = Bits::new(state.n_videos);
            rows.iter().for_each(|&r| seen.set(v[r as usize] as usize));
            (Some(state.n_videos as u64), Some(seen.count()))
        }
        None => (None, None),
    };
    Summary {
        method: job.method.name().into(),
        input: job.input.clone(),
        output: job.output.clone(),
        params: chosen.params,
        rows_in: state.n_rows,
        rows_out: rows.len() as u64,
        videos_in,
        videos_out,
        video_key: plan.video.as_ref().map(|v| match v {
            VideoSource::Column(c) => format!("column {c}"),
            VideoSource::PathPrefix { column, chars } => {
                format!("first {chars} chars of the file name in {column}")
            }
        }),
        rows_without_video_id: state.video_missing,
        rows_without_span: state.span_missing,
        steps: chosen.steps,
        scores,
        dedup: chosen.dedup,
        seconds: t0.elapsed().as_secs_f64(),
    }
}

fn score_summary(
    column: &str,
    n: usize,
    value: impl Fn(usize) -> f64,
    rows: &[u64],
) -> ScoreSummary {
    ScoreSummary {
        column: column.into(),
        before: Stats::of((0..n).map(&value)),
        after: Stats::of(rows.iter().map(|&r| value(r as usize))),
    }
}
