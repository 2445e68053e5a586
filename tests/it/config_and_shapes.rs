//! Presets build exactly the parameters of the released checkpoints (names, shapes and order of the
//! original state dicts, `tests/fixtures/manifest_*.json`), and JSON configs parse as documented.

use crate::common::fixture;
use viclip::{parameter_shapes, ViClipConfig};

fn manifest(file: &str) -> (Vec<(String, Vec<usize>)>, u64) {
    let text = std::fs::read_to_string(fixture(file)).expect("manifest fixture");
    let v: serde_json::Value = serde_json::from_str(&text).expect("manifest json");
    let list = v["tensors"]
        .as_array()
        .expect("tensors array")
        .iter()
        .map(|t| {
            let name = t["name"].as_str().expect("name").to_string();
            let shape = t["shape"]
                .as_array()
                .expect("shape")
                .iter()
                .map(|d| d.as_u64().expect("dim") as usize)
                .collect();
            (name, shape)
        })
        .collect();
    (list, v["param_counts"]["total"].as_u64().expect("total"))
}

fn check(cfg: &ViClipConfig, file: &str) {
    let (want, total) = manifest(file);
    let got = parameter_shapes(cfg).expect("shapes");
    assert_eq!(got.len(), want.len(), "{file}: tensor count");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{file}: tensor #{i}");
    }
    let numel: u64 = got
        .iter()
        .map(|(_, s)| s.iter().product::<usize>() as u64)
        .sum();
    assert_eq!(numel, total, "{file}: parameter count");
}

#[test]
fn l14_preset_matches_the_released_state_dict() {
    check(&ViClipConfig::viclip_l14(), "manifest_L14.json");
    check(
        &ViClipConfig::preset("viclip-l14").unwrap(),
        "manifest_L14.json",
    );
}

#[test]
fn b16_preset_matches_the_released_state_dict() {
    check(&ViClipConfig::viclip_b16(), "manifest_B16.json");
}

#[test]
fn json_config_ignores_unknown_keys_and_accepts_the_index_wrapper() {
    let plain = ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).unwrap();
    let wrapped = ViClipConfig::from_json_file(&fixture("tiny_a/index.json")).unwrap();
    assert_eq!(plain, wrapped);
    assert_eq!(plain.embed_dim, 48);
    assert_eq!(plain.vision.grid(), 8);
    assert_eq!(plain.vision.seq_len(), 1 + 64 * 8);
}

#[test]
fn bad_configs_name_the_field() {
    let base = r#"{"embed_dim": 8, "vision": {"input_resolution": 28, "patch_size": 14, "width": 16, "layers": 1, "heads": 3, "num_frames": 4},
                  "text": {"context_length": 32, "vocab_size": 49408, "width": 8, "layers": 1, "heads": 2}}"#;
    let err = ViClipConfig::from_json_str(base, "x.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.json") && err.contains("vision.heads"),
        "{err}"
    );
    let missing = r#"{"embed_dim": 8, "vision": {"input_resolution": 28}}"#;
    let err = ViClipConfig::from_json_str(missing, "y.json")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("y.json") && err.contains("patch_size"),
        "{err}"
    );
    let err = ViClipConfig::from_name_or_path("viclip-xl")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("viclip-xl") && err.contains("viclip-l14"),
        "{err}"
    );
    let err = ViClipConfig::from_name_or_path("nope/missing.json")
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.json"), "{err}");
}
