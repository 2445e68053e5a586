//! Clips of video files (or frames in memory) through the core's clip engine: the Python face of
//! `ViClip::embed_clip_sources` and of the aesthetic scorer over clips. No batch loop here: the
//! engine batches, decodes ahead and orders; this module turns its results into `viclip.Clip`s.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};
use viclip::aesthetic::{AestheticScorer, ClipScore, Reduce};
use viclip::engine::{AestheticRule, ClipEngine, ClipResult, EngineOptions};
use viclip::pipeline::{ClipInfo, ClipSource, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess, ResizeFilter};
use viclip::video::ClipSpan;
use viclip::{ClipOptions, Error, Setting};

use crate::arrays::{rgb_frames, vector};
use crate::errors::{invalid, to_instance, to_py, IntoPy};
use crate::guard::enter;

/// The clip settings shared by `embed_clips`, `score_stream` and `AestheticScorer.score_clips`, as
/// given in Python.
pub struct Settings<'a> {
    /// `middle`, `demo` or `uniform(k)`.
    pub sampling: &'a str,
    /// `bicubic` or `cv2-linear`.
    pub resize: &'a str,
    /// Clips per model batch; `None`: the model's.
    pub batch_size: Option<usize>,
    /// Decode threads; `None`: one per core.
    pub decode_threads: Option<usize>,
    /// Frames per clip the aesthetic scorer sees.
    pub aesthetic_frames: usize,
    /// `max`, `mean` or `min`.
    pub aesthetic_reduce: &'a str,
}

impl Settings<'_> {
    /// The core's clip options of these settings (unset counts stay `None`; the core refuses 0).
    pub fn clip_options(&self, py: Python<'_>) -> PyResult<ClipOptions> {
        let sampling: FrameSampling = self.sampling.parse().py_err(py)?;
        let resize: ResizeFilter = self.resize.parse().py_err(py)?;
        let mut o = ClipOptions::new()
            .with_sampling(sampling)
            .with_resize(resize);
        o.batch_size = self.batch_size;
        o.workers = self.decode_threads;
        Ok(o)
    }

    /// How clip frame scores reduce.
    pub fn reduce(&self, py: Python<'_>) -> PyResult<Reduce> {
        self.aesthetic_reduce.parse().py_err(py)
    }
}

/// The clip sources of `embed_clips`' arguments: a path with `spans`, or a list of sources.
pub fn sources(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    spans: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<ClipSource>> {
    if is_path(source) {
        return Ok(vec![video(py, source, spans)?]);
    }
    if spans.is_some_and(|s| !s.is_none()) {
        return Err(invalid(
            py,
            "spans go with a single video path; for several sources give (path, spans) pairs",
        ));
    }
    let mut out = Vec::new();
    for (i, item) in source.try_iter()?.enumerate() {
        out.push(one_source(py, &item?, i)?);
    }
    Ok(out)
}

/// One source of a list: a path, a `(path, spans)` pair or a frame array.
pub fn one_source(py: Python<'_>, item: &Bound<'_, PyAny>, i: usize) -> PyResult<ClipSource> {
    if is_path(item) {
        return video(py, item, None);
    }
    if let Ok(t) = item.cast::<PyTuple>() {
        if t.len() == 2 && is_path(&t.get_item(0)?) {
            return video(py, &t.get_item(0)?, Some(&t.get_item(1)?));
        }
    }
    let frames = rgb_frames(py, item, &format!("source {i}"))?;
    Ok(ClipSource::Frames {
        name: format!("frames {i}"),
        frames,
    })
}

/// A `str` or `os.PathLike`.
fn is_path(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__").unwrap_or(false)
}

/// A video file and its spans.
fn video(
    py: Python<'_>,
    path: &Bound<'_, PyAny>,
    spans: Option<&Bound<'_, PyAny>>,
) -> PyResult<ClipSource> {
    let path: PathBuf = path.extract()?;
    let mut out = Vec::new();
    if let Some(spans) = spans.filter(|s| !s.is_none()) {
        for s in spans.try_iter()? {
            out.push(span(py, &s?)?);
        }
    }
    Ok(ClipSource::Video { path, spans: out })
}

/// `(start, end)` with seconds or timestamps (`end` may be `None`), or `None` for the whole file.
pub fn span(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<ClipSpan> {
    if obj.is_none() {
        return Ok(ClipSpan::whole());
    }
    let bad = || {
        invalid(
            py,
            format!(
                "span {}: expected (start, end) in seconds or timestamps (\"00:01:10.5\"), end may be None",
                obj.repr().map(|r| r.to_string()).unwrap_or_default()
            ),
        )
    };
    let (start, end): (Bound<'_, PyAny>, Bound<'_, PyAny>) = obj.extract().map_err(|_| bad())?;
    if let (Ok(s), Ok(e)) = (start.extract::<f64>(), end.extract::<f64>()) {
        return ClipSpan::try_from_secs(s, e).py_err(py);
    }
    let text = |v: &Bound<'_, PyAny>| -> PyResult<String> {
        match v.extract::<f64>() {
            Ok(x) => Ok(format!("{x}")),
            Err(_) => v.extract::<String>().map_err(|_| bad()),
        }
    };
    // A number among them (e.g. `(10.5, None)`) must be a finite time too.
    for v in [&start, &end] {
        if let Ok(x) = v.extract::<f64>() {
            ClipSpan::try_from_secs(x, x).py_err(py)?;
        }
    }
    let start = text(&start)?;
    let end = if end.is_none() {
        None
    } else {
        Some(text(&end)?)
    };
    ClipSpan::parse(&start, end.as_deref()).py_err(py)
}

/// Runs the clip engine over `sources` (with the video tower when `model` is given, and the
/// aesthetic scorer when `scorer` is), Ctrl-C checked between clips: one `Clip` per clip, in order.
pub fn run<'py>(
    py: Python<'py>,
    model: Option<&viclip::ViClip>,
    scorer: Option<&AestheticScorer>,
    sources: Vec<ClipSource>,
    s: &Settings<'_>,
) -> PyResult<Bound<'py, PyList>> {
    enter(py)?;
    let clips = s.clip_options(py)?;
    let popts = match model {
        Some(m) => clips.pipeline(m).py_err(py)?,
        // Without the video tower the model input is not used: its least, one frame at 16 x 16,
        // as `viclip aesthetic --video` does.
        None => {
            let batch = Error::positive(Setting::VideoBatchSize, clips.batch_size).py_err(py)?;
            let workers = Error::positive(Setting::DecodeThreads, clips.workers).py_err(py)?;
            let preprocess = Preprocess::new(1, 16)
                .with_sampling(clips.sampling)
                .with_resize(clips.resize);
            PipelineOptions::new(preprocess)
                .with_batch_size(batch.unwrap_or(viclip::aesthetic::DEFAULT_BATCH_SIZE))
                .with_workers(workers)
        }
    };
    let rule = match scorer {
        Some(scorer) => Some(AestheticRule {
            scorer,
            frames: s.aesthetic_frames,
            reduce: s.reduce(py)?,
        }),
        None => None,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = EngineOptions::new(popts)
        .with_aesthetic(rule)
        .with_cancel(cancel.clone());
    let mut engine = py
        .detach(|| match model {
            Some(m) => ClipEngine::start(m, sources, opts),
            None => ClipEngine::without_model(sources, opts),
        })
        .py_err(py)?;
    let out = PyList::empty(py);
    loop {
        let Some(next) = py.detach(|| engine.next()) else {
            return Ok(out);
        };
        out.append(clip(py, next.map_err(|e| to_py(py, e))?)?)?;
        if let Err(e) = py.check_signals() {
            // The engine stops between two batches; the clips handed out so far are dropped with
            // the call, as a KeyboardInterrupt drops any partial result.
            cancel.store(true, Ordering::Relaxed);
            py.detach(|| engine.by_ref().for_each(drop));
            return Err(e);
        }
    }
}

