//! PyTorch `torch.save` checkpoints (the zip format of torch >= 1.6) as named candle tensors.
//!
//! A checkpoint is a zip whose single top folder `<archive>/` holds `data.pkl` (the pickled object),
//! `byteorder` and one entry `data/<key>` per storage. The pickle is run by the non-executing VM in
//! [`super::pickle`]; this module gives meaning to the torch parts of it: `_rebuild_tensor_v2` calls
//! (storage, offset, size, stride), `_rebuild_parameter`, `OrderedDict`, and the persistent ids
//! `('storage', torch.<X>Storage, key, location, numel)`. Everything else (optimizer state, an `EasyDict`
//! config, numbers) stays opaque and is ignored unless it is inside the selected state dict.
//!
//! Only the selected tensors are read; each storage is read once, its tensors are copied out as contiguous
//! CPU tensors in their stored dtype (honouring offset and strides, so views of a shared storage come out
//! right), and the storage is dropped before the next is read.

mod tensor;

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use candle_core::Tensor;

use super::pickle::{self, Id, Object, Pickle};
use crate::{Error, Result};
use tensor::{build_tensor, is_tensor, tensor_spec, TensorSpec};

pub(crate) use tensor::widen_i8;

/// Named tensors in file order.
pub type NamedTensors = Vec<(String, Tensor)>;

/// Reads a torch.save zip checkpoint. `key`: `Some("model")` selects that entry of the top-level dict (an
/// error names the keys that are present); `None`: the top-level object must itself be a state dict
/// (str -> tensor). Nested dicts or non-tensor values inside the selected state dict are an error naming
/// the key. Tensors come out on the CPU, contiguous, in the stored dtype (int8 widened to i16, bool as u8).
pub fn read_pth(path: &Path, key: Option<&str>) -> Result<NamedTensors> {
    let mut ckpt = Checkpoint::open(path)?;
    let dict = match key {
        Some(k) => ckpt.select(k)?,
        None => ckpt.pickle.root,
    };
    ckpt.load_state_dict(dict, key)
}

/// Like [`read_pth`], choosing the state dict automatically: the top level itself if it is a dict whose
/// values are all tensors, else its `"model"` entry, else its `"state_dict"` entry, else an error listing
/// the top-level keys.
pub fn read_pth_auto(path: &Path) -> Result<NamedTensors> {
    let mut ckpt = Checkpoint::open(path)?;
    let p = &ckpt.pickle;
    let items = ckpt.top_items()?;
    if items.iter().all(|&(_, v)| is_tensor(p, v)) {
        return ckpt.load_state_dict(p.root, None);
    }
    for key in ["model", "state_dict"] {
        if items.iter().any(|&(k, _)| p.as_str(k) == Some(key)) {
            let dict = ckpt.select(key)?;
            return ckpt.load_state_dict(dict, Some(key));
        }
    }
    Err(ckpt.err(format!(
        "cannot find a state dict: the top level holds non-tensor values and has no 'model' or 'state_dict' \
         entry; keys present: [{}]; pass the right key to read_pth",
        key_list(p, &items, 20)
    )))
}

/// Reads any supported checkpoint, dispatching on content: a zip (`PK\x03\x04`) is read with
/// [`read_pth_auto`], an 8-byte header length followed by `{` with [`super::read_safetensors`]. Legacy
/// (pre-1.6) torch files and other content get an error saying what to do.
pub fn read_checkpoint(path: &Path) -> Result<NamedTensors> {
    let head = read_head(path)?;
    if head.starts_with(b"PK\x03\x04") {
        read_pth_auto(path)
    } else if is_safetensors_head(&head) {
        super::read_safetensors(path)
    } else {
        Err(Error::checkpoint(path, unrecognized(&head)))
    }
}

