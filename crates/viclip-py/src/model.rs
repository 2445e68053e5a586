//! `viclip.ViClip`: a loaded model embedding captions, preprocessed videos and images, and clips of
//! video files (on the core's clip engine), and scoring (clip, caption) streams.

use std::path::PathBuf;
use std::sync::OnceLock;

use candle_core::{DType, Tensor};
use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::types::PyList;
use viclip::{LoadOptions, ViClipConfig};

use crate::arrays::{f32_tensor, matrix, rows_of};
use crate::errors::{invalid, IntoPy};
use crate::guard::{chunked, enter};

/// A ViCLIP model ready to embed; load it with `ViClip.from_files` or `ViClip.from_pretrained`.
///
/// One object may be shared by any number of threads: every method releases the GIL while it
/// works, and calls from several threads run at the same time. Embeddings are float32 NumPy arrays;
/// with `normalize=True` (the default everywhere) each row has unit L2 norm, as the original
/// `get_text_features` / `get_vid_features` give them.
#[pyclass(name = "ViClip", module = "viclip", frozen)]
pub struct PyViClip {
    pub(crate) inner: viclip::ViClip,
    weights: Option<PathBuf>,
    identity: OnceLock<String>,
}

/// Load options from the Python keyword arguments.
fn load_options(
    py: Python<'_>,
    device: &str,
    dtype: &str,
    batch_size: Option<usize>,
    text_batch_size: Option<usize>,
) -> PyResult<LoadOptions> {
    Ok(LoadOptions::from_names(device, dtype)
        .py_err(py)?
        .with_batch_size(batch_size)
        .with_text_batch_size(text_batch_size))
}

#[pymethods]
impl PyViClip {
    /// Loads a `.pth` or `.safetensors` checkpoint strictly for `config` (a preset name,
    /// `viclip-l14` or `viclip-b16`, or the path of a config JSON).
    ///
    /// `device`: `cpu`, `cuda`, `cuda:N` or `metal` (when built with that backend); `dtype`: `f32`,
    /// `f16` or `bf16`; `batch_size` videos and `text_batch_size` captions per forward pass (`None`:
    /// picked for the device).
    ///
    /// >>> model = viclip.ViClip.from_files("ViClip-InternVid-10M-FLT.pth", "viclip-l14")
    #[staticmethod]
    #[pyo3(signature = (weights, config = "viclip-l14", *, device = "cpu", dtype = "f32", batch_size = None, text_batch_size = None))]
    fn from_files(
        py: Python<'_>,
        weights: PathBuf,
        config: &str,
        device: &str,
        dtype: &str,
        batch_size: Option<usize>,
        text_batch_size: Option<usize>,
    ) -> PyResult<Self> {
        let opts = load_options(py, device, dtype, batch_size, text_batch_size)?;
        let cfg = ViClipConfig::from_name_or_path(config).py_err(py)?;
        let inner = py
            .detach(|| viclip::ViClip::from_files(&weights, &cfg, opts))
            .py_err(py)?;
        Ok(Self {
            inner,
            weights: Some(weights),
            identity: OnceLock::new(),
        })
    }

    /// Loads a released checkpoint by its name in the weights manifest (e.g.
    /// `viclip-l14-internvid-10m-flt`), downloading it once into the Hugging Face cache and checking
    /// its sha256. Needs a build with the `hub` feature.
    ///
    /// >>> model = viclip.ViClip.from_pretrained("viclip-l14-internvid-10m-flt")
    #[staticmethod]
    #[pyo3(signature = (name, *, device = "cpu", dtype = "f32", batch_size = None, text_batch_size = None))]
    fn from_pretrained(
        py: Python<'_>,
        name: &str,
        device: &str,
        dtype: &str,
        batch_size: Option<usize>,
        text_batch_size: Option<usize>,
    ) -> PyResult<Self> {
        let opts = load_options(py, device, dtype, batch_size, text_batch_size)?;
        pretrained(py, name, opts)
    }

