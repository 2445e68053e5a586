//! Device and dtype selection from the strings the CLI takes (`cpu`, `cuda`, `cuda:1`, `metal`;
//! `f32`, `f16`, `bf16`).

use candle_core::{DType, Device};

use crate::config::ViClipConfig;
use crate::{Error, Result};

/// Parses `cpu`, `cuda`, `cuda:N`, `metal` or `metal:N` into a device, failing clearly when this build
/// lacks the backend (`--features cuda` / `--features metal`) or the machine lacks the device.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec_l = spec.trim().to_ascii_lowercase();
    let (kind, ordinal) = match spec_l.split_once(':') {
        Some((k, n)) => {
            let n = n.parse::<usize>().map_err(|_| Error::Device {
                device: spec.to_string(),
                msg: format!("`{n}` is not a device number; use e.g. cuda:0"),
            })?;
            (k.to_string(), n)
        }
        None => (spec_l.clone(), 0),
    };
    let unavailable = |feature: &str, e: candle_core::Error| Error::Device {
        device: spec.to_string(),
        msg: format!(
            "not available ({e}); build with `--features {feature}` on a machine that has it"
        ),
    };
    match kind.as_str() {
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => Device::new_cuda(ordinal).map_err(|e| unavailable("cuda", e)),
        "metal" => Device::new_metal(ordinal).map_err(|e| unavailable("metal", e)),
        _ => Err(Error::Device {
            device: spec.to_string(),
            msg: "unknown device; use cpu, cuda, cuda:N or metal".into(),
        }),
    }
}

/// Parses `f32`, `f16` or `bf16` (also `float32`, `float16`, `bfloat16`).
pub fn parse_dtype(spec: &str) -> Result<DType> {
    match spec.trim().to_ascii_lowercase().as_str() {
        "f32" | "float32" | "float" => Ok(DType::F32),
        "f16" | "float16" | "half" => Ok(DType::F16),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        other => Err(Error::InvalidInput(format!(
            "dtype `{other}`: use f32, f16 or bf16"
        ))),
    }
}

/// Free bytes on `device` where the backend reports it (CUDA); `None` elsewhere.
pub fn free_memory(device: &Device) -> Option<usize> {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(d) = device {
        return d
            .cuda_stream()
            .context()
            .mem_get_info()
            .ok()
            .map(|(free, _)| free);
    }
    let _ = device;
    None
}

/// Bytes one clip's video-tower activations take at most (the composed path used off the CPU): the
/// residual stream, q|k|v, the MLP's 4W hidden layer and temporaries, about 16 values of width W per
/// token, counted at 4 bytes whatever the model dtype since LayerNorm and softmax run in f32.
pub fn video_bytes_per_clip(cfg: &ViClipConfig) -> usize {
    let v = &cfg.vision;
    v.seq_len() * v.width * 16 * 4
}

/// Clips per video-tower batch that fit in 80% of `device`'s free memory after the attention score
/// chunks (at most 256 MiB a chunk, with its f32 softmax copies: 1 GiB), between 1 and 256; `None`
/// when the device does not report free memory (the CPU).
pub fn auto_video_batch(cfg: &ViClipConfig, device: &Device) -> Option<usize> {
    let free = free_memory(device)?;
    let usable = (free as f64 * 0.8) as usize;
    let per_clip = video_bytes_per_clip(cfg).max(1);
    Some((usable.saturating_sub(1 << 30) / per_clip).clamp(1, 256))
}

/// Keeps memory freed by a forward pass inside the process for the next allocation instead of
/// returning it to the OS (glibc on Linux; elsewhere a no-op).
///
/// Why: glibc serves blocks over 32 MiB with a fresh `mmap` and unmaps them on free, and trims the
/// heap top above a threshold; a video-tower layer allocates and frees ~100 MiB of activations (an
/// L/14 clip's MLP hidden layer alone is 34 MB), so every layer paid for page faults and zeroing of
/// new pages (6-7% of CPU time in a B/16 profile). With this the peak RSS is unchanged, but memory
/// freed after the peak stays with the process. The `viclip` binary calls it at start; a long-running
/// program that embeds can do the same, or set
/// `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295`.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; both are valid options and values.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
