//! The CLI on decoded inputs: `embed-video --frames` with the demo's preprocessing reproduces the original
//! end to end, `embed-video --video` gives one row per clip (NaN rows for clips that fail), and
//! `aesthetic --video/--frames` scores clips from their uniformly sampled frames.

use std::path::Path;
use std::process::Command;

use candle_core::Tensor;
use viclip_testkit::fixtures::{fixture, get, golden, max_abs};

fn viclip(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_viclip"))
        .args(args)
        .output()
        .expect("run viclip")
}

fn ok(args: &[&str]) {
    let out = viclip(args);
    assert!(
        out.status.success(),
        "viclip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Writes golden raw video `i` of tiny_a as numbered PNG frames.
fn write_frames(dir: &Path, i: usize) {
    let inputs = golden("tiny_a/inputs.safetensors");
    let frames = get(&inputs, &format!("raw{i}.frames_rgb_u8"));
    let (n, h, w, _) = frames.dims4().unwrap();
    for f in 0..n {
        let data = frames
            .get(f)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<u8>()
            .unwrap();
        let img = image::RgbImage::from_raw(w as u32, h as u32, data).unwrap();
        img.save(dir.join(format!("frame_{f}.png"))).unwrap();
    }
}

fn testsrc(path: &Path, seconds: u32) {
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=160x120:rate=10:duration={seconds}"))
        .args(["-pix_fmt", "yuv420p", "-c:v", "libx264", "-g", "10"])
        .arg(path)
        .status()
        .expect("ffmpeg CLI");
    assert!(st.success());
}

#[test]
fn frames_dirs_with_demo_preprocessing_match_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "embed-video".to_string(),
        "--weights".into(),
        s(&fixture("tiny_a/model.pth")).into(),
        "--config".into(),
        s(&fixture("tiny_a/config.json")).into(),
        "--sampling".into(),
        "demo".into(),
        "--resize".into(),
        "cv2-linear".into(),
    ];
    for i in 0..3 {
        let d = dir.path().join(format!("raw{i}"));
        std::fs::create_dir(&d).unwrap();
        write_frames(&d, i);
        args.extend(["--frames".into(), s(&d).into()]);
    }
    let out = dir.path().join("v.npy");
    args.extend(["--out".into(), s(&out).into()]);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let got = Tensor::read_npy(&out).unwrap();
    let want = golden("tiny_a/outputs_f32.safetensors");
    let d = max_abs(&got, get(&want, "raw_video_embeds"));
    assert!(d <= 1e-4, "raw video embeddings through the CLI: {d:e}");
}

#[test]
fn video_spans_give_one_row_per_clip() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("v.mp4");
    testsrc(&video, 3);
    let out = dir.path().join("e.npy");
    let rows = dir.path().join("rows.jsonl");
    ok(&[
        "embed-video",
        "--weights",
        s(&fixture("tiny_a/model.safetensors")),
        "--config",
        s(&fixture("tiny_a/config.json")),
        "--video",
        s(&video),
        "--start",
        "0",
        "--end",
        "1.5",
        "--start",
        "00:01.5",
        "--end",
        "3",
        "--start",
        "10",
        "--end",
        "12",
        "--out",
        s(&out),
        "--rows",
        s(&rows),
    ]);
    let e = Tensor::read_npy(&out).unwrap().to_vec2::<f32>().unwrap();
    assert_eq!(e.len(), 3);
    for row in &e[..2] {
        let n: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-4, "norm {n}");
    }
    assert!(
        e[2].iter().all(|x| x.is_nan()),
        "the clip past the end is a NaN row"
    );
    assert!(e[0] != e[1]);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&rows)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["frame_indices"].as_array().unwrap().len(), 8);
    assert!(
        lines[2]["error"].as_str().unwrap().contains("v.mp4"),
        "{}",
        lines[2]
    );
}

#[test]
fn aesthetic_scores_video_clips_and_frame_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("v.mp4");
    testsrc(&video, 2);
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    write_frames(&frames, 0);
    let out = dir.path().join("a.json");
    let (weights, config) = (
        fixture("aesthetic/clip_vision.safetensors"),
        fixture("aesthetic/config.json"),
    );
    let head = fixture("aesthetic/aes_v2.pth");
    let aes = |extra: &[&str]| {
        let mut a = vec![
            "aesthetic",
            "--clip-weights",
            s(&weights),
            "--clip-config",
            s(&config),
        ];
        a.extend(["--head", s(&head), "--out", s(&out)]);
        a.extend_from_slice(extra);
        ok(&a);
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&out).unwrap()).unwrap()
    };
    let j = aes(&["--video", s(&video), "--start", "0", "--end", "1"]);
    assert_eq!(j["scores"].as_array().unwrap().len(), 1);
    assert!(j["scores"][0].is_f64(), "{j}");
    // 10 frames in [0, 1) at 10 fps: round(linspace(0, 9, 4)) = 0, 3, 6, 9.
    assert_eq!(j["frame_indices"][0], serde_json::json!([0, 3, 6, 9]));
    let j = aes(&["--frames", s(&frames)]);
    // raw0 has 17 frames: round(linspace(0, 16, 4)) = 0, 5, 11, 16.
    assert_eq!(j["frame_indices"][0], serde_json::json!([0, 5, 11, 16]));
}
