//! The Rust API's side of the Python bindings' parity tests and timings: embeds the captions of a
//! JSON list and the videos of a `.npy` `(B, T, 3, S, S)` float32 array with `viclip::ViClip`,
//! writes both as `.npy` float32 (`OUT_DIR/text_embeddings.npy`, `OUT_DIR/video_embeddings.npy`)
//! and prints the median time of each call after an untimed first one.
//!
//! ```text
//! cargo run --release -p viclip-py --example rust_api -- WEIGHTS CONFIG CAPTIONS.json VIDEOS.npy OUT_DIR [REPEAT]
//! ```
//!
//! `tests/test_parity.py` compares its files with `embed_texts` / `embed_videos` through Python, bit
//! for bit; `bench/bench_python.py` runs it next to the same calls through Python.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor};
use viclip::{LoadOptions, ViClip, ViClipConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [weights, config, captions, videos, out, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: rust_api WEIGHTS CONFIG CAPTIONS.json VIDEOS.npy OUT_DIR [REPEAT]".into(),
        );
    };
    let repeat: usize = rest.first().map_or(Ok(1), |r| r.parse())?;
    let cfg = ViClipConfig::from_name_or_path(config)?;
    let model = ViClip::from_files(weights, &cfg, LoadOptions::default())?;
    let captions: Vec<String> = serde_json::from_str(&std::fs::read_to_string(captions)?)?;
    let (h, values) = viclip::npy::read_npy_f32(Path::new(videos))?;
    let videos = Tensor::from_vec(values, h.shape.as_slice(), &Device::Cpu)?;

    let (text_s, texts) = timed(repeat, || model.embed_texts(&captions))?;
    let (video_s, vids) = timed(repeat, || model.embed_videos(&videos))?;
    let out = PathBuf::from(out);
    write_npy(&out.join("text_embeddings.npy"), &texts.to_vec2()?)?;
    write_npy(&out.join("video_embeddings.npy"), &vids.to_vec2()?)?;
    println!(
        "{{\"embed_texts_s\": {text_s}, \"embed_videos_s\": {video_s}, \"captions\": {}, \"videos\": {}}}",
        captions.len(),
        h.shape[0]
    );
    Ok(())
}

/// Runs `f` `repeat` times: the median seconds and the last result.
fn timed<T>(repeat: usize, mut f: impl FnMut() -> viclip::Result<T>) -> viclip::Result<(f64, T)> {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        last = Some(f()?);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let last = last.ok_or_else(|| viclip::Error::Internal("no run".into()))?;
    Ok((times[times.len() / 2], last))
}

/// Rows as a little-endian float32 `.npy` file.
fn write_npy(path: &Path, rows: &[Vec<f32>]) -> std::io::Result<()> {
    let cols = rows.first().map_or(0, Vec::len);
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {cols}), }}",
        rows.len()
    );
    // Magic, version, header length, then the header padded so the data starts 64-aligned.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in rows.iter().flatten() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes)
}
