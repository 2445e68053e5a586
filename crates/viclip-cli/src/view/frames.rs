//! Thumbnail strips: the frames the model saw, as it saw them (the run's sampling, resize, `T` and
//! `S`), decoded on demand through the library's clip engine with no model, de-normalised back to
//! RGB and laid side by side in one PNG; strips are cached up to a byte budget.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use viclip::engine::{ClipEngine, EngineOptions};
use viclip::pipeline::{ClipSource, PipelineOptions};
use viclip::preprocess::{Preprocess, IMAGENET_MEAN, IMAGENET_STD};
use viclip::video::{parse_timestamp, ClipSpan};

use super::error::{ViewError, ViewResult};
use super::rows::Clip;

/// Bytes of PNG strips kept in memory.
const CACHE_BYTES: usize = 64 << 20;

/// The span of a clip's row: start / end cells, or a `clips` cell (`[[s, e]]` or `[s, e]`).
pub fn span_of(c: &Clip, clips_column: bool) -> ViewResult<ClipSpan> {
    let bad = |m: String| ViewError::NotFound(format!("clip {}: span: {m}", c.id));
    let t = |s: &str| parse_timestamp(s.trim()).map_err(|e| bad(e.to_string()));
    if clips_column {
        let cell = c
            .end
            .as_deref()
            .ok_or_else(|| bad("the clips cell is empty".into()))?;
        let v: serde_json::Value = serde_json::from_str(cell).map_err(|e| bad(e.to_string()))?;
        let pair = match v.as_array().map(Vec::as_slice) {
            Some([serde_json::Value::Array(p)]) => p.clone(),
            Some(p) => p.to_vec(),
            None => return Err(bad(format!("`{cell}` is not [[start, end]]"))),
        };
        let time = |x: &serde_json::Value| match x {
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(|s| (s * 1e6).round() as i64)
                .ok_or_else(|| bad(format!("`{x}`"))),
            serde_json::Value::String(s) => t(s),
            _ => Err(bad(format!("`{x}` is not a time"))),
        };
        return match pair.as_slice() {
            [a, b] => Ok(ClipSpan {
                start_us: time(a)?,
                end_us: Some(time(b)?),
            }),
            _ => Err(bad(format!("`{cell}` is not [[start, end]]"))),
        };
    }
    Ok(ClipSpan {
        start_us: c.start.as_deref().map(t).transpose()?.unwrap_or(0),
        end_us: c.end.as_deref().map(t).transpose()?,
    })
}

/// Decodes the clip's model input and returns it as a PNG strip of `T` frames of `S x S`.
pub fn decode_strip(
    path: PathBuf,
    span: ClipSpan,
    pre: &Preprocess,
    id: u64,
) -> ViewResult<Vec<u8>> {
    let opts = EngineOptions::new(
        PipelineOptions::new(pre.clone())
            .with_batch_size(1)
            .with_workers(1),
    )
    .keeping_inputs();
    let source = ClipSource::Video {
        path,
        spans: vec![span],
    };
    let mut engine = ClipEngine::without_model(vec![source], opts)?;
    let result = engine.next().ok_or_else(|| {
        ViewError::Internal(format!("clip {id}: the engine returned no result"))
    })??;
    let clip = result
        .outcome
        .map_err(|e| ViewError::NotFound(format!("clip {id}: {e}")))?;
    let pixels = clip
        .pixels
        .ok_or_else(|| ViewError::Internal(format!("clip {id}: no model input kept")))?;
    let dims = pixels.dims().to_vec();
    let [t, 3, s, s2] = dims[..] else {
        return Err(ViewError::Internal(format!(
            "clip {id}: model input of shape {dims:?}, not (T, 3, S, S)"
        )));
    };
    debug_assert_eq!(s, s2);
    let v: Vec<f32> = pixels
        .flatten_all()
        .and_then(|p| p.to_dtype(candle_core::DType::F32))
        .and_then(|p| p.to_vec1())
        .map_err(|e| ViewError::Internal(format!("clip {id}: {e}")))?;
    let mut img = image::RgbImage::new((t * s) as u32, s as u32);
    for f in 0..t {
        for c in 0..3 {
            let plane = &v[(f * 3 + c) * s * s..(f * 3 + c + 1) * s * s];
            for (i, x) in plane.iter().enumerate() {
                let rgb = (*x as f64 * IMAGENET_STD[c] + IMAGENET_MEAN[c]) * 255.0;
                let px = img.get_pixel_mut((f * s + i % s) as u32, (i / s) as u32);
                px.0[c] = rgb.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| ViewError::Internal(format!("clip {id}: PNG: {e}")))?;
    Ok(png)
}

/// Strips by clip id, most recent first, within 64 MB.
#[derive(Default)]
pub struct StripCache {
    entries: Mutex<VecDeque<(u64, Arc<Vec<u8>>)>>,
}

impl StripCache {
    /// The cached strip of `id`.
    pub fn get(&self, id: u64) -> Option<Arc<Vec<u8>>> {
        let e = self.entries.lock().ok()?;
        e.iter().find(|(i, _)| *i == id).map(|(_, v)| v.clone())
    }

    /// Keeps `png` as the strip of `id`, dropping the oldest beyond the budget.
    pub fn put(&self, id: u64, png: Arc<Vec<u8>>) {
        let Ok(mut e) = self.entries.lock() else {
            return;
        };
        e.retain(|(i, _)| *i != id);
        e.push_front((id, png));
        let mut total = 0;
        let keep = e.iter().take_while(|(_, v)| {
            total += v.len();
            total <= CACHE_BYTES
        });
        let n = keep.count().max(1);
        e.truncate(n);
    }
}
