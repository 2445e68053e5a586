//! `viclip score` end to end, clips per second, through the real binary on videos generated with the
//! ffmpeg CLI: 24 files (320×240, 25 fps, 8 s, H.264) × 4 spans of 2 s = 96 clips in an InternVid jsonl,
//! with `--embeddings`. Each iteration scores the table into a fresh directory (model load, decode,
//! both towers, parquet + npy + report).
//!
//! The model is the tiny fixture (`tests/fixtures/tiny_a`) unless `VICLIP_BENCH_WEIGHTS` and
//! `VICLIP_BENCH_CONFIG` name another; `VICLIP_BENCH_DEVICE` / `VICLIP_BENCH_DTYPE` pass `--device` /
//! `--dtype`. With the tiny model this measures the pipeline around the towers (decoding dominates);
//! with a real model, the towers.
//!
//! `VICLIP_BENCH_BIN` runs another build of the binary (e.g. an older one, for a before/after).
//!
//! `96-clips-aesthetic` adds the aesthetic column (`--aesthetic` with the tiny CLIP fixture of
//! `tests/fixtures/aesthetic`): its 4 uniformly sampled frames per clip come from the same decode.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const VIDEOS: usize = 24;
const SPANS: usize = 4;

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect(
            "the ffmpeg CLI generates the bench's videos (scripts/setup-debian.sh installs it)",
        );
    assert!(status.success(), "ffmpeg {args:?}");
}

/// Writes the videos and the table into `dir`; returns the table's path.
fn setup(dir: &Path) -> std::path::PathBuf {
    let table = dir.join("clips.jsonl");
    let mut t = std::fs::File::create(&table).expect("table");
    for v in 0..VIDEOS {
        let name = dir.join(format!("v{v:03}.mp4"));
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=8",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            name.to_str().expect("utf-8 path"),
        ]);
        for k in 0..SPANS {
            let (a, b) = (2 * k, 2 * k + 2);
            writeln!(
                t,
                r#"{{"YoutubeID": "v{v:03}", "Start_timestamp": "{a}", "End_timestamp": "{b}", "Caption": "clip {k} of video {v}"}}"#
            )
            .expect("write");
        }
    }
    table
}

fn score(c: &mut Criterion) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let weights = std::env::var("VICLIP_BENCH_WEIGHTS")
        .unwrap_or_else(|_| format!("{root}/tests/fixtures/tiny_a/model.safetensors"));
    let config = std::env::var("VICLIP_BENCH_CONFIG")
        .unwrap_or_else(|_| format!("{root}/tests/fixtures/tiny_a/config.json"));
    let device = std::env::var("VICLIP_BENCH_DEVICE").unwrap_or_else(|_| "cpu".into());
    let dtype = std::env::var("VICLIP_BENCH_DTYPE").unwrap_or_else(|_| "f32".into());
    let bin =
        std::env::var("VICLIP_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_viclip").into());
    let dir = tempfile::tempdir().expect("tempdir");
    let table = setup(dir.path());
    let mut g = c.benchmark_group("score");
    g.sample_size(10);
    g.throughput(Throughput::Elements((VIDEOS * SPANS) as u64));
    let fx = format!("{root}/tests/fixtures/aesthetic");
    let aesthetic: Vec<String> = [
        "--aesthetic",
        "--clip-weights",
        &format!("{fx}/clip_vision.safetensors"),
        "--clip-config",
        &format!("{fx}/config.json"),
        "--aesthetic-head",
        &format!("{fx}/aes_v2.safetensors"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut run = 0;
    for (name, extra) in [
        ("96-clips-end-to-end", Vec::new()),
        ("96-clips-aesthetic", aesthetic),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                run += 1;
                let out = dir.path().join(format!("out{run}"));
                let status = Command::new(&bin)
                    .args(["score", "--input"])
                    .arg(&table)
                    .arg("--video-root")
                    .arg(dir.path())
                    .arg("--out")
                    .arg(&out)
                    .args(["--weights", &weights, "--config", &config])
                    .args(["--device", &device, "--dtype", &dtype, "--embeddings"])
                    .args(&extra)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .expect("run viclip score");
                assert!(status.success(), "viclip score failed");
                std::fs::remove_dir_all(&out).ok();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, score);
criterion_main!(benches);
