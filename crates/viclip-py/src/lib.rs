//! Python bindings of viclip: the extension module `viclip._viclip` behind the `viclip` package.
//!
//! It binds the core's three ways in (preprocessed tensors, clips of video files on the clip
//! engine, the streaming scorer) and the aesthetic scorer, with NumPy in and out. Every call
//! releases the GIL while it decodes or runs a model, checks Ctrl-C between batches, and refuses to
//! run in a `fork()` child of a process that started viclip's thread pools (see `guard`).

#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]

mod aesthetic;
mod arrays;
mod clips;
mod errors;
mod guard;
mod model;
mod stream;

use pyo3::prelude::*;

/// The compiled part of the `viclip` package; import `viclip`, not this module.
#[pymodule]
fn _viclip(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<model::PyViClip>()?;
    m.add_class::<aesthetic::PyAestheticScorer>()?;
    m.add_class::<clips::PyClip>()?;
    m.add_class::<stream::PyScoreStream>()?;
    m.add_class::<stream::PyScored>()?;
    m.add_function(wrap_pyfunction!(guard::_pools_started_in, m)?)?;
    m.add_function(wrap_pyfunction!(frames_to_tensor, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// The demo's `frames2tensor` on RGB frames: `num_frames` frames at stride `len // num_frames`
/// from the first, OpenCV's bilinear resize to `size x size` (bit-exact), ImageNet normalisation in
/// float64, as `(1, T, 3, size, size)` float32. `frames`: a `(N, H, W, 3)` uint8 array or a list of
/// `(H, W, 3)` arrays; `bgr=True` when they are OpenCV's BGR (they are flipped to RGB first, as
/// the demo does).
///
/// >>> viclip._viclip.frames_to_tensor(frames, 8, 224).shape
/// (1, 8, 3, 224, 224)
#[pyfunction]
#[pyo3(signature = (frames, num_frames = 8, size = 224, *, bgr = false))]
fn frames_to_tensor<'py>(
    py: Python<'py>,
    frames: &Bound<'py, PyAny>,
    num_frames: usize,
    size: usize,
    bgr: bool,
) -> PyResult<Bound<'py, numpy::PyArray5<f32>>> {
    use errors::IntoPy;
    use viclip::preprocess::{FrameSampling, Preprocess, ResizeFilter};
    guard::enter(py)?;
    // The demo's sampling picks frames by their count alone, so only the picked ones are copied;
    // they are then the clip's frames in order, which the same sampling takes as they are.
    let mut frames = arrays::rgb_frames_at(py, frames, "frames", |n| {
        FrameSampling::Demo.indices(n, num_frames)
    })?;
    let p = Preprocess::new(num_frames, size)
        .with_sampling(FrameSampling::Demo)
        .with_resize(ResizeFilter::Cv2Linear);
    let pixels = py
        .detach(|| {
            if bgr {
                frames = frames
                    .drain(..)
                    .map(|f| {
                        let (w, h) = (f.width(), f.height());
                        let mut d = f.into_data();
                        d.chunks_exact_mut(3).for_each(|px| px.swap(0, 2));
                        viclip::preprocess::RgbFrame::new(w, h, d)
                    })
                    .collect::<viclip::Result<Vec<_>>>()?;
            }
            p.process_all(&frames, "frames", "all frames")
        })
        .py_err(py)?;
    let a = numpy::ndarray::Array5::from_shape_vec((1, num_frames, 3, size, size), pixels.pixels)
        .map_err(|e| {
        errors::invalid(
            py,
            format!("frames as (1, {num_frames}, 3, {size}, {size}): {e}"),
        )
    })?;
    Ok(numpy::IntoPyArray::into_pyarray(a, py))
}
