//! The HTTP endpoints: JSON over the index and the shards, thumbnail strips and videos by clip id.
//! Every handler runs its blocking work (shard reads, decoding, the model) on tokio's blocking pool.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ViewError, ViewResult};
use super::frames::{decode_strip, span_of};
use super::query::{self, ClipQuery, Column};
use super::rows::{video_file, Clip};
use super::search;
use super::state::AppState;
use super::threshold::{self, ThresholdQuery};

type St = State<Arc<AppState>>;

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(
    s: &Arc<AppState>,
    f: impl FnOnce(&AppState) -> ViewResult<T> + Send + 'static,
) -> ViewResult<T> {
    let s = s.clone();
    tokio::task::spawn_blocking(move || f(&s))
        .await
        .map_err(|e| ViewError::Internal(format!("worker: {e}")))?
}

fn clips(s: &AppState, ids: &[u64]) -> ViewResult<Vec<Clip>> {
    ids.iter().map(|&id| s.rows.clip(id)).collect()
}

/// `GET /api/summary`: the run's state, statuses, what is on.
pub async fn summary(State(s): St) -> ViewResult<Json<Value>> {
    blocking(&s, |s| {
        let idx = s.index()?;
        let st = &idx.status;
        let mut counts = std::collections::BTreeMap::<&str, u64>::new();
        for k in &idx.keys {
            *counts.entry(&idx.statuses[k.status as usize]).or_default() += 1;
        }
        Ok(Json(json!({
            "out": s.layout.out.display().to_string(),
            "table_rows": st.record.table_rows,
            "rows": idx.keys.len(),
            "shards": st.shards,
            "complete": st.complete, "in_flight": st.in_flight, "missing": st.missing,
            "status": counts,
            "aesthetic": !idx.by_aes.is_empty(),
            "embeddings": s.layout.embeddings,
            "search": match &s.model { Ok(_) => json!({"on": true}), Err(r) => json!({"on": false, "reason": r}) },
            "preprocess": s.layout.preprocess,
            "videos": s.layout.video.is_some(),
        })))
    })
    .await
}

/// `GET /api/histogram` parameters.
#[derive(Debug, Deserialize)]
pub struct HistQuery {
    col: Option<Column>,
    bins: Option<usize>,
}

/// `GET /api/histogram?col=viclip_sim|aesthetic&bins=N`.
pub async fn histogram(State(s): St, Query(q): Query<HistQuery>) -> ViewResult<Json<Value>> {
    blocking(&s, move |s| {
        let idx = s.index()?;
        let h = query::histogram(&idx, q.col.unwrap_or_default(), q.bins.unwrap_or(40))?;
        Ok(Json(json!(h)))
    })
    .await
}

/// `GET /api/clips?sort=&order=&status=&min=&max=&col=&offset=&limit=`: one page of clips.
pub async fn clip_page(State(s): St, Query(q): Query<ClipQuery>) -> ViewResult<Json<Value>> {
    blocking(&s, move |s| {
        let idx = s.index()?;
        let (total, ids) = query::page(&idx, &q)?;
        Ok(Json(
            json!({ "total": total, "offset": q.offset.unwrap_or(0), "clips": clips(s, &ids)? }),
        ))
    })
    .await
}

/// `GET /api/clip/{id}`.
pub async fn clip(State(s): St, Path(id): Path<u64>) -> ViewResult<Json<Clip>> {
    blocking(&s, move |s| {
        s.index()?.pos_of(id)?;
        Ok(Json(s.rows.clip(id)?))
    })
    .await
}

/// `GET /api/samples` parameters.
#[derive(Debug, Deserialize)]
pub struct SampleQuery {
    col: Option<Column>,
    buckets: Option<usize>,
    per: Option<usize>,
    seed: Option<u64>,
}

/// `GET /api/samples?col=&buckets=&per=&seed=`: random clips per score bucket.
pub async fn samples(State(s): St, Query(q): Query<SampleQuery>) -> ViewResult<Json<Value>> {
    blocking(&s, move |s| {
        let idx = s.index()?;
        let b = query::samples(
            &idx,
            q.col.unwrap_or_default(),
            q.buckets.unwrap_or(6),
            q.per.unwrap_or(4),
            q.seed.unwrap_or(0),
        )?;
        let out: Vec<Value> = b
            .iter()
            .map(|b| {
                Ok(json!({"lo": b.lo, "hi": b.hi, "count": b.count, "clips": clips(s, &b.ids)?}))
            })
            .collect::<ViewResult<_>>()?;
        Ok(Json(json!(out)))
    })
    .await
}

