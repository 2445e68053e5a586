//! Bad input for aesthetic scoring: typed errors naming the file, and batches that still score the rest.

use std::collections::HashMap;
use std::path::Path;

use crate::aesthetic_common::*;
use candle_core::{DType, Device, Tensor};
use viclip::aesthetic::{
    AestheticHead, AestheticScorer, ClipVisionConfig, ClipVisionModel, HeadKind, Reduce,
};
use viclip::Error;

/// `(name, shape)` of tensors to write.
type TensorSpecs = Vec<(&'static str, Vec<usize>)>;

fn save(tensors: &HashMap<String, Tensor>, path: &Path) {
    candle_core::safetensors::save(tensors, path).unwrap();
}

fn clip_tensors() -> HashMap<String, Tensor> {
    candle_core::safetensors::load(fixture("clip_vision.safetensors"), &Device::Cpu).unwrap()
}

fn randn(shape: &[usize]) -> Tensor {
    Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap()
}

#[test]
fn unknown_head_layouts_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, TensorSpecs); 4] = [
        (
            "renamed.safetensors",
            vec![("fc.weight", vec![1, 32]), ("fc.bias", vec![1])],
        ),
        (
            "two_outputs.safetensors",
            vec![("weight", vec![2, 32]), ("bias", vec![2])],
        ),
        (
            "odd_indices.safetensors",
            vec![
                ("layers.0.weight", vec![16, 32]),
                ("layers.0.bias", vec![16]),
                ("layers.5.weight", vec![1, 16]),
                ("layers.5.bias", vec![1]),
            ],
        ),
        (
            "no_bias.safetensors",
            vec![("weight", vec![1, 32]), ("extra", vec![1])],
        ),
    ];
    for (name, tensors) in cases {
        let path = dir.path().join(name);
        save(
            &tensors
                .iter()
                .map(|(k, s)| (k.to_string(), randn(s)))
                .collect(),
            &path,
        );
        let err = AestheticHead::load(&path, None, &Device::Cpu).unwrap_err();
        assert!(matches!(err, Error::UnknownHead { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
    // Odd indices are accepted once the kind is forced (the activations are then the user's choice).
    let odd = dir.path().join("odd_indices.safetensors");
    let h = AestheticHead::load(&odd, Some(HeadKind::V2Relu), &Device::Cpu).unwrap();
    assert_eq!(
        (h.kind(), h.detected_kind(), h.input_dim()),
        (HeadKind::V2Relu, None, 32)
    );
    // Forcing v1 on an MLP file, or v2 on a linear file, is refused.
    for (file, kind) in [("aes_v2.pth", HeadKind::V1), ("aes_v1.pth", HeadKind::V2)] {
        let err = AestheticHead::load(fixture(file), Some(kind), &Device::Cpu).unwrap_err();
        assert!(
            matches!(err, Error::UnknownHead { .. }),
            "{file} as {kind}: {err}"
        );
    }
    // Layers that do not chain.
    let broken = dir.path().join("broken_chain.safetensors");
    let t = [
        ("layers.0.weight", vec![16, 32]),
        ("layers.0.bias", vec![16]),
        ("layers.2.weight", vec![1, 8]),
        ("layers.2.bias", vec![1]),
    ];
    save(
        &t.iter().map(|(k, s)| (k.to_string(), randn(s))).collect(),
        &broken,
    );
    let err = AestheticHead::load(&broken, Some(HeadKind::V2), &Device::Cpu).unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { ref name, .. } if name == "layers.2.weight"),
        "{err}"
    );
    // A head for another CLIP width (the real 768-d V1 on the tiny 32-d tower).
    let wide = dir.path().join("v1_768.safetensors");
    save(
        &[
            ("weight".to_string(), randn(&[1, 768])),
            ("bias".to_string(), randn(&[1])),
        ]
        .into(),
        &wide,
    );
    let h = AestheticHead::load(&wide, None, &Device::Cpu).unwrap();
    let err = AestheticScorer::new(tiny_clip(), h, 4).unwrap_err();
    assert!(
        matches!(err, Error::UnknownHead { .. }) && err.to_string().contains("768"),
        "{err}"
    );
}

#[test]
fn a_batch_size_outside_its_range_is_refused_by_name() {
    // 0 was taken as 1 before; now it is the setting's error, as for the ViCLIP towers.
    for n in [0, viclip::limits::MAX_BATCH_SIZE + 1] {
        let Err(err) = AestheticScorer::new(tiny_clip(), head("aes_v1.pth", None), n) else {
            panic!("a batch size of {n} was accepted");
        };
        assert!(
            matches!(
                err,
                Error::Setting {
                    setting: viclip::Setting::AestheticBatchSize,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("aesthetic batch size"), "{err}");
    }
}

#[test]
fn clip_file_problems_name_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config();
    let load = |p: &Path| ClipVisionModel::load(p, &cfg, &Device::Cpu, DType::F32);

    let mut t = clip_tensors();
    t.remove("visual_projection.weight");
    let path = dir.path().join("no_projection.safetensors");
    save(&t, &path);
    let err = load(&path).unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref name, ref expected, .. } if name == "visual_projection.weight" && expected == &[32, 64]),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("no_projection.safetensors"),
        "{err}"
    );

    let mut t = clip_tensors();
    t.remove("vision_model.encoder.layers.1.self_attn.k_proj.bias");
    let path = dir.path().join("no_k_bias.safetensors");
    save(&t, &path);
    let err = load(&path).unwrap_err();
    assert!(
        err.to_string().contains("layers.1.self_attn.k_proj.bias"),
        "{err}"
    );

    let mut t = clip_tensors();
    t.insert(
        "vision_model.encoder.layers.2.mlp.fc1.bias".into(),
        randn(&[256]),
    );
    let path = dir.path().join("three_layers.safetensors");
    save(&t, &path);
    let err = load(&path).unwrap_err();
    assert!(matches!(err, Error::UnexpectedTensor { .. }), "{err:?}");

    // A config that does not match the file: the shape error names the tensor.
    let wide = ClipVisionConfig {
        projection_dim: 48,
        ..cfg.clone()
    };
    let err = ClipVisionModel::load(
        fixture("clip_vision.safetensors"),
        &wide,
        &Device::Cpu,
        DType::F32,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::ShapeMismatch { ref name, .. } if name == "visual_projection.weight"),
        "{err}"
    );
}

