//! Throughput of `viclip score` end to end on generated videos with the tiny fixture model, split into
//! its parts (decode + preprocess alone, the video tower alone) to show what bounds it. A measurement,
//! not a test: ignored by default, no timing assertions. Run it with
//! `cargo test --release -p viclip-cli --test it -- --ignored --nocapture score_perf::` (numbers in
//! PERFORMANCE.md).

use crate::score_common;
use viclip_cli::score_cmd;

use std::io::Write;
use std::time::Instant;

use clap::Parser;
use score_common::*;
use viclip::pipeline::{ClipSource, Pipeline, PipelineOptions};
use viclip::preprocess::Preprocess;
use viclip::video::ClipSpan;
use viclip::{LoadOptions, ViClip, ViClipConfig};

#[test]
#[ignore = "a measurement; run with --release -- --ignored --nocapture"]
fn score_throughput() {
    let _ = score_cmd::run_report;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (videos, spans_per, secs) = (24usize, 4usize, 8.0f64);
    let mut table = std::fs::File::create(d.join("t.jsonl")).expect("create");
    let mut sources = Vec::new();
    for v in 0..videos {
        let name = format!("v{v:03}.mp4");
        let src = format!("testsrc2=size=320x240:rate=25:duration={secs}");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            &src,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            d.join(&name).to_str().expect("utf-8"),
        ]);
        let mut spans = Vec::new();
        for k in 0..spans_per {
            let (a, b) = (k as f64 * 2.0, k as f64 * 2.0 + 2.0);
            writeln!(table, r#"{{"YoutubeID": "v{v:03}", "Start_timestamp": "{a}", "End_timestamp": "{b}", "Caption": "clip {k} of video {v}"}}"#)
                .expect("write");
            spans.push(ClipSpan::from_secs(a, b));
        }
        sources.push(ClipSource::Video {
            path: d.join(&name),
            spans,
        });
    }
    drop(table);
    let clips = (videos * spans_per) as f64;
    let cfg = ViClipConfig::from_name_or_path(TINY_CONFIG).expect("config");

    // Decode + preprocess alone (the pipeline, all cores).
    let mut opts = PipelineOptions::new(Preprocess::for_config(&cfg));
    opts.batch_size = 16;
    let t = Instant::now();
    let mut batches = Vec::new();
    for b in Pipeline::spawn(sources, opts).expect("pipeline") {
        batches.extend(b.videos);
    }
    let decode = t.elapsed().as_secs_f64();

    // The video tower alone on those batches.
    let opts = LoadOptions::default().with_batch_size(16);
    let model = ViClip::from_files(TINY_WEIGHTS, &cfg, opts).expect("model");
    let t = Instant::now();
    for b in &batches {
        model.embed_videos(b).expect("embed");
    }
    let tower = t.elapsed().as_secs_f64();

    // End to end.
    let out = d.join("out");
    let args = Cli::<score_cmd::ScoreArgs>::try_parse_from([
        "score",
        "--weights",
        TINY_WEIGHTS,
        "--config",
        TINY_CONFIG,
        "--batch-size",
        "16",
        "--input",
        d.join("t.jsonl").to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--video-root",
        d.to_str().expect("utf-8"),
        "--embeddings",
        "--log-every",
        "1000",
    ])
    .expect("flags")
    .args;
    let t = Instant::now();
    score_cmd::run(&args).expect("score");
    let total = t.elapsed().as_secs_f64();
    // End to end with the aesthetic column (tiny CLIP fixture): adds a second, 4-frame decode.
    let mut with_aes = args.clone();
    with_aes.out = d.join("out_aes");
    with_aes.aesthetic = true;
    with_aes.aesthetic_model.clip_weights = Some(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/aesthetic/clip_vision.safetensors"
        )
        .into(),
    );
    with_aes.aesthetic_model.clip_config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/aesthetic/config.json"
    )
    .into();
    with_aes.aesthetic_model.aesthetic_head = Some(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/aesthetic/aes_v2.safetensors"
        )
        .into(),
    );
    let t = Instant::now();
    score_cmd::run(&with_aes).expect("score");
    let total_aes = t.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{clips} clips (2 s spans of 320x240 25 fps H.264, {spans_per} per file), {cores} cores:"
    );
    println!("  decode + preprocess: {:.1} clips/s", clips / decode);
    println!(
        "  video tower (tiny, 112 px, 8 frames): {:.1} clips/s",
        clips / tower
    );
    println!(
        "  viclip score end to end: {:.1} clips/s ({total:.2} s)",
        clips / total
    );
    println!(
        "  viclip score --aesthetic (tiny CLIP, 56 px): {:.1} clips/s ({total_aes:.2} s)",
        clips / total_aes
    );
}
