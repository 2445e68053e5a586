//! Forward passes at the released models' shapes with random weights (no download): video tower per
//! clip at batch 1 and larger batches, text tower per 64 captions, tokenizer per 10k captions. Each
//! tower benchmark also prints its achieved GFLOP/s and the fraction of the machine's peak. FLOP counts
//! and floors: PERFORMANCE.md.
//!
//! Settings (environment):
//! - `VICLIP_BENCH_DEVICE` (`cpu`, `cuda`, `cuda:N`, `metal`) and `VICLIP_BENCH_DTYPE` (`f32`, `bf16`,
//!   `f16`; default f32 on the CPU, bf16 elsewhere). GPU timings synchronise the device before the
//!   clock is read.
//! - `VICLIP_BENCH_BATCHES` (default `1,2` on the CPU, `1,8,32,64` on a GPU): clips per forward.
//! - `VICLIP_BENCH_L14=1` adds the ViCLIP-L/14 clip (~12 s each on a 2-core CPU).
//! - `VICLIP_PEAK_GFLOPS` (default 190, the 2-core AVX2 machine's f32 peak; ~790000 for an H100 in
//!   bf16) for the fraction of peak.

use std::cell::Cell;
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use viclip::model::random_model;
use viclip::{Tokenizer, ViClipConfig};

fn device() -> Device {
    let spec = std::env::var("VICLIP_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    viclip::device::parse_device(&spec).expect("VICLIP_BENCH_DEVICE")
}

fn dtype(dev: &Device) -> DType {
    match std::env::var("VICLIP_BENCH_DTYPE") {
        Ok(s) => viclip::device::parse_dtype(&s).expect("VICLIP_BENCH_DTYPE"),
        Err(_) if dev.is_cpu() => DType::F32,
        Err(_) => DType::BF16,
    }
}

fn batches(dev: &Device) -> Vec<usize> {
    let default = if dev.is_cpu() { "1,2" } else { "1,8,32,64" };
    std::env::var("VICLIP_BENCH_BATCHES")
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|b| {
            b.trim()
                .parse()
                .expect("VICLIP_BENCH_BATCHES: comma-separated numbers")
        })
        .collect()
}

/// Runs `f` under criterion with the clock read after a device sync, and prints GFLOP/s and the
/// fraction of `VICLIP_PEAK_GFLOPS` from the fastest iteration.
fn timed(
    g: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    id: &str,
    dev: &Device,
    flop: f64,
    mut f: impl FnMut(),
) {
    let best = Cell::new(f64::INFINITY);
    g.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                f();
                dev.synchronize().expect("sync");
                let e = t.elapsed();
                best.set(best.get().min(e.as_secs_f64()));
                total += e;
            }
            total
        })
    });
    let peak: f64 = std::env::var("VICLIP_PEAK_GFLOPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(190.0);
    let gflops = flop / best.get() / 1e9;
    println!(
        "{id}: best {:.3} s, {gflops:.1} GFLOP/s = {:.0}% of the {peak} GFLOP/s peak",
        best.get(),
        100.0 * gflops / peak
    );
}

/// FLOP of one clip through the video tower: 24·L·W² for the projections and MLP plus 4·L²·W for
/// attention per layer (2 FLOP per multiply-add), plus the patch embedding.
fn video_flop(cfg: &ViClipConfig) -> f64 {
    let v = &cfg.vision;
    let (l, w) = (v.seq_len() as f64, v.width as f64);
    let patch = 2.0 * (l - 1.0) * 3.0 * (v.patch_size * v.patch_size) as f64 * w;
    v.layers as f64 * (24.0 * l * w * w + 4.0 * l * l * w) + patch
}

/// FLOP of the text tower over `positions` tokens of each caption (the same count per layer).
fn text_flop(cfg: &ViClipConfig, positions: &[usize]) -> f64 {
    let t = &cfg.text;
    let w = t.width as f64;
    positions
        .iter()
        .map(|&l| {
            let l = l as f64;
            t.layers as f64 * (24.0 * l * w * w + 4.0 * l * l * w)
        })
        .sum()
}

fn video_tower(c: &mut Criterion, name: &str, cfg: &ViClipConfig) {
    let dev = device();
    let dt = dtype(&dev);
    let model = random_model(cfg, 1, &dev, dt).expect("random model");
    let v = &cfg.vision;
    let mut g = c.benchmark_group(format!("{dev:?}-{dt:?}/video-{name}").to_lowercase());
    g.sample_size(10);
    for batch in batches(&dev) {
        let shape = (
            batch,
            v.num_frames,
            3,
            v.input_resolution,
            v.input_resolution,
        );
        let x = Tensor::randn(0f32, 1.0, shape, &dev)
            .and_then(|x| x.to_dtype(dt))
            .expect("input");
        g.throughput(Throughput::Elements(batch as u64));
        let flop = video_flop(cfg) * batch as f64;
        timed(&mut g, &format!("batch{batch}"), &dev, flop, || {
            model.encode_video(&x).expect("forward");
        });
    }
    g.finish();
}

fn text_tower(c: &mut Criterion, name: &str, cfg: &ViClipConfig) {
    let dev = device();
    let dt = dtype(&dev);
    let model = random_model(cfg, 2, &dev, dt).expect("random model");
    let tok = Tokenizer::new().expect("tokenizer");
    let captions: Vec<String> = (0..64)
        .map(|i| {
            format!("a person number {i} walks a dog along the beach at sunset while it rains")
        })
        .collect();
    let ids = tok.tokenize_batch(&captions, 32);
    let positions: Vec<usize> = viclip::model::text::pool_positions(&ids)
        .iter()
        .map(|p| p + 1)
        .collect();
    let mut g = c.benchmark_group(format!("{dev:?}-{dt:?}/text-{name}").to_lowercase());
    g.sample_size(10);
    g.throughput(Throughput::Elements(64));
    // Counted over the positions up to each caption's end token, the work the tower does.
    let flop = text_flop(cfg, &positions);
    timed(&mut g, "64-captions", &dev, flop, || {
        model.encode_text(&ids, &dev).expect("forward");
    });
    g.finish();
}

fn towers(c: &mut Criterion) {
    let b16 = ViClipConfig::viclip_b16();
    let l14 = ViClipConfig::viclip_l14();
    video_tower(c, "b16", &b16);
    text_tower(c, "l14", &l14);
    if std::env::var("VICLIP_BENCH_L14").is_ok_and(|v| v == "1") {
        video_tower(c, "l14", &l14);
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
