//! Strict checkpoint loading: the named tensors of a `.pth` or `.safetensors` file are checked against
//! the parameters the model for a config asks for (like PyTorch's `load_state_dict(strict=True)`), then
//! converted to the run dtype and device.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::config::ViClipConfig;
use crate::model::{parameter_shapes, ViClipModel};
use crate::weights::{read_checkpoint, NamedTensors};
use crate::{Error, Result};

/// Checks `tensors` (read from `path`) hold exactly the parameters of `cfg`, with the right shapes and a
/// floating-point dtype. The first problem found is returned, naming the tensor.
pub fn check_state_dict(cfg: &ViClipConfig, tensors: &NamedTensors, path: &Path) -> Result<()> {
    let expected = parameter_shapes(cfg)?;
    let got: HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    for (name, shape) in &expected {
        match got.get(name.as_str()) {
            None => {
                return Err(Error::MissingTensor {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: shape.clone(),
                })
            }
            Some(t) if t.dims() != shape.as_slice() => {
                return Err(Error::ShapeMismatch {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    expected: shape.clone(),
                    got: t.dims().to_vec(),
                })
            }
            Some(t) if !t.dtype().is_float() => {
                return Err(Error::UnsupportedDType {
                    path: path.to_path_buf(),
                    name: name.clone(),
                    dtype: format!("{:?}", t.dtype()),
                })
            }
            Some(_) => {}
        }
    }
    let known: std::collections::HashSet<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    if let Some((name, t)) = tensors.iter().find(|(n, _)| !known.contains(n.as_str())) {
        return Err(Error::UnexpectedTensor {
            path: path.to_path_buf(),
            name: name.clone(),
            shape: t.dims().to_vec(),
        });
    }
    Ok(())
}

/// Builds the model for `cfg` from checked tensors, converting them to `dtype` on `device`.
pub fn model_from_tensors(
    cfg: &ViClipConfig,
    tensors: NamedTensors,
    path: &Path,
    dtype: DType,
    device: &Device,
) -> Result<ViClipModel> {
    check_state_dict(cfg, &tensors, path)?;
    let map: HashMap<String, Tensor> = tensors.into_iter().collect();
    let vb = VarBuilder::from_tensors(map, dtype, device);
    Ok(ViClipModel::new(cfg, vb)?)
}

/// Reads `path` (`.pth` with its `model` entry, a plain state dict, or `.safetensors`) and builds the
/// model for `cfg` strictly.
pub fn load_model(
    path: &Path,
    cfg: &ViClipConfig,
    dtype: DType,
    device: &Device,
) -> Result<ViClipModel> {
    let tensors = read_checkpoint(path)?;
    model_from_tensors(cfg, tensors, path, dtype, device)
}
