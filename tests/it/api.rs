//! The high-level API: batching equals single calls, input checks are typed errors, half precision stays
//! close to f32, and configs other than the golden one (another grid, frame count and widths) run.

use crate::common::{fixture, get, golden, max_abs};
use candle_core::{DType, Device, Tensor};
use viclip::model::random_state_dict;
use viclip::{Error, LoadOptions, Tokenizer, ViClip, ViClipConfig, ViClipModel};

fn tiny(opts: LoadOptions) -> ViClip {
    let cfg = ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).unwrap();
    ViClip::from_files(fixture("tiny_a/model.safetensors"), &cfg, opts).unwrap()
}

fn opts(batch: usize) -> LoadOptions {
    LoadOptions::default()
        .with_batch_size(batch)
        .with_text_batch_size(batch)
}

#[test]
fn model_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<ViClip>();
    check::<ViClipModel>();
    check::<Tokenizer>();
}

#[test]
fn a_batch_of_n_equals_n_single_calls() {
    let inputs = golden("tiny_a/inputs.safetensors");
    let videos = get(&inputs, "videos");
    let whole = tiny(opts(8)).embed_videos(videos).unwrap();
    let single = tiny(opts(1));
    let rows: Vec<Tensor> = (0..3)
        .map(|i| {
            single
                .embed_videos(&videos.narrow(0, i, 1).unwrap())
                .unwrap()
                .into_tensor()
        })
        .collect();
    let d = max_abs(whole.tensor(), &Tensor::cat(&rows, 0).unwrap());
    assert!(d <= 1e-6, "videos: {d:e}");

    let captions = [
        "a dog",
        "",
        "a man is cooking dinner in a small kitchen",
        "<|endoftext|> x",
    ];
    let whole = tiny(opts(8)).embed_texts(&captions).unwrap();
    let rows: Vec<Tensor> = captions
        .iter()
        .map(|c| single.embed_texts(&[c]).unwrap().into_tensor())
        .collect();
    let d = max_abs(whole.tensor(), &Tensor::cat(&rows, 0).unwrap());
    assert!(d <= 1e-6, "texts: {d:e}");
}

#[test]
fn embeddings_are_unit_norm_and_empty_inputs_are_empty() {
    let m = tiny(opts(2));
    let e = m.embed_texts(&["a cat", "two dogs"]).unwrap();
    for row in e.to_vec2().unwrap() {
        let n: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5);
    }
    let none: [&str; 0] = [];
    let e = m.embed_texts(&none).unwrap();
    assert_eq!(e.tensor().dims(), &[0, 48]);
}

#[test]
fn bad_video_tensors_are_typed_errors() {
    let m = tiny(opts(2));
    let dev = Device::Cpu;
    let cases = [
        (vec![2, 8, 3, 112], "not 5-D"),
        (vec![1, 4, 3, 112, 112], "4 frames"),
        (vec![1, 8, 1, 112, 112], "1 channels"),
        (vec![1, 8, 3, 96, 112], "96x112"),
    ];
    for (shape, needle) in cases {
        let x = Tensor::zeros(shape.clone(), DType::F32, &dev).unwrap();
        let e = m.embed_videos(&x).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{shape:?}: {e}");
        assert!(e.to_string().contains(needle), "{shape:?}: {e}");
    }
    let mut data = vec![0f32; 2 * 8 * 3 * 112 * 112];
    data[8 * 3 * 112 * 112 + 5] = f32::NAN;
    let x = Tensor::from_vec(data, (2, 8, 3, 112, 112), &dev).unwrap();
    let e = m.embed_videos(&x).unwrap_err().to_string();
    assert!(e.contains("video 1") && e.contains("NaN"), "{e}");
    let ids = vec![vec![49406u32, 50000, 49407]];
    assert!(m.encode_token_ids(&ids).is_err());
}

#[test]
fn half_precision_runs_close_to_f32() {
    let inputs = golden("tiny_a/inputs.safetensors");
    let videos = get(&inputs, "videos");
    let f32_v = tiny(opts(2)).embed_videos(videos).unwrap();
    let f32_t = tiny(opts(2))
        .embed_texts(&["a dog runs", "a red car"])
        .unwrap();
    for dt in [DType::F16, DType::BF16] {
        let m = tiny(opts(2).with_dtype(dt));
        let v = m.embed_videos(videos).unwrap();
        let t = m.embed_texts(&["a dog runs", "a red car"]).unwrap();
        // Cosine between the f32 and half-precision embedding of each item.
        for (a, b) in [(&f32_v, &v), (&f32_t, &t)] {
            for c in a.paired_scores(b).unwrap() {
                assert!(c > 0.999, "{dt:?}: cosine {c}");
            }
        }
    }
}