#[test]
fn full_clip_checkpoint_ignores_the_text_half() {
    let g = Golden::load();
    let dir = tempfile::tempdir().unwrap();
    let mut t = clip_tensors();
    t.insert(
        "text_model.embeddings.token_embedding.weight".into(),
        randn(&[10, 16]),
    );
    t.insert("text_projection.weight".into(), randn(&[32, 16]));
    t.insert("logit_scale".into(), randn(&[]));
    let ids = Tensor::arange(0i64, 17, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    t.insert("vision_model.embeddings.position_ids".into(), ids);
    let path = dir.path().join("full_clip.safetensors");
    save(&t, &path);
    let model = ClipVisionModel::load(&path, &tiny_config(), &Device::Cpu, DType::F32).unwrap();
    let e = model.forward(g.input("batch.pixel_values")).unwrap();
    assert!(max_abs(&e, g.output("batch.image_embeds")) <= 1e-4);
}

/// Writes a frame as a PNG file (through the `image` crate's encoder).
fn save_png(f: &viclip::preprocess::RgbFrame, path: &std::path::Path) {
    let (w, h) = (f.width() as u32, f.height() as u32);
    image::RgbImage::from_raw(w, h, f.data().to_vec())
        .expect("frame size")
        .save(path)
        .unwrap();
}

#[test]
fn undecodable_image_fails_alone() {
    let g = Golden::load();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("img0.png");
    save_png(&to_image(g.input("img0.rgb")), &good);
    let good3 = dir.path().join("img3.png");
    save_png(&to_image(g.input("img3.rgb")), &good3);
    let bad = dir.path().join("broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nthis is not a png").unwrap();
    let missing = dir.path().join("missing.jpg");

    let s = scorer("aes_v2.pth");
    let want = f32s(g.output("batch.score_v2"));
    let got = s.score_image_files(&[&good, &bad, &missing, &good3]);
    assert_eq!(got.len(), 4);
    assert!((got[0].as_ref().unwrap() - want[0]).abs() <= 1e-4);
    assert!((got[3].as_ref().unwrap() - want[3]).abs() <= 1e-4);
    let err = got[1].as_ref().unwrap_err();
    assert!(
        matches!(err, Error::ImageDecode { .. }) && err.to_string().contains("broken.png"),
        "{err}"
    );
    let err = got[2].as_ref().unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("missing.jpg"),
        "{err}"
    );
}

