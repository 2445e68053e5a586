//! Embeds the tiny model's captions and preprocessed clips through the core's public API and compares
//! them with the golden outputs of the original code (the tolerance of the golden tests, 1e-4).

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use viclip::{LoadOptions, ViClip, ViClipConfig};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny_a").join(rel)
}

fn max_abs(a: &Tensor, b: &Tensor) -> viclip::Result<f32> {
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

fn main() -> viclip::Result<()> {
    let cfg = ViClipConfig::from_json_file(&fixture("config.json"))?;
    let model = ViClip::from_files(fixture("model.safetensors"), &cfg, LoadOptions::default())?;
    let golden: std::collections::HashMap<String, Tensor> =
        viclip::weights::read_safetensors(&fixture("outputs_f32.safetensors"))?
            .into_iter()
            .collect();
    let want = |name: &str| {
        golden
            .get(name)
            .ok_or_else(|| viclip::Error::InvalidInput(format!("golden output `{name}` missing")))
    };

    let captions: Vec<String> = std::fs::read_to_string(fixture("captions.jsonl"))
        .map_err(|e| viclip::Error::io(fixture("captions.jsonl"), e))?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            v["text"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    let texts = model.embed_texts(&captions)?;
    let d_text = max_abs(texts.tensor(), want("text_embeds")?)?;

    let (header, data) = viclip::npy::read_npy_f32(&fixture("videos.npy"))?;
    let videos = Tensor::from_vec(data, header.shape.as_slice(), &Device::Cpu)?;
    let clips = model.embed_videos(&videos)?;
    let d_video = max_abs(clips.tensor(), want("video_embeds")?)?;

    println!(
        "{} captions, {} clips; max |difference| to the golden embeddings: text {d_text:.2e}, video {d_video:.2e}",
        captions.len(),
        videos.dims()[0]
    );
    if d_text > 1e-4 || d_video > 1e-4 || captions.len() != 11 {
        eprintln!("embeddings differ from the golden data");
        std::process::exit(1);
    }
    Ok(())
}