/// A config unlike the golden one: 96 px, patch 16 (6×6 grid), 4 frames, odd widths and head counts.
fn other_config() -> ViClipConfig {
    ViClipConfig::from_json_str(
        r#"{"embed_dim": 20,
            "vision": {"input_resolution": 96, "patch_size": 16, "width": 40, "layers": 3, "heads": 5, "num_frames": 4},
            "text": {"context_length": 32, "vocab_size": 49408, "width": 24, "layers": 2, "heads": 3}}"#,
        "other",
    )
    .unwrap()
}

#[test]
fn other_grids_frame_counts_and_widths_run_and_load_strictly() {
    let cfg = other_config();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.safetensors");
    candle_core::safetensors::save(&random_state_dict(&cfg, 7).unwrap(), &path).unwrap();
    let m = ViClip::from_files(&path, &cfg, opts(2)).unwrap();
    // Deterministic input, so that every run compares the same numbers.
    let x = (Tensor::arange(0u32, 3 * 4 * 3 * 96 * 96, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        * 0.37)
        .unwrap()
        .sin()
        .unwrap()
        .reshape((3, 4, 3, 96, 96))
        .unwrap();
    let v = m.embed_videos(&x).unwrap();
    assert_eq!(v.tensor().dims(), &[3, 20]);
    // T = 1 (images) uses the mean temporal embedding; T = 8 is refused for a 4-frame model.
    let img = m
        .embed_images(&x.narrow(1, 0, 1).unwrap().squeeze(1).unwrap())
        .unwrap();
    assert_eq!(img.tensor().dims(), &[3, 20]);
    assert!(m
        .embed_videos(&Tensor::zeros((1, 8, 3, 96, 96), DType::F32, &Device::Cpu).unwrap())
        .is_err());
    // The trace's sequence is 1 + 36·4 tokens and its embedding equals the forward pass.
    let trace = m.model().vision.trace(&x).unwrap();
    assert_eq!(trace.ln_pre_in.dims(), &[3, 1 + 36 * 4, 40]);
    let pre = m.encode_videos(&x).unwrap();
    assert!(max_abs(&trace.embeds, &pre) < 1e-5);
    // The golden tiny checkpoint does not fit this config.
    let e = ViClip::from_files(fixture("tiny_a/model.safetensors"), &cfg, opts(1)).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { .. }), "{e}");
}

#[test]
fn packed_captions_keep_input_order() {
    // Captions of shuffled lengths packed back to back on the CPU: each row must equal the caption
    // embedded alone.
    let captions: Vec<String> = (0..40)
        .map(|i| "a dog runs on the beach ".repeat(1 + (i * 7) % 9) + &format!("number {i}"))
        .collect();
    let m = tiny(opts(64));
    let whole = m.embed_texts(&captions).unwrap().into_tensor();
    for (i, c) in captions.iter().enumerate() {
        let one = m.embed_texts(&[c]).unwrap().into_tensor();
        let d = max_abs(&whole.narrow(0, i, 1).unwrap(), &one);
        assert!(d <= 1e-6, "caption {i}: {d:e}");
    }
}

#[test]
fn load_options_resolve_unset_batch_sizes_at_load_time() {
    let o = LoadOptions::new(Device::Cpu, DType::F16);
    assert_eq!((o.batch_size, o.text_batch_size), (None, None));
    assert_eq!(o.dtype, DType::F16);
    // On the CPU an unset video batch is 8 and the caption batch 32 times that, at least 256.
    let m = tiny(LoadOptions::default());
    assert_eq!(m.options().batch_size, Some(8));
    assert_eq!(m.options().text_batch_size, Some(256));
    assert_eq!((m.batch_size(), m.text_batch_size()), (8, 256));
    let m = tiny(LoadOptions::default().with_batch_size(16));
    assert_eq!(m.text_batch_size(), 512);
    let m = tiny(opts(3).with_batch_size(None));
    assert_eq!((m.batch_size(), m.text_batch_size()), (8, 3));
    // Unset is `None`; a zero batch is refused by name, not taken as 1.
    let cfg = ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).unwrap();
    for bad in [opts(0), LoadOptions::default().with_text_batch_size(0)] {
        let e = ViClip::from_files(fixture("tiny_a/model.safetensors"), &cfg, bad).unwrap_err();
        assert!(
            matches!(e, Error::Setting { ref value, .. } if value == "0"),
            "{e:?}"
        );
    }
    let parsed = LoadOptions::from_names("cpu", "bf16").unwrap();
    assert_eq!(parsed.dtype, DType::BF16);
    assert!(LoadOptions::from_names("cpu", "f64").is_err());
}
