//! Times the pieces of one ViCLIP video-tower block at a real shape (random weights), to see where a
//! forward pass spends its time. `cargo run --release --example tower_timing -- [b16|l14] [batch] [--no-tower]`
//! (`--no-tower` skips the whole-tower timing; the attention runs both the tiled and the portable path).

use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor};
use viclip::model::attention_cpu::FusedAttention;
use viclip::model::random_model;
use viclip::ViClipConfig;

fn time<T>(what: &str, reps: usize, mut f: impl FnMut() -> T) -> f64 {
    let _ = f();
    let t = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(f());
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    println!("{what:<34} {:>9.2} ms", s * 1e3);
    s
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let cfg = match args.get(1).map(String::as_str) {
        Some("l14") => ViClipConfig::viclip_l14(),
        _ => ViClipConfig::viclip_b16(),
    };
    let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dev = Device::Cpu;
    let v = &cfg.vision;
    let (w, l) = (v.width, v.seq_len());
    println!(
        "vision width {w}, {l} tokens, batch {batch}, rayon threads {}",
        rayon::current_num_threads()
    );
    let x = Tensor::randn(0f32, 1.0, (batch, l, w), &dev)?;
    let wt = Tensor::randn(0f32, 0.02, (3 * w, w), &dev)?;
    let lin = candle_nn::Linear::new(wt.clone(), Some(Tensor::zeros(3 * w, DType::F32, &dev)?));
    let flops = |f: f64, s: f64| println!("{:>44.1} GFLOP/s", f / s / 1e9);
    let s = time("in_proj (linear W→3W)", 3, || lin.forward(&x).unwrap());
    flops(2.0 * (batch * l * w * 3 * w) as f64, s);
    let s = time("plain matmul x·Wᵀ (contiguous)", 3, || {
        x.reshape((batch * l, w))
            .unwrap()
            .matmul(&wt.t().unwrap().contiguous().unwrap())
            .unwrap()
    });
    flops(2.0 * (batch * l * w * 3 * w) as f64, s);
    let qkv = lin.forward(&x)?;
    for portable in [false, true] {
        viclip::model::attention_cpu::FORCE_PORTABLE
            .store(portable, std::sync::atomic::Ordering::Relaxed);
        let what = if portable {
            "fused attention (portable GEMM path)"
        } else {
            "fused attention"
        };
        let s = time(what, 3, || {
            qkv.apply_op1_no_bwd(&FusedAttention {
                heads: v.heads,
                causal: false,
            })
            .unwrap()
        });
        flops(4.0 * (batch * l * l * w) as f64, s);
    }
    viclip::model::attention_cpu::FORCE_PORTABLE.store(false, std::sync::atomic::Ordering::Relaxed);
    let fc = Tensor::randn(0f32, 1.0, (batch, l, 4 * w), &dev)?;
    time("quick gelu (4W)", 3, || {
        fc.apply_op1_no_bwd(&viclip_quick_gelu()).unwrap()
    });
    if args.iter().any(|a| a == "--no-tower") {
        return Ok(());
    }
    let model = random_model(&cfg, 1, &dev, DType::F32)?;
    let clip = Tensor::randn(
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
    )?;
    let s = time("whole video tower", 1, || {
        model.encode_video(&clip).unwrap()
    });
    println!("per clip: {:.2} s", s / batch as f64);
    Ok(())
}

fn viclip_quick_gelu() -> impl candle_core::CustomOp1 {
    struct G;
    impl candle_core::CustomOp1 for G {
        fn name(&self) -> &'static str {
            "probe-gelu"
        }
        fn cpu_fwd(
            &self,
            s: &candle_core::CpuStorage,
            l: &candle_core::Layout,
        ) -> candle_core::Result<(candle_core::CpuStorage, candle_core::Shape)> {
            let candle_core::CpuStorage::F32(d) = s else {
                candle_core::bail!("f32")
            };
            let out: Vec<f32> = d.iter().map(|x| x / (1.0 + (-1.702 * x).exp())).collect();
            Ok((candle_core::CpuStorage::F32(out), l.shape().clone()))
        }
    }
    G
}
