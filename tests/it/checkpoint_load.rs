//! Strict loading through the crate's readers: `.pth` (plain and training-style) and `.safetensors` give
//! identical models; a missing, unexpected or mis-shaped tensor, a truncated file and a file that is not a
//! checkpoint are typed errors naming the file and tensor.

use std::collections::HashMap;
use std::path::Path;

use crate::common::{fixture, get, golden, max_abs};
use candle_core::{DType, Device, Tensor};
use viclip::{load_model, Error, ViClipConfig};

fn config() -> ViClipConfig {
    ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).expect("config")
}

fn video_embeds(path: &Path) -> Tensor {
    let m = load_model(path, &config(), &Device::Cpu, DType::F32).expect("load");
    let inputs = golden("tiny_a/inputs.safetensors");
    m.encode_video(get(&inputs, "videos")).expect("forward")
}

#[test]
fn pth_trainstyle_and_safetensors_give_identical_results() {
    let a = video_embeds(&fixture("tiny_a/model.pth"));
    let b = video_embeds(&fixture("tiny_a/model_trainstyle.pth"));
    let c = video_embeds(&fixture("tiny_a/model.safetensors"));
    assert_eq!(max_abs(&a, &b), 0.0);
    assert_eq!(max_abs(&a, &c), 0.0);
    let want = golden("tiny_a/outputs_f32.safetensors");
    assert!(max_abs(&a, get(&want, "video_embeds_prenorm")) <= 1e-4);
}

/// The memory-mapped safetensors path converts each tensor as it is read; in bf16 and in f16 it must
/// give the same model as converting the tensors of the `.pth` file.
#[test]
fn lazy_safetensors_conversion_matches_the_pth_path() {
    let inputs = golden("tiny_a/inputs.safetensors");
    let videos = get(&inputs, "videos");
    for dtype in [DType::BF16, DType::F16] {
        let st = load_model(
            &fixture("tiny_a/model.safetensors"),
            &config(),
            &Device::Cpu,
            dtype,
        )
        .expect("safetensors");
        let pth = fixture("tiny_a/model.pth");
        let tensors = viclip::weights::read_checkpoint(&pth).expect("pth");
        let eager =
            viclip::checkpoint::model_from_tensors(&config(), tensors, &pth, &Device::Cpu, dtype)
                .expect("pth model");
        let a = st.encode_video(&videos.to_dtype(dtype).unwrap()).unwrap();
        let b = eager
            .encode_video(&videos.to_dtype(dtype).unwrap())
            .unwrap();
        assert_eq!(max_abs(&a, &b), 0.0, "{dtype:?}");
    }
}

/// Writes the tiny model's tensors after `edit` to a safetensors file in `dir`.
fn edited(dir: &Path, edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> std::path::PathBuf {
    let mut map =
        candle_core::safetensors::load(fixture("tiny_a/model.safetensors"), &Device::Cpu).unwrap();
    edit(&mut map);
    let path = dir.join("edited.safetensors");
    candle_core::safetensors::save(&map, &path).unwrap();
    path
}

fn load_err(path: &Path) -> Error {
    load_model(path, &config(), &Device::Cpu, DType::F32).expect_err("must fail")
}

#[test]
fn missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), |m| {
        m.remove("vision_encoder.transformer.resblocks.1.mlp.c_fc.bias");
    });
    let e = load_err(&p);
    assert!(
        matches!(&e, Error::MissingTensor { name, .. } if name == "vision_encoder.transformer.resblocks.1.mlp.c_fc.bias"),
        "{e}"
    );
    assert!(e.to_string().contains("edited.safetensors"), "{e}");
}

#[test]
fn unexpected_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), |m| {
        m.insert(
            "text_encoder.extra_head".into(),
            Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let e = load_err(&p);
    assert!(
        matches!(&e, Error::UnexpectedTensor { name, .. } if name == "text_encoder.extra_head"),
        "{e}"
    );
}

#[test]
fn wrong_shape_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), |m| {
        m.insert(
            "vision_encoder.temporal_positional_embedding".into(),
            Tensor::zeros((1, 4, 64), DType::F32, &Device::Cpu).unwrap(),
        );
    });
    let e = load_err(&p);
    match &e {
        Error::ShapeMismatch {
            name,
            expected,
            got,
            ..
        } => {
            assert_eq!(name, "vision_encoder.temporal_positional_embedding");
            assert_eq!(expected, &vec![1, 8, 64]);
            assert_eq!(got, &vec![1, 4, 64]);
        }
        _ => panic!("expected ShapeMismatch, got {e}"),
    }
}

#[test]
fn integer_tensor_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let p = edited(dir.path(), |m| {
        m.insert("temp".into(), Tensor::new(3i64, &Device::Cpu).unwrap());
    });
    let e = load_err(&p);
    assert!(
        matches!(&e, Error::UnsupportedDType { name, .. } if name == "temp"),
        "{e}"
    );
}

#[test]
fn half_precision_checkpoints_load() {
    let dir = tempfile::tempdir().unwrap();
    for dt in [DType::F16, DType::BF16] {
        let p = edited(dir.path(), |m| {
            for t in m.values_mut() {
                *t = t.to_dtype(dt).unwrap();
            }
        });
        let got = video_embeds(&p);
        let want = golden("tiny_a/outputs_f32.safetensors");
        // Weights rounded to 8-11 mantissa bits move the embedding by far more than f32 noise; this only
        // checks the f16/bf16 files load and run in f32 to a close answer.
        let d = max_abs(&got, get(&want, "video_embeds_prenorm"));
        assert!(d < 0.1, "{dt:?}: {d}");
    }
}

#[test]
fn truncated_and_foreign_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(fixture("tiny_a/model.pth")).unwrap();
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&cut);
    assert!(matches!(e, Error::Checkpoint { .. }), "{e}");
    assert!(e.to_string().contains("cut.pth"), "{e}");

    let st = std::fs::read(fixture("tiny_a/model.safetensors")).unwrap();
    let cut_st = dir.path().join("cut.safetensors");
    std::fs::write(&cut_st, &st[..st.len() - 100]).unwrap();
    let e = load_err(&cut_st);
    assert!(matches!(e, Error::Checkpoint { .. }), "{e}");

    let e = load_err(&fixture("tiny_a/captions.jsonl"));
    assert!(matches!(e, Error::Checkpoint { .. }), "{e}");
    assert!(e.to_string().contains("captions.jsonl"), "{e}");

    let e = load_err(&dir.path().join("nope.pth"));
    assert!(matches!(e, Error::Io { .. }), "{e}");
    assert!(e.to_string().contains("nope.pth"), "{e}");
}
