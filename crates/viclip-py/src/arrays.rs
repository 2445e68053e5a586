//! NumPy in and out. Inputs are taken through the array interface (NumPy arrays, anything
//! `numpy.asarray` accepts: PIL images, torch CPU tensors, lists): a C-contiguous array of the right
//! dtype is read in place and copied once into the model's input; outputs are handed to NumPy
//! without a copy (the result's buffer becomes the array's, `into_pyarray`).

use candle_core::{Device, Tensor};
use numpy::ndarray::{Array1, Array2};
use numpy::{
    AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayLikeDyn, PyUntypedArrayMethods,
    TypeMustMatch,
};
use pyo3::prelude::*;
use viclip::preprocess::RgbFrame;

use crate::errors::invalid;

/// A float array of any shape as a CPU f32 tensor (one copy; other dtypes are converted by NumPy).
pub fn f32_tensor(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Tensor> {
    let arr: PyArrayLikeDyn<'_, f32, AllowTypeChange> = obj.extract().map_err(|e| {
        invalid(
            py,
            format!("{what}: expected a float32 array (anything with the array interface): {e}"),
        )
    })?;
    let shape = arr.shape().to_vec();
    // C-contiguous: read in place; otherwise (Fortran order, strided views) gathered in C order.
    // (`as_slice` also accepts Fortran order, whose memory is not in the order the shape says.)
    let t = match arr.as_slice().ok().filter(|_| arr.is_c_contiguous()) {
        Some(s) => Tensor::from_slice(s, shape.as_slice(), &Device::Cpu),
        None => Tensor::from_vec(
            arr.as_array().iter().copied().collect::<Vec<f32>>(),
            shape.as_slice(),
            &Device::Cpu,
        ),
    };
    t.map_err(|e| invalid(py, format!("{what} of shape {shape:?}: {e}")))
}

/// One `(H, W, 3)` uint8 RGB frame (a NumPy array or a PIL image, converted to RGB).
pub fn rgb_frame(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<RgbFrame> {
    let obj = pil_as_rgb(obj)?;
    let arr: PyArrayLikeDyn<'_, u8, TypeMustMatch> = obj.extract().map_err(|e| {
        invalid(
            py,
            format!("{what}: expected an (H, W, 3) uint8 RGB array or a PIL image: {e}"),
        )
    })?;
    let shape = arr.shape().to_vec();
    let [h, w, 3] = shape[..] else {
        return Err(invalid(
            py,
            format!("{what} has shape {shape:?}; expected (H, W, 3) uint8 RGB"),
        ));
    };
    let data = match arr.as_slice().ok().filter(|_| arr.is_c_contiguous()) {
        Some(s) => s.to_vec(),
        None => arr.as_array().iter().copied().collect(),
    };
    RgbFrame::new(w, h, data).map_err(|e| invalid(py, format!("{what}: {e}")))
}

/// Frames of a clip: a `(T, H, W, 3)` uint8 array or a sequence of `(H, W, 3)` frames.
pub fn rgb_frames(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<RgbFrame>> {
    rgb_frames_at(py, obj, what, |_| None)
}

/// The frames `pick(n)` chooses among the `n` frames of `obj` (as [`rgb_frames`] takes them), in
/// its order; only those are copied, so sampling 8 frames of a long video's list costs 8 copies.
/// `pick` returning `None` (or `obj` being an iterator without a length) takes every frame.
pub fn rgb_frames_at(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    what: &str,
    pick: impl Fn(usize) -> Option<Vec<usize>>,
) -> PyResult<Vec<RgbFrame>> {
    if let Ok(arr) = obj.extract::<PyArrayLikeDyn<'_, u8, TypeMustMatch>>() {
        if arr.ndim() == 4 {
            let shape = arr.shape().to_vec();
            let view = arr.as_array();
            let chosen = pick(shape[0]).unwrap_or_else(|| (0..shape[0]).collect());
            return chosen
                .into_iter()
                .map(|i| {
                    let frame = view.index_axis(numpy::ndarray::Axis(0), i);
                    let [h, w, 3] = frame.shape()[..] else {
                        return Err(invalid(
                            py,
                            format!("{what} has shape {shape:?}; expected (T, H, W, 3) uint8 RGB"),
                        ));
                    };
                    // ndarray's `as_slice` is the standard (C) layout only.
                    let data = match frame.as_slice() {
                        Some(s) => s.to_vec(),
                        None => frame.iter().copied().collect(),
                    };
                    RgbFrame::new(w, h, data).map_err(|e| invalid(py, format!("{what}: {e}")))
                })
                .collect();
        }
    }
    let chosen = obj.len().ok().and_then(&pick);
    if let Some(chosen) = chosen {
        return chosen
            .into_iter()
            .map(|i| rgb_frame(py, &obj.get_item(i)?, &format!("{what}, frame {i}")))
            .collect();
    }
    let mut frames = Vec::new();
    for (i, f) in obj.try_iter()?.enumerate() {
        frames.push(rgb_frame(py, &f?, &format!("{what}, frame {i}"))?);
    }
    Ok(frames)
}

/// A PIL image in another mode than RGB as its RGB conversion; anything else as it is.
fn pil_as_rgb<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    if obj.hasattr("convert")? && obj.hasattr("mode")? {
        let mode: String = obj.getattr("mode")?.extract().unwrap_or_default();
        if mode != "RGB" {
            return obj.call_method1("convert", ("RGB",));
        }
    }
    Ok(obj.clone())
}

/// `rows x cols` f32 values (row-major) as a NumPy array, without a copy.
pub fn matrix(
    py: Python<'_>,
    rows: usize,
    cols: usize,
    data: Vec<f32>,
) -> PyResult<Bound<'_, PyArray2<f32>>> {
    let a = Array2::from_shape_vec((rows, cols), data)
        .map_err(|e| invalid(py, format!("a result of {rows} x {cols}: {e}")))?;
    Ok(a.into_pyarray(py))
}

/// A vector as a NumPy array, without a copy.
pub fn vector<T: numpy::Element>(py: Python<'_>, data: Vec<T>) -> Bound<'_, PyArray1<T>> {
    Array1::from_vec(data).into_pyarray(py)
}

/// `(rows, E)` tensors concatenated into one row-major buffer (a single chunk is taken as it is).
pub fn rows_of(chunks: Vec<Vec<f32>>) -> Vec<f32> {
    if chunks.len() == 1 {
        return chunks.into_iter().next().unwrap_or_default();
    }
    chunks.concat()
}
