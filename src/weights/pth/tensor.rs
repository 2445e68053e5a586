//! The torch layer of a pickle: which objects are tensors, where their bytes live, and copying them out.
//!
//! torch pickles a tensor as `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
//! requires_grad, backward_hooks[, metadata])`, where `storage` is the persistent id
//! `('storage', torch.<X>Storage, key, location, numel)` naming the zip entry `data/<key>`; parameters wrap
//! that in `_rebuild_parameter(data, requires_grad, backward_hooks)`. The location (`cpu`, `cuda:0`) does
//! not matter: the bytes are the same.

use candle_core::{DType, Device, Tensor};

use crate::weights::pickle::{Id, Object, Pickle};

/// Element type of a storage, from its `torch.<X>Storage` class name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Elem {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Elem {
    fn from_storage(name: &str) -> Option<Self> {
        Some(match name {
            "DoubleStorage" => Elem::F64,
            "FloatStorage" => Elem::F32,
            "HalfStorage" => Elem::F16,
            "BFloat16Storage" => Elem::BF16,
            "LongStorage" => Elem::I64,
            "IntStorage" => Elem::I32,
            "ShortStorage" => Elem::I16,
            "CharStorage" => Elem::I8,
            // torch loads an untyped storage as bytes.
            "ByteStorage" | "UntypedStorage" => Elem::U8,
            "BoolStorage" => Elem::Bool,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Elem::F64 | Elem::I64 => 8,
            Elem::F32 | Elem::I32 => 4,
            Elem::F16 | Elem::BF16 | Elem::I16 => 2,
            Elem::I8 | Elem::U8 | Elem::Bool => 1,
        }
    }
}

/// Where one tensor's elements are: `data/<key>` as `elem`, element `offset`, then `shape`/`stride`.
pub(super) struct TensorSpec {
    pub name: String,
    /// Storage key: the tensor's bytes are in the zip entry `<archive>/data/<key>`.
    pub key: String,
    pub elem: Elem,
    /// In elements of `elem`.
    pub offset: usize,
    pub shape: Vec<usize>,
    pub stride: Vec<usize>,
    /// Bytes of the storage the tensor reaches: one past its last element (0 for an empty tensor).
    pub needed: usize,
    /// Bytes of the contiguous result.
    pub out_bytes: usize,
}

pub(super) fn is_tensor(p: &Pickle, id: Id) -> bool {
    tensor_spec(p, id, "", 0).is_ok()
}