#[test]
fn clip_with_too_few_frames_fails_alone() {
    let g = Golden::load();
    let s = scorer("aes_v1.pth");
    let frames = clip_frames(&g, 0);
    let err = s
        .score_clip("short.mp4", &frames[..3], 4, Reduce::Max)
        .unwrap_err();
    assert!(
        matches!(err, Error::TooFewFrames { ref clip, needed: 4, got: 3 } if clip == "short.mp4"),
        "{err:?}"
    );
    assert!(err.to_string().contains("short.mp4"));
    let r = s.score_clips(&[("empty", &[]), ("clip0", &frames)], 4, Reduce::Max);
    assert!(matches!(r[0], Err(Error::TooFewFrames { got: 0, .. })));
    let want = f32s(g.output("clips.score_v1.max"))[0];
    assert!((r[1].as_ref().unwrap().score - want).abs() <= 1e-4);
    assert!(s.score_clip("clip0", &frames, 0, Reduce::Max).is_err());
}

#[test]
fn pixel_tensor_of_the_wrong_size_is_rejected() {
    let s = scorer("aes_v1.pth");
    let x = Tensor::zeros((2, 3, 224, 224), DType::F32, &Device::Cpu).unwrap();
    let err = s.score_pixels(&x).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput(_)) && err.to_string().contains("[N, 3, 56, 56]"),
        "{err}"
    );
    assert!(s
        .score_pixels(&Tensor::zeros((0, 3, 56, 56), DType::F32, &Device::Cpu).unwrap())
        .unwrap()
        .is_empty());
}

#[test]
fn configs_presets_and_unsupported_settings() {
    let l14 = ClipVisionConfig::preset("clip-vit-l14").unwrap();
    assert_eq!(
        (l14.seq_len(), l14.head_dim(), l14.projection_dim),
        (257, 64, 768)
    );
    assert_eq!(
        ClipVisionConfig::from_name_or_path("clip-vit-l14").unwrap(),
        l14
    );
    assert!(matches!(
        ClipVisionConfig::preset("vit-h14"),
        Err(Error::Config { .. })
    ));
    // A full CLIPConfig (as openai/clip-vit-large-patch14 ships): vision_config nested, projection_dim top.
    let full = r#"{"model_type": "clip", "projection_dim": 768, "text_config": {"hidden_size": 768},
        "vision_config": {"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
        "num_hidden_layers": 24, "patch_size": 14, "image_size": 224, "projection_dim": 512,
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05, "model_type": "clip_vision_model"}}"#;
    assert_eq!(
        ClipVisionConfig::from_json_str(full, "config.json").unwrap(),
        l14
    );
    let gelu = r#"{"hidden_act": "gelu"}"#;
    let err = ClipVisionConfig::from_json_str(gelu, "gelu.json").unwrap_err();
    assert!(
        err.to_string().contains("quick_gelu") && err.to_string().contains("gelu.json"),
        "{err}"
    );
    let siglip = r#"{"model_type": "siglip_vision_model"}"#;
    assert!(ClipVisionConfig::from_json_str(siglip, "s.json").is_err());
    assert_eq!(tiny_config().seq_len(), 17);
}

#[test]
fn scorer_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<AestheticScorer>();
}