/// The first bytes of a file, for sniffing its format.
/// Opens a checkpoint file for reading. A FIFO or device would block `open` or never end, so anything
/// but a regular file is refused by name first; a missing file is [`Error::Io`].
pub(crate) fn open_checkpoint(path: &Path) -> Result<File> {
    // One open, checked on the descriptor (fsutil): a path swapped for a FIFO after a check would
    // otherwise block here.
    crate::fsutil::open_regular(path, "a checkpoint").map_err(|e| match e {
        crate::fsutil::OpenError::NotRegular(msg) => Error::checkpoint(path, msg),
        e => e.into_error(path),
    })
}

/// Whether the first bytes of a file look like safetensors: an 8-byte header length, then `{`.
pub(crate) fn is_safetensors_head(head: &[u8]) -> bool {
    head.len() > 8 && &head[8..9] == b"{"
}

pub(crate) fn read_head(path: &Path) -> Result<Vec<u8>> {
    let file = open_checkpoint(path)?;
    let mut head = Vec::with_capacity(512);
    file.take(512)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    Ok(head)
}

/// Why a file that is neither a torch zip nor safetensors cannot be read.
fn unrecognized(head: &[u8]) -> String {
    let legacy_pickle = head.len() >= 2 && head[0] == 0x80 && head[1] <= 5;
    let legacy_tar = head.get(257..262) == Some(b"ustar");
    if legacy_pickle || legacy_tar {
        "legacy (pre-1.6) torch.save format, which is not supported; re-save it with a current torch: \
         torch.save(torch.load(path), new_path)"
            .into()
    } else if head.is_empty() {
        "empty file; not a PyTorch checkpoint or safetensors file".into()
    } else {
        "not a PyTorch checkpoint or safetensors file (no zip or safetensors header); check the path, or \
         re-download it if it is truncated"
            .into()
    }
}

/// An opened checkpoint: the zip and its unpickled `data.pkl`.
struct Checkpoint {
    path: PathBuf,
    zip: zip::ZipArchive<File>,
    file_len: u64,
    /// Top folder of the archive, e.g. `model` for `model/data.pkl`.
    prefix: String,
    pickle: Pickle,
}

