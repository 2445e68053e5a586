//! Checkpoint loading: PyTorch `.pth` (torch.save zip) and safetensors files as named CPU tensors.

mod pickle;
mod pth;
mod safetensors;

pub(crate) use pth::{is_safetensors_head, read_head};
pub use pth::{read_checkpoint, read_pth, read_pth_auto, NamedTensors};
pub use safetensors::{read_safetensors, MappedSafetensors};
pub(crate) use safetensors::{shapes as safetensors_shapes, LazyBackend};
