//! A resident model for side-by-side timing (`benches/compare_pytorch.py`): loads a safetensors checkpoint
//! and an input once, then for each `run` line on stdin does one forward pass and prints the seconds it
//! took; `save PATH` writes the last output as .npy; `quit` ends.
//!
//! `cargo run --release --example forward_server -- WEIGHTS CONFIG video|text INPUT.npy`
//! (video input: f32 (B, T, 3, H, W); text input: i64 (N, 32) token ids).
//!
//! Like the `viclip` binary it keeps freed memory in the process (`device::keep_freed_memory`);
//! `VICLIP_DEFAULT_MALLOC=1` leaves the allocator at its defaults.

use std::io::BufRead;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use viclip::{load_model, ViClipConfig};

fn main() -> Result<()> {
    if std::env::var("VICLIP_DEFAULT_MALLOC").map_or(true, |v| v != "1") {
        viclip::device::keep_freed_memory();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [weights, config, what, input] = args.as_slice() else {
        bail!("usage: forward_server WEIGHTS CONFIG video|text INPUT.npy");
    };
    let cfg = ViClipConfig::from_name_or_path(config)?;
    let model = load_model(weights.as_ref(), &cfg, &Device::Cpu, DType::F32)?;
    let x = Tensor::read_npy(input).with_context(|| format!("reading {input}"))?;
    let ids: Vec<Vec<u32>> = if what == "text" {
        x.to_dtype(DType::U32)?.to_vec2::<u32>()?
    } else {
        Vec::new()
    };
    let forward = || -> Result<Tensor> {
        Ok(match what.as_str() {
            "video" => model.encode_video(&x)?,
            "text" => model.encode_text(&ids, &Device::Cpu)?,
            _ => bail!("unknown mode {what}"),
        })
    };
    println!("ready rayon_threads={}", rayon::current_num_threads());
    let mut last = None;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("run") => {
                let t = Instant::now();
                let y = forward()?;
                println!("seconds {}", t.elapsed().as_secs_f64());
                last = Some(y);
            }
            Some("save") => {
                let path = parts.next().context("save PATH")?;
                if let Some(y) = &last {
                    y.write_npy(path)?;
                }
                println!("saved");
            }
            Some("quit") | None => break,
            Some(other) => bail!("unknown command {other}"),
        }
    }
    Ok(())
}