impl Checkpoint {
    fn open(path: &Path) -> Result<Self> {
        let head = read_head(path)?;
        if !head.starts_with(b"PK\x03\x04") {
            return Err(Error::checkpoint(path, unrecognized(&head)));
        }
        let file = open_checkpoint(path)?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let zip = zip::ZipArchive::new(file).map_err(|e| {
            let msg = format!("not a readable zip archive ({e}); the file is truncated or corrupt, re-download it");
            Error::checkpoint(path, msg)
        })?;
        // The pickle sits in the one top folder; its name is the archive prefix of every other entry.
        let pkl = zip
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.into_owned()))
            .filter(|n| n == "data.pkl" || n.ends_with("/data.pkl"));
        let pkl = pkl.min_by_key(|n| (n.matches('/').count(), n.len()));
        let Some(pkl) = pkl else {
            let msg = "zip archive has no data.pkl entry, so it is not a torch.save checkpoint";
            return Err(Error::checkpoint(path, msg));
        };
        let prefix = pkl
            .strip_suffix("data.pkl")
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let mut ckpt = Checkpoint {
            path: path.into(),
            zip,
            file_len,
            prefix,
            pickle: empty_pickle(),
        };
        let byteorder = ckpt.entry_name("byteorder");
        if ckpt.zip.index_for_name(&byteorder).is_some() {
            let order = ckpt.read_entry(&byteorder, 16)?;
            if order != b"little" {
                let order = String::from_utf8_lossy(&order);
                return Err(ckpt.err(format!(
                    "{byteorder} says '{order}'; only little-endian checkpoints are supported, re-save it on a \
                     little-endian machine"
                )));
            }
        }
        let data = ckpt.read_entry(&pkl, MAX_PICKLE)?;
        ckpt.pickle = pickle::parse(&data).map_err(|e| ckpt.err(format!("{pkl}: {e}")))?;
        Ok(ckpt)
    }

    fn err(&self, msg: impl Into<String>) -> Error {
        Error::checkpoint(&self.path, msg)
    }

    fn entry_name(&self, rel: &str) -> String {
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    /// Reads a whole zip entry, refusing sizes over `max` or over the file's own length before allocating.
    fn read_entry(&mut self, name: &str, max: u64) -> Result<Vec<u8>> {
        let path = self.path.clone();
        let err = |msg: String| Error::checkpoint(&path, msg);
        let mut entry = self.zip.by_name(name).map_err(|e| match e {
            zip::result::ZipError::FileNotFound => err(format!("zip entry {name} is missing; the checkpoint is incomplete")),
            e => err(format!("cannot read zip entry {name}: {e}; torch.save writes uncompressed entries, re-save it with torch.save")),
        })?;
        let size = entry.size();
        if size > max || size > self.file_len {
            let msg = format!(
                "zip entry {name} declares {size} bytes but the file has {}; it is corrupt",
                self.file_len
            );
            return Err(err(msg));
        }
        let mut buf = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut buf).map_err(|e| {
            err(format!("reading zip entry {name} failed: {e}; the file is truncated or corrupt, re-download it"))
        })?;
        if buf.len() as u64 != size {
            return Err(err(format!(
                "zip entry {name} holds {} bytes, expected {size}; the file is corrupt",
                buf.len()
            )));
        }
        Ok(buf)
    }

    /// Items of the top-level object, which must be a dict.
    fn top_items(&self) -> Result<Vec<(Id, Id)>> {
        let p = &self.pickle;
        p.dict_items(p.root).ok_or_else(|| {
            self.err(format!(
                "the top-level object is {}, not a dict of tensors",
                p.describe(p.root)
            ))
        })
    }

    /// The value of string key `key` in the top-level dict (the last one, as in Python, if repeated).
    fn select(&self, key: &str) -> Result<Id> {
        let p = &self.pickle;
        let items = self.top_items()?;
        let found = items.iter().rev().find(|&&(k, _)| p.as_str(k) == Some(key));
        found.map(|&(_, v)| v).ok_or_else(|| {
            self.err(format!(
                "no key '{key}' at the top level; keys present: [{}]",
                key_list(p, &items, 20)
            ))
        })
    }

    /// Reads the state dict `dict` (`key` names it in messages) into tensors in file order.
    fn load_state_dict(&mut self, dict: Id, key: Option<&str>) -> Result<NamedTensors> {
        let p = &self.pickle;
        let what = key.map_or("the top-level object".to_string(), |k| {
            format!("entry '{k}'")
        });
        let items = p.dict_items(dict).ok_or_else(|| {
            self.err(format!(
                "{what} is {}, not a state dict (a dict of tensors)",
                p.describe(dict)
            ))
        })?;
        // Python dict semantics: a repeated key keeps its first position and takes its last value.
        let mut specs: Vec<TensorSpec> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (k, v) in items {
            let name = p.as_str(k).ok_or_else(|| {
                self.err(format!(
                    "{what} has key {}, which is not a string; not a state dict",
                    p.key_repr(k)
                ))
            })?;
            if let Some(sub) = p.dict_items(v) {
                let fix = if key.is_none() {
                    format!("pass the key \"{name}\" to read_pth (or use read_pth_auto) to read that dict")
                } else {
                    "only flat state dicts (name -> tensor) are supported".to_string()
                };
                return Err(self.err(format!(
                    "`{name}` in {what} is a nested dict (keys [{}]), not a tensor; {fix}",
                    key_list(p, &sub, 5)
                )));
            }
            let spec = tensor_spec(p, v, name, 0)
                .map_err(|e| self.err(format!("`{name}` in {what}: {e}")))?;
            match index.get(name) {
                Some(&i) => specs[i] = spec,
                None => {
                    index.insert(name.to_string(), specs.len());
                    specs.push(spec);
                }
            }
        }
        self.materialize(&specs)
    }

    /// Reads each storage once, in order of first use, and copies its tensors out of it.
    fn materialize(&mut self, specs: &[TensorSpec]) -> Result<NamedTensors> {
        let mut by_key: Vec<(&str, Vec<usize>)> = Vec::new();
        let mut slot: HashMap<&str, usize> = HashMap::new();
        for (i, s) in specs.iter().enumerate() {
            let j = *slot.entry(&s.key).or_insert_with(|| {
                by_key.push((&s.key, Vec::new()));
                by_key.len() - 1
            });
            by_key[j].1.push(i);
        }
        // Tensors may be views sharing a storage (tied weights, slices); each is copied out on its own,
        // so bound the total by the file's size: a small pickle of many full views of one large
        // storage would otherwise make the copies many times the checkpoint.
        let total: u64 = specs.iter().map(|s| s.out_bytes as u64).sum();
        let cap = self
            .file_len
            .saturating_mul(MAX_VIEW_FACTOR)
            .saturating_add(MAX_OVERLAPPING_VIEW as u64);
        if total > cap {
            return Err(self.err(format!(
                "its tensors hold {total} bytes in all, more than {MAX_VIEW_FACTOR} times the file's {} bytes; \
                 too many views of shared storages (save each tensor with .clone())",
                self.file_len
            )));
        }
        let mut out: Vec<Option<Tensor>> = vec![None; specs.len()];
        for (key, users) in by_key {
            let entry = self.entry_name(&format!("data/{key}"));
            let bytes = self.read_entry(&entry, u64::MAX)?;
            for &i in &users {
                let s = &specs[i];
                if s.needed > bytes.len() {
                    return Err(self.err(format!(
                        "truncated: zip entry {entry} holds {} bytes, tensor `{}` needs {}; re-download or re-save the checkpoint",
                        bytes.len(),
                        s.name,
                        s.needed
                    )));
                }
                // Only overlapping views (stride 0, as from expand()) can be larger than their storage; cap
                // those so a corrupt size cannot make us allocate without bound.
                if s.out_bytes > bytes.len().max(MAX_OVERLAPPING_VIEW) {
                    return Err(self.err(format!(
                        "tensor `{}` is a view of {} bytes over a storage of {} bytes (shape {:?}, stride {:?}); \
                         save tensor.contiguous() instead",
                        s.name,
                        s.out_bytes,
                        bytes.len(),
                        s.shape,
                        s.stride
                    )));
                }
                out[i] = Some(
                    build_tensor(&bytes, s)
                        .map_err(|e| self.err(format!("tensor `{}`: {e}", s.name)))?,
                );
            }
        }
        let tensors = specs
            .iter()
            .zip(out)
            .filter_map(|(s, t)| t.map(|t| (s.name.clone(), t)));
        Ok(tensors.collect())
    }
}

/// Largest data.pkl read; real ones are kilobytes to a few megabytes (tensor data lives in other entries).
const MAX_PICKLE: u64 = 1 << 30;

/// How many times the file's size the tensors of one checkpoint may add up to (shared storages).
const MAX_VIEW_FACTOR: u64 = 4;

/// Largest contiguous copy of an overlapping (e.g. expanded) view that is larger than its storage.
const MAX_OVERLAPPING_VIEW: usize = 256 << 20;

fn empty_pickle() -> Pickle {
    Pickle {
        objects: vec![Object::None],
        root: 0,
    }
}

/// `'a', 'b', ...` for error messages (at most `max` keys).
fn key_list(p: &Pickle, items: &[(Id, Id)], max: usize) -> String {
    let mut keys: Vec<String> = items
        .iter()
        .take(max)
        .map(|&(k, _)| p.key_repr(k))
        .collect();
    if items.len() > max {
        keys.push(format!("... {} more", items.len() - max));
    }
    keys.join(", ")
}
