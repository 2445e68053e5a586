//! Writes a ViCLIP checkpoint with random weights for a config (`viclip-b16`, `viclip-l14` or a
//! config JSON), as `.safetensors`: the model the Python-vs-Rust timings load (bench/bench_python.py),
//! at a real model's shapes without a download. The weights are the core's `random_state_dict`
//! (LayerNorm 1/0, the rest uniform with std 0.02), the same the tower benchmarks use.
//!
//! ```text
//! cargo run --release -p viclip-py --example random_checkpoint -- viclip-b16 /tmp/b16.safetensors
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, out] = args.as_slice() else {
        return Err("usage: random_checkpoint CONFIG OUT.safetensors".into());
    };
    let cfg = viclip::ViClipConfig::from_name_or_path(config)?;
    let tensors = viclip::model::random_state_dict(&cfg, 1)?;
    candle_core::safetensors::save(&tensors, out)?;
    Ok(())
}
