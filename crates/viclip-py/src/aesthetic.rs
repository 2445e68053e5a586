//! `viclip.AestheticScorer`: the LAION aesthetic predictor on CLIP ViT-L/14 image embeddings, over
//! images and over clips (the latter on the core's clip engine, without the video tower).

use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyList;
use viclip::aesthetic::{AestheticScorer, ClipVisionConfig, HeadKind, ScorerOptions};

use crate::arrays::{rgb_frame, vector};
use crate::clips::{run, sources, Settings};
use crate::errors::IntoPy;
use crate::guard::enter;

/// The aesthetic scorer InternVid uses: CLIP ViT-L/14 image embeddings, L2-normalised, through a
/// LAION aesthetic head. Shareable across threads; every method releases the GIL while it works.
#[pyclass(name = "AestheticScorer", module = "viclip", frozen)]
pub struct PyAestheticScorer {
    pub(crate) inner: AestheticScorer,
}

#[pymethods]
impl PyAestheticScorer {
    /// Loads the CLIP image tower (`clip_weights`, Hugging Face key names, `.safetensors` or
    /// `.pth`; `clip_config` a preset such as `clip-vit-l14` or a config JSON path) and the LAION
    /// head file (`head_kind`: `v1`, `v2`, `v2-relu`; `None`: detected from its keys).
    ///
    /// >>> scorer = viclip.AestheticScorer.from_files("clip-vit-large-patch14/model.safetensors",
    /// ...                                            "sac+logos+ava1-l14-linearMSE.pth")
    #[staticmethod]
    #[pyo3(signature = (clip_weights, head, clip_config = "clip-vit-l14", *, head_kind = None, device = "cpu", dtype = "f32", batch_size = 32))]
    #[allow(clippy::too_many_arguments)]
    fn from_files(
        py: Python<'_>,
        clip_weights: std::path::PathBuf,
        head: std::path::PathBuf,
        clip_config: &str,
        head_kind: Option<&str>,
        device: &str,
        dtype: &str,
        batch_size: usize,
    ) -> PyResult<Self> {
        let cfg = ClipVisionConfig::from_name_or_path(clip_config).py_err(py)?;
        let kind: Option<HeadKind> = head_kind.map(str::parse).transpose().py_err(py)?;
        viclip::Error::positive(viclip::Setting::AestheticBatchSize, Some(batch_size))
            .py_err(py)?;
        let opts = ScorerOptions::new(
            viclip::parse_device(device).py_err(py)?,
            viclip::parse_dtype(dtype).py_err(py)?,
        )
        .with_batch_size(batch_size);
        let inner = py
            .detach(|| AestheticScorer::from_files(&clip_weights, &cfg, &head, kind, &opts))
            .py_err(py)?;
        Ok(Self { inner })
    }

    /// Aesthetic scores of images, `(N,)` float32: each an `(H, W, 3)` uint8 RGB array or a PIL
    /// image (CLIP's resize and centre crop are applied here).
    ///
    /// >>> scorer.score_images([np.zeros((240, 320, 3), np.uint8)])
    /// array([4.81], dtype=float32)
    fn score_images<'py>(
        &self,
        py: Python<'py>,
        images: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let mut frames = Vec::new();
        for (i, img) in images.try_iter()?.enumerate() {
            frames.push(rgb_frame(py, &img?, &format!("image {i}"))?);
        }
        enter(py)?;
        let scores = py.detach(|| self.inner.score_images(&frames)).py_err(py)?;
        Ok(vector(py, scores))
    }

    /// Aesthetic scores of clips: `frames` uniformly sampled frames of each clip
    /// (`round(linspace(0, n - 1, frames))`), reduced by `reduce` (`max`, InternVid's; `mean`,
    /// `min`). Sources as `ViClip.embed_clips` takes them; one `Clip` per clip with `aesthetic` set
    /// (no embedding), or its error.
    ///
    /// >>> scorer.score_clips("video.mp4", [(0, 4)])[0].aesthetic
    #[pyo3(signature = (source, spans = None, *, frames = 4, reduce = "max", decode_threads = None))]
    fn score_clips<'py>(
        &self,
        py: Python<'py>,
        source: &Bound<'py, PyAny>,
        spans: Option<&Bound<'py, PyAny>>,
        frames: usize,
        reduce: &str,
        decode_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let sources = sources(py, source, spans)?;
        let settings = Settings {
            sampling: "middle",
            resize: "bicubic",
            batch_size: None,
            decode_threads,
            aesthetic_frames: frames,
            aesthetic_reduce: reduce,
        };
        run(py, None, Some(&self.inner), sources, &settings)
    }

    /// Side of the square images the CLIP tower takes (224).
    #[getter]
    fn image_size(&self) -> u32 {
        self.inner.image_size()
    }
}
