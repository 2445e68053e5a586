//! Strict checkpoint loading: the named tensors of a `.pth` or `.safetensors` file are checked against
//! the parameters the model for a config asks for (like PyTorch's `load_state_dict(strict=True)`), then
//! converted to the run dtype and device.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::VarBuilder;

use crate::config::ViClipConfig;
use crate::model::{parameter_shapes, ViClipModel};
use crate::weights::{
    is_safetensors_head, read_checkpoint, read_head, safetensors_shapes, LazyBackend,
    MappedSafetensors, NamedTensors,
};
use crate::{Error, Result};

/// Checks `tensors` (read from `path`) hold exactly the parameters of `cfg`, with the right shapes and a
/// floating-point dtype. The first problem found is returned, naming the tensor.
pub fn check_state_dict(cfg: &ViClipConfig, tensors: &NamedTensors, path: &Path) -> Result<()> {
    let got = tensors
        .iter()
        .map(|(n, t)| {
            let dtype = format!("{:?}", t.dtype());
            (n.clone(), (t.dims().to_vec(), dtype, t.dtype().is_float()))
        })
        .collect();
    check_entries(cfg, &got, tensors.iter().map(|(n, _)| n.as_str()), path)
}

/// Name -> (shape, dtype name, is floating point): what the strict check needs of a checkpoint.
type Entries = HashMap<String, (Vec<usize>, String, bool)>;

/// The strict check over names, shapes and dtypes; `order` is the file order, so that the first
/// unexpected tensor reported is the first in the file.
fn check_entries<'a>(
    cfg: &ViClipConfig,
    got: &Entries,
    order: impl Iterator<Item = &'a str>,
    path: &Path,
) -> Result<()> {
    let expected = parameter_shapes(cfg)?;
    for (name, shape) in &expected {
        match got.get(name.as_str()) {
            None => {
                return Err(Error::MissingTensor {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: shape.clone(),
                })
            }
            Some((dims, _, _)) if dims != shape => {
                return Err(Error::ShapeMismatch {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: shape.clone(),
                    got: dims.clone(),
                })
            }
            Some((_, dtype, false)) => {
                return Err(Error::UnsupportedDType {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    dtype: dtype.clone(),
                })
            }
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    if let Some(name) = order.into_iter().find(|n| !known.contains(n)) {
        return Err(Error::UnexpectedTensor {
            path: path.to_path_buf(),
            name: name.to_string(),
            shape: got.get(name).map(|(d, _, _)| d.clone()).unwrap_or_default(),
        });
    }
    Ok(())
}

/// Builds the model for `cfg` from checked tensors, converting them to `dtype` on `device`.
pub fn model_from_tensors(
    cfg: &ViClipConfig,
    tensors: NamedTensors,
    path: &Path,
    device: &Device,
    dtype: DType,
) -> Result<ViClipModel> {
    check_state_dict(cfg, &tensors, path)?;
    let map: HashMap<String, Tensor> = tensors.into_iter().collect();
    let vb = VarBuilder::from_tensors(map, dtype, device);
    Ok(ViClipModel::new(cfg, vb)?)
}

/// Reads `path` (`.pth` with its `model` entry, a plain state dict, or `.safetensors`) and builds the
/// model for `cfg` strictly, in `dtype` on `device`.
///
/// A `.safetensors` file is checked from its header alone, then each parameter is read from the
/// memory-mapped file when the model takes it and converted at once: loading holds the model plus one
/// tensor. A `.pth` file is read whole first (its storages are compressed or interleaved in a zip).
pub fn load_model(
    path: &Path,
    cfg: &ViClipConfig,
    device: &Device,
    dtype: DType,
) -> Result<ViClipModel> {
    if !is_safetensors_head(&read_head(path)?) {
        return model_from_tensors(cfg, read_checkpoint(path)?, path, device, dtype);
    }
    let st = MappedSafetensors::open(path)?;
    check_entries(
        cfg,
        &safetensors_shapes(&st),
        st.names().iter().map(String::as_str),
        path,
    )?;
    let backend: Box<dyn SimpleBackend> = Box::new(LazyBackend(st));
    let vb = VarBuilder::from_backend(backend, dtype, device.clone());
    Ok(ViClipModel::new(cfg, vb)?)
}