/// One clip's result: its embedding and info, or its error.
#[pyclass(name = "Clip", module = "viclip", frozen, get_all)]
pub struct PyClip {
    /// Position among all clips of the call (sources in order, spans in order).
    pub index: usize,
    /// Position of the clip's source among the sources.
    pub source_index: usize,
    /// The video file (or the frames' name).
    pub source: String,
    /// `span [HH:MM:SS.mmm, HH:MM:SS.mmm)`, `whole file` or `all frames`.
    pub span: String,
    /// The unit-norm embedding `(E,)` float32; `None` when the clip failed or no model ran.
    pub embedding: Option<Py<PyArray1<f32>>>,
    /// Sampled frame indices and times, colour conversion, decode warning (a dict); `None` when
    /// the clip failed.
    pub info: Option<Py<PyAny>>,
    /// The aesthetic score; `None` without a scorer or when it could not be computed.
    pub aesthetic: Option<f32>,
    /// The scored frames' positions among the clip's frames, and their scores.
    pub aesthetic_frames: Option<(Vec<usize>, Vec<f32>)>,
    /// Why the clip has no aesthetic score (e.g. fewer frames than asked), as a `viclip.Error`.
    pub aesthetic_error: Option<Py<PyAny>>,
    /// Why the clip failed, as a `viclip.Error` instance (not raised); `None` when it did not.
    pub error: Option<Py<PyAny>>,
}

#[pymethods]
impl PyClip {
    /// Whether the clip was embedded (or decoded, without a model).
    #[getter]
    fn ok(&self) -> bool {
        self.error.is_none()
    }

    fn __repr__(&self) -> String {
        let what = match (&self.error, self.aesthetic) {
            (Some(_), _) => "error".to_string(),
            (None, Some(a)) => format!("ok, aesthetic={a:.4}"),
            (None, None) => "ok".to_string(),
        };
        format!("Clip({}, {}: {what})", self.source, self.span)
    }
}

/// A `ClipInfo` as a dict (its serde form through `json.loads`).
pub fn info_dict(py: Python<'_>, info: &ClipInfo) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(info)
        .map_err(|e| invalid(py, format!("clip info of {}: {e}", info.span)))?;
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}

fn clip(py: Python<'_>, r: ClipResult) -> PyResult<PyClip> {
    let mut c = PyClip {
        index: r.clip_index,
        source_index: r.source_index,
        source: r.source.display().to_string(),
        span: r.span,
        embedding: None,
        info: None,
        aesthetic: None,
        aesthetic_frames: None,
        aesthetic_error: None,
        error: None,
    };
    match r.outcome {
        Err(e) => c.error = Some(to_instance(py, e)),
        Ok(e) => {
            if !e.embedding.is_empty() {
                c.embedding = Some(vector(py, e.embedding).unbind());
            }
            c.info = Some(info_dict(py, &e.info)?);
            match e.aesthetic {
                Some(Ok(ClipScore {
                    score,
                    frame_indices,
                    frame_scores,
                })) => {
                    c.aesthetic = Some(score);
                    c.aesthetic_frames = Some((frame_indices, frame_scores));
                }
                Some(Err(err)) => c.aesthetic_error = Some(to_instance(py, err)),
                None => {}
            }
        }
    }
    Ok(c)
}
