//! `.safetensors` files over a memory map, through the `safetensors` crate.
//!
//! The format: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each tensor name to
//! `{dtype, shape, data_offsets}`, then the data. The `safetensors` crate validates the header (at most
//! 100 MB, offsets contiguous from 0, each entry's byte count equal to its shape times its dtype, the data
//! filling the rest of the file exactly), so nothing a header claims can make us allocate more than the
//! file holds.
//!
//! Each tensor is copied once, from the mapped file into its own CPU tensor; the mapped pages are then
//! handed back to the kernel (`MADV_DONTNEED`), so the process's resident memory while loading is the
//! tensors built so far plus one tensor's file pages, not the whole file on top of the model.
//!
//! A memory map assumes the file does not change while it is mapped: if another process truncates the
//! checkpoint during loading, a read of a vanished page ends the process with SIGBUS. The map lives only
//! while loading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use memmap2::{Mmap, UncheckedAdvice};
use safetensors::tensor::{Dtype, Metadata, TensorInfo};
use safetensors::SafeTensors;

use super::pth::{open_checkpoint, widen_i8, NamedTensors};
use crate::{Error, Result};

/// Bytes copied out of the map between two releases of its pages (a multiple of the page size).
const CHUNK: usize = 8 << 20;

/// A `.safetensors` file mapped into memory, its header validated; tensors are read one at a time.
pub struct MappedSafetensors {
    path: PathBuf,
    mmap: Mmap,
    /// Where the data section starts in the file (8 + header length).
    data_start: usize,
    metadata: Metadata,
}

impl std::fmt::Debug for MappedSafetensors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedSafetensors")
            .field("path", &self.path)
            .field("tensors", &self.metadata.tensors().len())
            .finish()
    }
}

impl MappedSafetensors {
    /// Maps `path` and validates its header.
    pub fn open(path: &Path) -> Result<Self> {
        let file = open_checkpoint(path)?;
        // SAFETY: the map is read-only and private to this struct, which lives only while a checkpoint
        // is loaded. Its contents are only undefined if another process changes the file meanwhile
        // (see the module docs); that is the premise of every memory-mapped reader.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let (n, metadata) = SafeTensors::read_metadata(&mmap).map_err(|e| {
            Error::checkpoint(
                path,
                format!(
                    "not a valid safetensors file ({e}); the file is truncated, corrupt or of another \
                     format: check the path or download it again"
                ),
            )
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            mmap,
            data_start: 8 + n,
            metadata,
        })
    }

    /// The file this was mapped from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensor names in data-offset (file) order.
    pub fn names(&self) -> Vec<String> {
        self.metadata.offset_keys()
    }

    /// The shape and the dtype name (as the file spells it, e.g. `F32`) of tensor `name`.
    pub fn info(&self, name: &str) -> Option<(&[usize], String)> {
        self.metadata
            .info(name)
            .map(|i| (i.shape.as_slice(), format!("{:?}", i.dtype)))
    }

    /// Whether `name` is stored with a floating-point dtype a model can load (f64, f32, f16, bf16).
    pub fn is_float(&self, name: &str) -> bool {
        self.metadata
            .info(name)
            .is_some_and(|i| matches!(i.dtype, Dtype::F64 | Dtype::F32 | Dtype::F16 | Dtype::BF16))
    }

    /// Tensor `name` as a CPU tensor in its stored dtype (I8 widened to I16 and BOOL read as U8, since
    /// candle has neither), copied once out of the map.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        let err = |msg: String| Error::checkpoint(&self.path, format!("tensor `{name}`: {msg}"));
        let info = self
            .metadata
            .info(name)
            .ok_or_else(|| err("not in the file".into()))?;
        let (dtype, widen) = candle_dtype(info).map_err(err)?;
        let (begin, end) = info.data_offsets;
        // The header was validated against the file length, so these cannot fail; checked anyway.
        let range = self
            .data_start
            .checked_add(begin)
            .zip(self.data_start.checked_add(end));
        let bytes = range
            .and_then(|(b, e)| self.mmap.get(b..e))
            .ok_or_else(|| {
                err(format!(
                    "data_offsets [{begin}, {end}] lie outside the file"
                ))
            })?;
        let at = self.data_start + begin;
        let shape = info.shape.as_slice();
        let tensor = match dtype {
            // The model's weights: decoded in chunks straight into the tensor's own buffer, each chunk's
            // pages released once copied, so a tensor never sits in memory twice.
            DType::F32 => self.decode(bytes, at, f32::from_le_bytes, shape),
            DType::F16 => self.decode(bytes, at, half::f16::from_le_bytes, shape),
            DType::BF16 => self.decode(bytes, at, half::bf16::from_le_bytes, shape),
            _ if widen => Tensor::from_raw_buffer(&widen_i8(bytes), dtype, shape, &Device::Cpu),
            _ => Tensor::from_raw_buffer(bytes, dtype, shape, &Device::Cpu),
        }
        .map_err(|e| err(e.to_string()))?;
        self.release(at, bytes.len());
        Ok(tensor)
    }

    /// Decodes little-endian elements of `N` bytes into a tensor of `shape`, releasing the mapped pages
    /// every [`CHUNK`] bytes (`at`: where `bytes` starts in the map).
    fn decode<T: candle_core::WithDType, const N: usize>(
        &self,
        bytes: &[u8],
        at: usize,
        from_le: fn([u8; N]) -> T,
        shape: &[usize],
    ) -> candle_core::Result<Tensor> {
        let mut out = Vec::with_capacity(bytes.len() / N);
        for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
            out.extend(chunk.chunks_exact(N).map(|b| {
                let mut a = [0u8; N];
                a.copy_from_slice(b);
                from_le(a)
            }));
            self.release(at + i * CHUNK, chunk.len());
        }
        Tensor::from_vec(out, shape, &Device::Cpu)
    }

    /// Every tensor, in file order.
    pub fn read_all(&self) -> Result<NamedTensors> {
        self.names()
            .into_iter()
            .map(|name| Ok((name.clone(), self.tensor(&name)?)))
            .collect()
    }

    /// Hands the pages of `len` bytes at `offset` back to the kernel once they have been copied, so that
    /// they stop counting towards the process's memory. Only advice: a failure changes nothing.
    fn release(&self, offset: usize, len: usize) {
        if len == 0 {
            return;
        }
        // SAFETY: the map is a read-only shared mapping of a file. MADV_DONTNEED drops this process's
        // page-table entries for the range; a later read (a neighbouring tensor sharing a boundary
        // page) faults the same bytes back in from the file, so no value seen through the map changes.
        let _ = unsafe {
            self.mmap
                .unchecked_advise_range(UncheckedAdvice::DontNeed, offset, len)
        };
    }
}

