//! Timing of the full-size CLIP ViT-L/14 image tower (random weights at the real shapes) and of CLIP
//! preprocessing. A measurement, not a test: ignored by default, no timing assertions. Run with
//! `cargo test --release -p viclip --test it -- --ignored --nocapture aesthetic_perf::` (numbers in
//! PERFORMANCE.md).

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use viclip::aesthetic::{clip_preprocess, ClipVisionConfig, ClipVisionModel};

/// Random tensors under the HF names of `cfg`.
fn random_weights(cfg: &ClipVisionConfig) -> Vec<(String, Tensor)> {
    let (w, p, i, e) = (
        cfg.hidden_size,
        cfg.patch_size,
        cfg.intermediate_size,
        cfg.projection_dim,
    );
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("embeddings.class_embedding".into(), vec![w]),
        ("embeddings.patch_embedding.weight".into(), vec![w, 3, p, p]),
        (
            "embeddings.position_embedding.weight".into(),
            vec![cfg.seq_len(), w],
        ),
        ("pre_layrnorm.weight".into(), vec![w]),
        ("pre_layrnorm.bias".into(), vec![w]),
        ("post_layernorm.weight".into(), vec![w]),
        ("post_layernorm.bias".into(), vec![w]),
    ];
    for l in 0..cfg.num_hidden_layers {
        let pre = format!("encoder.layers.{l}");
        for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            shapes.push((format!("{pre}.self_attn.{proj}.weight"), vec![w, w]));
            shapes.push((format!("{pre}.self_attn.{proj}.bias"), vec![w]));
        }
        for ln in ["layer_norm1", "layer_norm2"] {
            shapes.push((format!("{pre}.{ln}.weight"), vec![w]));
            shapes.push((format!("{pre}.{ln}.bias"), vec![w]));
        }
        shapes.push((format!("{pre}.mlp.fc1.weight"), vec![i, w]));
        shapes.push((format!("{pre}.mlp.fc1.bias"), vec![i]));
        shapes.push((format!("{pre}.mlp.fc2.weight"), vec![w, i]));
        shapes.push((format!("{pre}.mlp.fc2.bias"), vec![w]));
    }
    let mut out: Vec<(String, Tensor)> = shapes
        .into_iter()
        .map(|(k, s)| {
            let t = Tensor::randn(0f32, 0.02, s, &Device::Cpu).unwrap();
            (format!("vision_model.{k}"), t)
        })
        .collect();
    let proj = Tensor::randn(0f32, 0.02, (e, w), &Device::Cpu).unwrap();
    out.push(("visual_projection.weight".into(), proj));
    out
}

#[test]
#[ignore = "timing of the full-size tower; run in release with --ignored --nocapture"]
fn clip_vit_l14_forward_timing() {
    let cfg = ClipVisionConfig::clip_vit_l14();
    let t0 = Instant::now();
    let weights = random_weights(&cfg);
    let model = ClipVisionModel::from_tensors(
        &cfg,
        weights,
        std::path::Path::new("random"),
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    eprintln!(
        "random ViT-L/14 built in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    for b in [1usize, 4] {
        let x = Tensor::randn(0f32, 1.0, (b, 3, 224, 224), &Device::Cpu).unwrap();
        let _ = model.forward(&x).unwrap(); // warm-up
        let reps = 3;
        let t = Instant::now();
        for _ in 0..reps {
            let e = model.forward(&x).unwrap();
            assert_eq!(e.dims(), [b, 768]);
        }
        let per_image = t.elapsed().as_secs_f64() / (reps * b) as f64;
        eprintln!(
            "ViT-L/14 224px f32 CPU, batch {b}: {:.3} s per image, {:.1} GFLOP/s",
            per_image,
            162.0 / per_image
        );
    }
}

#[test]
#[ignore = "timing; run in release with --ignored --nocapture"]
fn clip_preprocess_timing() {
    for (w, h) in [(1920u32, 1080u32), (1280, 720), (640, 360)] {
        let data = (0..h)
            .flat_map(|y| {
                (0..w).flat_map(move |x| [(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 255) as u8])
            })
            .collect();
        let img = viclip::preprocess::RgbFrame::new(w as usize, h as usize, data).unwrap();
        let reps = 20;
        let t = Instant::now();
        for _ in 0..reps {
            let px = clip_preprocess(&img, 224).unwrap();
            assert_eq!(px.len(), 3 * 224 * 224);
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        eprintln!("CLIP preprocess {w}x{h} -> 224: {ms:.2} ms per frame (one thread)");
    }
}