/// Interprets the object `id` as a tensor: where its data lives and how it is laid out.
pub(super) fn tensor_spec(
    p: &Pickle,
    id: Id,
    name: &str,
    depth: usize,
) -> Result<TensorSpec, String> {
    let not_tensor = || {
        format!(
            "holds {}, not a tensor; a state dict must map names to tensors",
            p.describe(id)
        )
    };
    let (module, func, args) = p.as_call(id).ok_or_else(not_tensor)?;
    let args = p
        .as_seq(args)
        .ok_or("its rebuild arguments are not a tuple")?;
    if depth > 4 {
        return Err("tensor wrappers nested too deeply".into());
    }
    match (module, func) {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => rebuild_tensor(p, args, name),
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            tensor_spec(p, *args.first().ok_or("empty parameter")?, name, depth + 1)
        }
        // Tensor subclasses: (func, type, func_args, state); the tensor is func(*func_args).
        ("torch._tensor", "_rebuild_from_type_v2" | "_rebuild_from_type") => {
            let (Some(&func), Some(&inner)) = (args.first(), args.get(2)) else {
                return Err("malformed _rebuild_from_type arguments".into());
            };
            let (m, f) = p.as_global(func).ok_or("malformed _rebuild_from_type arguments")?;
            let inner = p.as_seq(inner).ok_or("malformed _rebuild_from_type arguments")?;
            match (m, f) {
                ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => rebuild_tensor(p, inner, name),
                _ => Err(format!("is a tensor subclass rebuilt by {m}.{f}, which is not supported")),
            }
        }
        (m, f) if m.starts_with("torch") && f.starts_with("_rebuild") => Err(format!(
            "is stored with {m}.{f} (quantized, sparse, meta or wrapper tensors are not supported); save a plain dense tensor"
        )),
        _ => Err(not_tensor()),
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, ...)`.
fn rebuild_tensor(p: &Pickle, args: &[Id], name: &str) -> Result<TensorSpec, String> {
    let [storage, offset, size, stride, ..] = args else {
        return Err("_rebuild_tensor needs (storage, offset, size, stride)".into());
    };
    let Object::PersId(pid) = p.get(*storage) else {
        return Err(format!(
            "its storage is {}, not a persistent storage reference",
            p.describe(*storage)
        ));
    };
    let pid = p.as_seq(*pid).ok_or("malformed storage reference")?;
    let [tag, class, key, ..] = pid else {
        return Err("malformed storage reference".into());
    };
    if p.as_str(*tag) != Some("storage") {
        return Err("persistent id is not a ('storage', ...) tuple".into());
    }
    let (module, class) = p.as_global(*class).ok_or("storage type is not a class")?;
    let elem = Elem::from_storage(class)
        .filter(|_| module == "torch" || module == "torch.cuda")
        .ok_or_else(|| format!("storage type {module}.{class} is not supported"))?;
    let key = match p.get(*key) {
        Object::Str(s) => s.clone(),
        Object::Int(i) => i.to_string(),
        _ => return Err("storage key is not a string".into()),
    };
    let dims = |id: Id, what: &str| -> Result<Vec<usize>, String> {
        let seq = p
            .as_seq(id)
            .ok_or_else(|| format!("{what} is {}, not a tuple", p.describe(id)))?;
        seq.iter()
            .map(|&d| p.as_int(d).and_then(|v| usize::try_from(v).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("{what} holds a negative or non-integer entry"))
    };
    let shape = dims(*size, "size")?;
    let stride = dims(*stride, "stride")?;
    if shape.len() != stride.len() {
        return Err(format!(
            "size {shape:?} and stride {stride:?} differ in length"
        ));
    }
    let offset = p
        .as_int(*offset)
        .and_then(|v| usize::try_from(v).ok())
        .ok_or("bad storage offset")?;
    let overflow = || format!("size {shape:?} / stride {stride:?} / offset {offset} overflow");
    let es = elem.size();
    let out_bytes = shape
        .iter()
        .try_fold(es, |acc, &n| acc.checked_mul(n))
        .ok_or_else(overflow)?;
    let needed = if out_bytes == 0 {
        0
    } else {
        let last = shape
            .iter()
            .zip(&stride)
            .try_fold(offset, |acc, (&n, &st)| {
                acc.checked_add((n - 1).checked_mul(st)?)
            });
        last.and_then(|l| l.checked_add(1)?.checked_mul(es))
            .ok_or_else(overflow)?
    };
    Ok(TensorSpec {
        name: name.to_string(),
        key,
        elem,
        offset,
        shape,
        stride,
        needed,
        out_bytes,
    })
}

/// Copies the tensor's elements out of its storage bytes in row-major order and makes a CPU tensor of the
/// matching candle dtype. The caller has checked `s.needed <= storage.len()`, which keeps every index below
/// in bounds: each element index is at most the last one that `needed` counts.
pub(super) fn build_tensor(storage: &[u8], s: &TensorSpec) -> Result<Tensor, String> {
    let es = s.elem.size();
    if s.out_bytes == 0 {
        return make_tensor(&[], s);
    }
    if is_contiguous(&s.shape, &s.stride) {
        let start = s.offset * es;
        return make_tensor(&storage[start..start + s.out_bytes], s);
    }
    // Walk the indices with an odometer over the outer dimensions; the innermost one is copied as a run
    // when it is dense.
    let mut data = Vec::with_capacity(s.out_bytes);
    let (inner_n, inner_s) = match (s.shape.last(), s.stride.last()) {
        (Some(&n), Some(&st)) => (n, st),
        _ => (1, 1),
    };
    let outer = &s.shape[..s.shape.len().saturating_sub(1)];
    let mut idx = vec![0usize; outer.len()];
    loop {
        let base = s.offset
            + idx
                .iter()
                .zip(&s.stride)
                .map(|(i, st)| i * st)
                .sum::<usize>();
        if inner_s == 1 {
            data.extend_from_slice(&storage[base * es..(base + inner_n) * es]);
        } else {
            for j in 0..inner_n {
                let e = base + j * inner_s;
                data.extend_from_slice(&storage[e * es..(e + 1) * es]);
            }
        }
        let mut d = outer.len();
        loop {
            if d == 0 {
                return make_tensor(&data, s);
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < outer[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Row-major dense: every dimension longer than 1 has the stride of the product of the later sizes.
fn is_contiguous(shape: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1;
    for (&n, &st) in shape.iter().zip(stride).rev() {
        if n > 1 && st != expected {
            return false;
        }
        expected *= n;
    }
    true
}

fn make_tensor(data: &[u8], s: &TensorSpec) -> Result<Tensor, String> {
    let widened;
    let (dtype, data) = match s.elem {
        Elem::F64 => (DType::F64, data),
        Elem::F32 => (DType::F32, data),
        Elem::F16 => (DType::F16, data),
        Elem::BF16 => (DType::BF16, data),
        Elem::I64 => (DType::I64, data),
        Elem::I32 => (DType::I32, data),
        Elem::I16 => (DType::I16, data),
        Elem::I8 => {
            widened = widen_i8(data);
            (DType::I16, &widened[..])
        }
        Elem::U8 | Elem::Bool => (DType::U8, data),
    };
    Tensor::from_raw_buffer(data, dtype, &s.shape, &Device::Cpu).map_err(|e| e.to_string())
}

/// candle has no i8: int8 values are widened to little-endian i16.
pub(crate) fn widen_i8(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|&b| i16::from(b as i8).to_le_bytes())
        .collect()
}