/// The candle dtype a stored dtype is read as, and whether it is int8 to be widened to i16.
fn candle_dtype(info: &TensorInfo) -> std::result::Result<(DType, bool), String> {
    Ok(match info.dtype {
        Dtype::F64 => (DType::F64, false),
        Dtype::F32 => (DType::F32, false),
        Dtype::F16 => (DType::F16, false),
        Dtype::BF16 => (DType::BF16, false),
        Dtype::I64 => (DType::I64, false),
        Dtype::I32 => (DType::I32, false),
        Dtype::U32 => (DType::U32, false),
        Dtype::I16 => (DType::I16, false),
        Dtype::I8 => (DType::I16, true),
        Dtype::U8 | Dtype::BOOL => (DType::U8, false),
        Dtype::F8_E4M3 => (DType::F8E4M3, false),
        other => {
            return Err(format!(
                "dtype {other:?} is not supported; convert it to f32, f16 or bf16"
            ))
        }
    })
}

/// Reads a `.safetensors` file: every tensor on the CPU in file (data offset) order, in its stored dtype
/// (see [`MappedSafetensors::tensor`]).
pub fn read_safetensors(path: &Path) -> Result<NamedTensors> {
    MappedSafetensors::open(path)?.read_all()
}

/// A [`candle_nn::VarBuilder`] backend that reads each parameter from the map when the model asks for
/// it and converts it to the run dtype and device at once: while loading, memory holds the model built
/// so far plus one tensor in its stored dtype, never the whole checkpoint twice.
pub(crate) struct LazyBackend(pub(crate) MappedSafetensors);

impl candle_nn::var_builder::SimpleBackend for LazyBackend {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        _: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        let t = self.get_unchecked(name, dtype, dev)?;
        if t.shape() != &s {
            candle_core::bail!(
                "{}: tensor `{name}` has shape {:?}, the model expects {:?}",
                self.0.path.display(),
                t.dims(),
                s.dims()
            );
        }
        Ok(t)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        let t = self
            .0
            .tensor(name)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        t.to_dtype(dtype)?.to_device(dev)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.0.metadata.info(name).is_some()
    }
}

/// Names and shapes of every tensor, for checks that need no data.
pub(crate) fn shapes(st: &MappedSafetensors) -> HashMap<String, (Vec<usize>, String, bool)> {
    st.metadata
        .tensors()
        .into_iter()
        .map(|(name, i)| {
            let is_float = st.is_float(&name);
            (name, (i.shape.clone(), format!("{:?}", i.dtype), is_float))
        })
        .collect()
}
