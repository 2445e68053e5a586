//! Peak memory of loading a checkpoint (random weights at the real shapes):
//!
//! - `cargo run --release --example load_memory -- write FILE [l14|b16]` writes a `.safetensors` file
//!   of random weights (f32) for the config;
//! - `cargo run --release --example load_memory -- load FILE [l14|b16] [f32|f16|bf16]` loads it with
//!   `load_model` on the CPU and prints the process's peak resident set (VmHWM) and, after loading,
//!   the resident anonymous memory (the heap: the model) and the resident file pages (a memory map).
//!
//! With `keep` as a fifth argument the allocator first keeps freed memory, as the `viclip` binary does
//! (`device::keep_freed_memory`). One load per process, so that the peak is that load's own.

use std::collections::HashMap;

use candle_core::Device;
use viclip::model::random_state_dict;
use viclip::ViClipConfig;

/// A `/proc/self/status` field in MiB (Linux).
fn status_mib(field: &str) -> f64 {
    let read = || -> Option<f64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    };
    read().unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(file)) = (args.get(1), args.get(2)) else {
        anyhow::bail!("usage: load_memory write|load FILE [l14|b16] [f32|f16|bf16] [keep]");
    };
    let cfg = match args.get(3).map(String::as_str) {
        Some("b16") => ViClipConfig::viclip_b16(),
        _ => ViClipConfig::viclip_l14(),
    };
    match mode.as_str() {
        "write" => {
            let dict: HashMap<String, candle_core::Tensor> = random_state_dict(&cfg, 1)?;
            candle_core::safetensors::save(&dict, file)?;
            let bytes = std::fs::metadata(file)?.len();
            println!("wrote {file}: {:.0} MiB", bytes as f64 / (1 << 20) as f64);
        }
        "load" => {
            let dtype = viclip::device::parse_dtype(args.get(4).map_or("f32", String::as_str))?;
            if args.get(5).map(String::as_str) == Some("keep") {
                viclip::device::keep_freed_memory();
            }
            let before = status_mib("VmHWM:");
            let t = std::time::Instant::now();
            let model = viclip::load_model(file.as_ref(), &cfg, &Device::Cpu, dtype)?;
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{dtype:?}: peak RSS {before:.0} MiB before, {:.0} MiB after loading ({secs:.2} s); \
                 now {:.0} MiB anonymous + {:.0} MiB file pages",
                status_mib("VmHWM:"),
                status_mib("RssAnon:"),
                status_mib("RssFile:"),
            );
            drop(model);
        }
        other => anyhow::bail!("unknown mode {other}: use write or load"),
    }
    Ok(())
}