    /// L2-normalised caption embeddings (`normalize=False`: before normalisation), `(N, E)` float32.
    ///
    /// >>> model.embed_texts(["a dog plays in the snow"]).shape
    /// (1, 768)
    #[pyo3(signature = (texts, *, normalize = true))]
    fn embed_texts<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        normalize: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        enter(py)?;
        let m = &self.inner;
        let chunks = chunked(py, texts.len(), m.text_batch_size(), |r| {
            let t = &texts[r];
            rows(if normalize {
                m.embed_texts(t).map(viclip::Embeddings::into_tensor)
            } else {
                m.encode_texts(t)
            })
        })?;
        matrix(py, texts.len(), self.embedding_dim(), rows_of(chunks))
    }

    /// The CLIP BPE token ids the text tower reads, `(N, 32)` int64: `[SOT] + BPE + [EOT]`,
    /// zero-padded, cut to 32 with the last id forced to EOT.
    ///
    /// >>> model.tokenize(["a dog"])[0, :4]
    /// array([49406,   320,  1929, 49407])
    fn tokenize<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
    ) -> PyResult<Bound<'py, PyArray2<i64>>> {
        let ctx = self.inner.config().text.context_length;
        let ids: Vec<i64> = py.detach(|| {
            self.inner
                .tokenizer()
                .tokenize_batch(&texts, ctx)
                .into_iter()
                .flatten()
                .map(i64::from)
                .collect()
        });
        let a = numpy::ndarray::Array2::from_shape_vec((texts.len(), ctx), ids)
            .map_err(|e| invalid(py, format!("token ids: {e}")))?;
        Ok(numpy::IntoPyArray::into_pyarray(a, py))
    }

    /// Video embeddings of preprocessed clips `(B, T, 3, S, S)` float32 (ImageNet mean/std
    /// normalised RGB, `T = num_frames`, `S = input_size`) → `(B, E)`.
    ///
    /// >>> model.embed_videos(np.zeros((2, 8, 3, 224, 224), np.float32)).shape
    /// (2, 768)
    #[pyo3(signature = (videos, *, normalize = true))]
    fn embed_videos<'py>(
        &self,
        py: Python<'py>,
        videos: &Bound<'py, PyAny>,
        normalize: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let t = f32_tensor(py, videos, "videos")?;
        self.embed_pixels(py, t, normalize, false)
    }

    /// Embeddings of single preprocessed images `(B, 3, S, S)` through the video tower (T = 1) →
    /// `(B, E)`.
    ///
    /// >>> model.embed_images(np.zeros((1, 3, 224, 224), np.float32)).shape
    /// (1, 768)
    #[pyo3(signature = (images, *, normalize = true))]
    fn embed_images<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
        normalize: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let t = f32_tensor(py, images, "images")?;
        self.embed_pixels(py, t, normalize, true)
    }

    /// Embedding dimension E (768 for ViCLIP-L/14).
    #[getter]
    fn embedding_dim(&self) -> usize {
        self.inner.config().embed_dim
    }

    /// Frames per clip T the video tower takes (8).
    #[getter]
    fn num_frames(&self) -> usize {
        self.inner.config().vision.num_frames
    }

    /// Side S of the square frames the video tower takes (224).
    #[getter]
    fn input_size(&self) -> usize {
        self.inner.config().vision.input_resolution
    }

    /// Token ids per caption (32).
    #[getter]
    fn context_length(&self) -> usize {
        self.inner.config().text.context_length
    }

    /// Videos per forward pass of the video tower.
    #[getter]
    fn batch_size(&self) -> usize {
        self.inner.batch_size()
    }

    /// Captions per forward pass of the text tower.
    #[getter]
    fn text_batch_size(&self) -> usize {
        self.inner.text_batch_size()
    }

    /// The checkpoint file the model was loaded from.
    #[getter]
    fn weights(&self) -> Option<PathBuf> {
        self.weights.clone()
    }

    /// The model's identity: the sha256 of its checkpoint file, hex (computed on first use).
    #[getter]
    fn identity(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let Some(path) = &self.weights else {
            return Ok(None);
        };
        if let Some(id) = self.identity.get() {
            return Ok(Some(id.clone()));
        }
        let id = py
            .detach(|| viclip::manifest::sha256_file(path))
            .py_err(py)?;
        Ok(Some(self.identity.get_or_init(|| id).clone()))
    }

    fn __repr__(&self) -> String {
        let o = self.inner.options();
        format!(
            "ViClip(weights={:?}, embedding_dim={}, num_frames={}, input_size={}, device={:?}, dtype={:?})",
            self.weights.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            self.embedding_dim(),
            self.num_frames(),
            self.input_size(),
            o.device,
            o.dtype
        )
    }

    /// Embeds clips of video files (or of frames in memory) on the clip engine: decoding runs on
    /// `decode_threads` threads while the model embeds the previous batch. One `Clip` per clip, in
    /// order; a clip that cannot be embedded carries its own `error` and the others go on.
    ///
    /// `source`: a video path with `spans` (a list of `(start, end)` in seconds or timestamps such as
    /// `"00:01:10.5"`, `end` may be `None`; no spans: the whole file), or a list of sources, each a
    /// path, a `(path, spans)` pair or a `(T, H, W, 3)` uint8 RGB frame array. `sampling`: `middle`
    /// (the evaluation's), `demo` or `uniform(k)`; `resize`: `bicubic` or `cv2-linear`. With an
    /// `aesthetic` scorer each clip also gets its aesthetic score from the same decode.
    ///
    /// >>> clips = model.embed_clips("video.mp4", [(0, 4), ("00:00:12.5", "00:00:16")])
    /// >>> clips[0].embedding.shape, clips[1].error
    /// ((768,), None)
    #[pyo3(signature = (source, spans = None, *, sampling = "middle", resize = "bicubic", batch_size = None, decode_threads = None, aesthetic = None, aesthetic_frames = 4, aesthetic_reduce = "max"))]
    #[allow(clippy::too_many_arguments)]
    fn embed_clips<'py>(
        &self,
        py: Python<'py>,
        source: &Bound<'py, PyAny>,
        spans: Option<&Bound<'py, PyAny>>,
        sampling: &str,
        resize: &str,
        batch_size: Option<usize>,
        decode_threads: Option<usize>,
        aesthetic: Option<PyRef<'py, crate::aesthetic::PyAestheticScorer>>,
        aesthetic_frames: usize,
        aesthetic_reduce: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let sources = crate::clips::sources(py, source, spans)?;
        let settings = crate::clips::Settings {
            sampling,
            resize,
            batch_size,
            decode_threads,
            aesthetic_frames,
            aesthetic_reduce,
        };
        let scorer = aesthetic.as_ref().map(|a| &a.inner);
        crate::clips::run(py, Some(&self.inner), scorer, sources, &settings)
    }

    /// Scores `(clip, caption)` items lazily and in order: an iterator of `Scored` results with the
    /// CLIP-SIM (cosine of the clip's and the caption's embeddings) and, with an `aesthetic` scorer,
    /// the clip's aesthetic score from the same decode. `items` is any iterable (read only as far as
    /// decoding has got) of `(path, caption)`, `(path, (start, end), caption)` or
    /// `(frames, caption)` with `frames` a `(T, H, W, 3)` uint8 array. A failing item (missing file,
    /// span outside the video, empty caption) is a `Scored` with its `error`; the others go on.
    ///
    /// >>> for s in model.score_stream([("a.mp4", (0, 4), "a dog runs")]):
    /// ...     print(s.sim, s.error)
    #[pyo3(signature = (items, *, aesthetic = None, sampling = "middle", resize = "bicubic", batch_size = None, text_batch_size = None, decode_threads = None, aesthetic_frames = 4, aesthetic_reduce = "max"))]
    #[allow(clippy::too_many_arguments)]
    fn score_stream(
        slf: &Bound<'_, Self>,
        items: &Bound<'_, PyAny>,
        aesthetic: Option<&Bound<'_, crate::aesthetic::PyAestheticScorer>>,
        sampling: &str,
        resize: &str,
        batch_size: Option<usize>,
        text_batch_size: Option<usize>,
        decode_threads: Option<usize>,
        aesthetic_frames: usize,
        aesthetic_reduce: &str,
    ) -> PyResult<crate::stream::PyScoreStream> {
        let settings = crate::clips::Settings {
            sampling,
            resize,
            batch_size,
            decode_threads,
            aesthetic_frames,
            aesthetic_reduce,
        };
        crate::stream::start(slf, items, aesthetic, &settings, text_batch_size)
    }
}

