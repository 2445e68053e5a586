//! Peak memory of the video tower per batch size (random weights at the real shapes):
//! `cargo run --release --example peak_memory -- [b16|l14] BATCH [cpu|cuda] [f32|bf16|f16]`.
//!
//! Prints the process's peak resident set (VmHWM) after loading the model and after one forward pass,
//! and on a GPU the peak device memory in use during the pass (the driver's free memory, polled every
//! millisecond from a second thread, against the free memory before loading). One batch size per
//! process, so that each peak is that batch's own.

use candle_core::Tensor;
use viclip::model::random_model;
use viclip::ViClipConfig;

#[path = "common/rss.rs"]
mod rss;
use rss::peak_rss_mib;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let cfg = match args.get(1).map(String::as_str) {
        Some("l14") => ViClipConfig::viclip_l14(),
        _ => ViClipConfig::viclip_b16(),
    };
    let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let dev = viclip::device::parse_device(args.get(3).map_or("cpu", String::as_str))?;
    let dtype = viclip::device::parse_dtype(args.get(4).map_or("f32", String::as_str))?;
    let free_before = viclip::device::free_memory(&dev);
    let model = random_model(&cfg, 1, &dev, dtype)?;
    let v = &cfg.vision;
    let shape = (
        batch,
        v.num_frames,
        3,
        v.input_resolution,
        v.input_resolution,
    );
    let x = Tensor::randn(0f32, 1.0, shape, &dev)?.to_dtype(dtype)?;
    dev.synchronize()?;
    let loaded = peak_rss_mib().unwrap_or(f64::NAN);
    let running = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let poller = {
        let (dev, running) = (dev.clone(), running.clone());
        std::thread::spawn(move || {
            let mut least = usize::MAX;
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                match viclip::device::free_memory(&dev) {
                    Some(f) => least = least.min(f),
                    None => return None,
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Some(least)
        })
    };
    let t = std::time::Instant::now();
    let e = model.encode_video(&x)?;
    dev.synchronize()?;
    let secs = t.elapsed().as_secs_f64();
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let least_free = poller.join().ok().flatten();
    let after = peak_rss_mib().unwrap_or(f64::NAN);
    let gpu = match (free_before, least_free) {
        (Some(a), Some(b)) => format!(
            ", peak device memory in use {:.0} MiB",
            a.saturating_sub(b) as f64 / (1 << 20) as f64
        ),
        _ => String::new(),
    };
    println!(
        "batch {batch}: peak RSS {loaded:.0} MiB loaded, {after:.0} MiB after the forward \
         ({:.0} MiB per clip over the model){gpu}; {secs:.2} s, output {:?}",
        (after - loaded) / batch as f64,
        e.dims()
    );
    Ok(())
}