/// `GET /api/threshold?frac=&min_dur=&max_dur=&min_aes=`: the preview and its command.
pub async fn threshold(State(s): St, Query(q): Query<ThresholdQuery>) -> ViewResult<Json<Value>> {
    blocking(&s, move |s| {
        let idx = s.index()?;
        let l = &s.layout;
        let span = l.start.as_deref().zip(l.end.as_deref());
        let p = threshold::preview(&idx, &l.out, span, &q)?;
        let (above, below) = (clips(s, &p.above)?, clips(s, &p.below)?);
        let mut v = json!(p);
        v["above"] = json!(above);
        v["below"] = json!(below);
        Ok(Json(v))
    })
    .await
}

/// `GET /api/scatter?n=`: up to n (at most 5000) `[id, sim, aes]` points.
pub async fn scatter(State(s): St, Query(q): Query<HistQuery>) -> ViewResult<Json<Value>> {
    blocking(&s, move |s| {
        Ok(Json(json!(threshold::scatter(
            &*s.index()?,
            q.bins.unwrap_or(2000).min(5000)
        ))))
    })
    .await
}

/// `GET /api/search` parameters.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    q: String,
    k: Option<usize>,
}

/// `GET /api/search?q=&k=`: the top-k clips by cosine of the query and their video embeddings.
pub async fn search(State(s): St, Query(q): Query<SearchQuery>) -> ViewResult<Json<Value>> {
    let model = s.model.clone().map_err(ViewError::Unavailable)?;
    let k = q.k.unwrap_or(24);
    if k == 0 || k > search::MAX_K || q.q.len() > search::MAX_QUERY || q.q.trim().is_empty() {
        return Err(ViewError::BadRequest(format!(
            "give a query of 1 to {} bytes and k of 1 to {}",
            search::MAX_QUERY,
            search::MAX_K
        )));
    }
    blocking(&s, move |s| {
        let t = std::time::Instant::now();
        let query = search::embed_query(&model, &q.q)?;
        let idx = s.index()?;
        let shards: Vec<_> = idx
            .loaded
            .iter()
            .map(|l| (l.shard * idx.shard_size, s.layout.video_emb_path(l.shard)))
            .collect();
        let hits = search::scan(&shards, &query, k)?;
        let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
        let cards = clips(s, &ids)?;
        let out: Vec<Value> = hits
            .iter()
            .zip(cards)
            .map(|(h, c)| json!({"score": h.score, "clip": c}))
            .collect();
        Ok(Json(
            json!({"hits": out, "ms": t.elapsed().as_secs_f64() * 1e3}),
        ))
    })
    .await
}

/// `GET /clip/{id}/frames.png`: the clip's model input as a strip of frames.
pub async fn frames(State(s): St, Path(id): Path<u64>) -> ViewResult<Response> {
    let png = match s.strips.get(id) {
        Some(p) => p,
        None => {
            let _permit = s
                .decode
                .acquire()
                .await
                .map_err(|e| ViewError::Internal(e.to_string()))?;
            let png = blocking(&s, move |s| {
                if let Some(p) = s.strips.get(id) {
                    return Ok(p);
                }
                s.index()?.pos_of(id)?;
                let c = s.rows.clip(id)?;
                let path = video_file(&s.layout, &c)?;
                let span = span_of(&c, s.layout.clips.is_some())?;
                let png = Arc::new(decode_strip(path, span, &s.layout.preprocess, id)?);
                s.strips.put(id, png.clone());
                Ok(png)
            })
            .await?;
            png
        }
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        png.to_vec(),
    )
        .into_response())
}

/// `GET|HEAD /clip/{id}/video`: the clip's video file, with range requests.
pub async fn video(
    State(s): St,
    Path(id): Path<u64>,
    method: Method,
    h: HeaderMap,
) -> ViewResult<Response> {
    let path = blocking(&s, move |s| {
        s.index()?.pos_of(id)?;
        video_file(&s.layout, &s.rows.clip(id)?)
    })
    .await?;
    super::range::serve_file(&path, &h, method == Method::HEAD).await
}