impl PyViClip {
    /// Video or image embeddings, batch by batch of the model's batch size with Ctrl-C checked in
    /// between (the same chunks `ViClip::embed_videos` makes, so the same values).
    fn embed_pixels<'py>(
        &self,
        py: Python<'py>,
        t: Tensor,
        normalize: bool,
        images: bool,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        enter(py)?;
        let m = &self.inner;
        let n = t.dims().first().copied().unwrap_or(0);
        let chunks = chunked(py, n.max(1), m.batch_size(), |r| {
            // An empty batch still goes through once, so its shape is checked.
            let part = if n == 0 {
                t.clone()
            } else {
                t.narrow(0, r.start, r.len())?
            };
            let part = if images {
                if part.rank() != 4 {
                    return Err(viclip::Error::InvalidInput(format!(
                        "image tensor of shape {:?}: expected (B, 3, S, S)",
                        part.dims()
                    )));
                }
                part.unsqueeze(1)?
            } else {
                part
            };
            rows(if normalize {
                m.embed_videos(&part).map(viclip::Embeddings::into_tensor)
            } else {
                m.encode_videos(&part)
            })
        })?;
        matrix(py, n, self.embedding_dim(), rows_of(chunks))
    }
}

/// A `[n, E]` result tensor as its row-major values.
fn rows(t: viclip::Result<Tensor>) -> viclip::Result<Vec<f32>> {
    Ok(t?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
}

#[cfg(feature = "hub")]
fn pretrained(py: Python<'_>, name: &str, opts: LoadOptions) -> PyResult<PyViClip> {
    let (inner, fetched) = py
        .detach(|| viclip::ViClip::from_pretrained_with_path(name, opts))
        .py_err(py)?;
    Ok(PyViClip {
        inner,
        weights: Some(fetched.path.clone()),
        identity: OnceLock::from(fetched.sha256.clone()),
    })
}

#[cfg(not(feature = "hub"))]
fn pretrained(py: Python<'_>, name: &str, _opts: LoadOptions) -> PyResult<PyViClip> {
    Err(invalid(
        py,
        format!(
            "{name}: this viclip was built without downloads (the `hub` feature); load the \
             checkpoint file with ViClip.from_files, or reinstall with \
             pip install ./crates/viclip-py --config-settings=build-args=\"--features hub\""
        ),
    ))
}
