//! Forward passes at the released models' shapes with random weights (no download): video tower per
//! clip, text tower per 64 captions, tokenizer per 10k captions. FLOP counts and floors: PERFORMANCE.md.
//!
//! ViCLIP-L/14 clips take ~15 s each on a 2-core CPU, so that group runs only with VICLIP_BENCH_L14=1.

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use viclip::model::random_model;
use viclip::{Tokenizer, ViClipConfig};

fn video_tower(c: &mut Criterion, name: &str, cfg: &ViClipConfig, batch: usize) {
    let dev = Device::Cpu;
    let model = random_model(cfg, 1, DType::F32, &dev).expect("random model");
    let v = &cfg.vision;
    let x = Tensor::randn(
        0f32,
        1.0,
        (
            batch,
            v.num_frames,
            3,
            v.input_resolution,
            v.input_resolution,
        ),
        &dev,
    )
    .expect("input");
    let mut g = c.benchmark_group(format!("cpu-f32/video-{name}"));
    g.sample_size(10);
    g.throughput(Throughput::Elements(batch as u64));
    g.bench_function(format!("batch{batch}"), |b| {
        b.iter(|| model.encode_video(&x).expect("forward"))
    });
    g.finish();
}

fn text_tower(c: &mut Criterion, name: &str, cfg: &ViClipConfig) {
    let dev = Device::Cpu;
    let model = random_model(cfg, 2, DType::F32, &dev).expect("random model");
    let tok = Tokenizer::new().expect("tokenizer");
    let captions: Vec<String> = (0..64)
        .map(|i| {
            format!("a person number {i} walks a dog along the beach at sunset while it rains")
        })
        .collect();
    let ids = tok.tokenize_batch(&captions, 32);
    let mut g = c.benchmark_group(format!("cpu-f32/text-{name}"));
    g.sample_size(10);
    g.throughput(Throughput::Elements(64));
    g.bench_function("64-captions", |b| {
        b.iter(|| model.encode_text(&ids, &dev).expect("forward"))
    });
    g.finish();
}

fn towers(c: &mut Criterion) {
    let b16 = ViClipConfig::viclip_b16();
    let l14 = ViClipConfig::viclip_l14();
    video_tower(c, "b16", &b16, 1);
    text_tower(c, "l14", &l14);
    if std::env::var("VICLIP_BENCH_L14").is_ok_and(|v| v == "1") {
        video_tower(c, "l14", &l14, 1);
    }
}

fn tokenizer(c: &mut Criterion) {
    let tok = Tokenizer::new().expect("tokenizer");
    let captions: Vec<String> = (0..10_000)
        .map(|i| format!("Clip {i}: a man in a gray sweater plays fetch with his dog in the snowy yard &amp; laughs"))
        .collect();
    let mut g = c.benchmark_group("cpu/tokenizer");
    g.sample_size(10);
    g.throughput(Throughput::Elements(captions.len() as u64));
    g.bench_function("10k-captions", |b| {
        b.iter(|| tok.tokenize_batch(&captions, 32))
    });
    g.finish();
}

criterion_group!(benches, towers, tokenizer);
criterion_main!(benches);
