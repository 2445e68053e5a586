//! `viclip aesthetic` end to end through its `run` functions (the command file is included directly, so
//! this works before main.rs wires the subcommand): flags parsed by clap, JSON written, scores equal to
//! the golden ones.

use viclip_cli::aesthetic_cmd;

use std::path::Path;

use crate::aesthetic_common::*;
use aesthetic_cmd::AestheticArgs;
use clap::Parser;
use serde_json::Value;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: AestheticArgs,
}

fn parse(extra: &[&str], out: &Path, head: &str) -> Result<AestheticArgs, clap::Error> {
    let weights = fixture("clip_vision.safetensors");
    let config = fixture("config.json");
    let head = fixture(head);
    let mut argv: Vec<String> = [
        "aesthetic",
        "--clip-weights",
        weights.to_str().unwrap(),
        "--clip-config",
        config.to_str().unwrap(),
        "--head",
        head.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.extend(extra.iter().map(|s| s.to_string()));
    Cli::try_parse_from(argv).map(|c| c.args)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn tensor_input_scores_match_golden() {
    let g = Golden::load();
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("batch.npy");
    g.input("batch.pixel_values").write_npy(&npy).unwrap();
    for (name, file) in HEADS {
        let out = dir.path().join(format!("{name}.json"));
        let args = parse(&["--tensor", npy.to_str().unwrap()], &out, file).unwrap();
        aesthetic_cmd::run(&args).unwrap();
        let j = read_json(&out);
        let d = max_abs_vec(
            &floats(&j["scores"]),
            &f32s(g.output(&format!("batch.score_{name}"))),
        );
        assert!(d <= 1e-4, "{name}: {d}");
        let kind = if name == "v2relu" { "v2-relu" } else { name };
        assert_eq!(j["model"]["head_kind"], kind);
        assert_eq!(j["model"]["image_size"], 56);
        assert_eq!(j["input"], "tensor");
        assert_eq!(j["failed"], 0);
    }
}

#[test]
fn image_files_with_one_broken_still_score_the_rest() {
    let g = Golden::load();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..6 {
        let p = dir.path().join(format!("img{i}.png"));
        let f = to_image(g.input(&format!("img{i}.rgb")));
        image::RgbImage::from_raw(f.width() as u32, f.height() as u32, f.into_data())
            .expect("frame size")
            .save(&p)
            .unwrap();
        files.push(p.to_str().unwrap().to_string());
    }
    let bad = dir.path().join("bad.jpg");
    std::fs::write(&bad, b"not a jpeg").unwrap();
    files.insert(2, bad.to_str().unwrap().to_string());
    let out = dir.path().join("out.json");
    let mut extra = vec!["--images"];
    extra.extend(files.iter().map(String::as_str));
    extra.extend(["--head-kind", "v2", "--batch-size", "3"]);
    let args = parse(&extra, &out, "aes_v2.pth").unwrap();
    aesthetic_cmd::run(&args).unwrap();
    let j = read_json(&out);
    let scores = j["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 7);
    assert!(scores[2].is_null());
    assert!(j["items"][2]["error"].as_str().unwrap().contains("bad.jpg"));
    let got: Vec<f32> = scores
        .iter()
        .filter(|s| !s.is_null())
        .map(|s| s.as_f64().unwrap() as f32)
        .collect();
    let d = max_abs_vec(&got, &f32s(g.output("batch.score_v2")));
    assert!(d <= 1e-4, "{d}");
    assert_eq!(j["failed"], 1);
    assert_eq!(j["model"]["detected_head_kind"], "v2");
    assert!(j["reduce"].is_null());
}

#[test]
fn clips_through_run_clips() {
    let g = Golden::load();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clips.json");
    let args = parse(&["--reduce", "mean"], &out, "aes_v2relu.pth").unwrap();
    let mut clips: Vec<viclip::pipeline::ClipSource> = (0..3)
        .map(|c| viclip::pipeline::ClipSource::Frames {
            name: format!("clip{c}"),
            frames: clip_frames(&g, c),
        })
        .collect();
    clips.insert(
        1,
        viclip::pipeline::ClipSource::FramesDir(dir.path().join("gone")),
    );
    aesthetic_cmd::run_clips(&args, clips).unwrap();
    let j = read_json(&out);
    assert_eq!(j["reduce"], "mean");
    assert_eq!(j["frames_per_clip"], 4);
    let scores = j["scores"].as_array().unwrap();
    assert!(scores[1].is_null());
    let gone = j["items"][1]["error"].as_str().unwrap();
    assert!(gone.contains("gone"), "{gone}");
    let got: Vec<f32> = [0, 2, 3]
        .iter()
        .map(|&i| scores[i].as_f64().unwrap() as f32)
        .collect();
    let d = max_abs_vec(&got, &f32s(g.output("clips.score_v2relu.mean")));
    assert!(d <= 1e-4, "{d}");
    assert_eq!(j["frame_indices"][3], serde_json::json!([0, 10, 19, 29]));
}

#[test]
fn bad_flags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.json");
    assert!(parse(&["--head-kind", "v3"], &out, "aes_v1.pth").is_err());
    assert!(parse(&["--reduce", "median"], &out, "aes_v1.pth").is_err());
    assert!(parse(
        &["--images", "a.png", "--tensor", "x.npy"],
        &out,
        "aes_v1.pth"
    )
    .is_err());
    let args = parse(&[], &out, "aes_v1.pth").unwrap();
    let err = aesthetic_cmd::run(&args).unwrap_err();
    assert!(err.to_string().contains("--images"), "{err}");
    let args = parse(&["--tensor", "/nonexistent/x.npy"], &out, "aes_v1.pth").unwrap();
    assert!(aesthetic_cmd::run(&args)
        .unwrap_err()
        .to_string()
        .contains("x.npy"));
}
