//! `viclip score` end to end with the tiny fixture model on generated videos: InternVid jsonl, csv
//! and webdataset inputs with every kind of bad row; the parquet, npy, stats and report outputs read
//! back; similarities equal to the library's embed functions on the same clips; aesthetic scores
//! equal to the scorer's on the same frames.

use crate::score_common;
use viclip_cli::score_cmd;

use std::path::Path;

use clap::Parser;
use score_common::*;
use viclip::aesthetic::{AestheticScorer, ClipVisionConfig, Reduce, ScorerOptions};
use viclip::pipeline::{run_all, ClipSource, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess};
use viclip::video::{decode_clip, ClipSpan, DecodeOptions};
use viclip::{LoadOptions, ViClip, ViClipConfig};
use viclip_data::score::read_npy_f16;

fn args(extra: &[&str]) -> score_cmd::ScoreArgs {
    let mut v = vec![
        "score",
        "--weights",
        TINY_WEIGHTS,
        "--config",
        TINY_CONFIG,
        "--workers",
        "2",
        "--batch-size",
        "3",
        "--log-every",
        "1000",
    ];
    v.extend_from_slice(extra);
    Cli::<score_cmd::ScoreArgs>::try_parse_from(v)
        .expect("flags")
        .args
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn model() -> ViClip {
    let cfg = ViClipConfig::from_name_or_path(TINY_CONFIG).expect("config");
    ViClip::from_files(TINY_WEIGHTS, &cfg, LoadOptions::default()).expect("model")
}

/// ViCLIP similarity of clip `(file, span)` with `caption` through the library's own functions.
fn reference_sim(m: &ViClip, file: &Path, span: ClipSpan, caption: &str) -> f32 {
    let opts = PipelineOptions::new(Preprocess::for_config(m.config()));
    let src = vec![ClipSource::Video {
        path: file.to_path_buf(),
        spans: vec![span],
    }];
    let b = run_all(src, opts).expect("pipeline");
    let v = m
        .embed_videos(b.videos.as_ref().expect("decoded"))
        .expect("embed");
    let t = m.embed_texts(&[caption]).expect("embed");
    v.paired_scores(&t).expect("scores")[0]
}

fn check_statuses(out: &Path, expected: &[&str]) -> Vec<arrow_array::RecordBatch> {
    let b = read_shards(out);
    let status = strings(&b, "status");
    let errors = strings(&b, "error");
    let got: Vec<&str> = status
        .iter()
        .map(|s| s.as_deref().unwrap_or("null"))
        .collect();
    assert_eq!(got, expected, "statuses (errors: {errors:#?})");
    for (st, e) in status.iter().zip(&errors) {
        assert_eq!(
            st.as_deref() == Some("ok"),
            e.is_none(),
            "{st:?} with error {e:?}"
        );
    }
    b
}

#[test]
fn internvid_jsonl_end_to_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("internvid.jsonl");
    let expected = write_internvid(&table);
    let out = d.join("out");
    score_cmd::run(&args(&[
        "--input",
        s(&table),
        "--out",
        s(&out),
        "--video-root",
        s(d),
        "--embeddings",
        "--shard-size",
        "5",
    ]))
    .expect("score");

    let b = check_statuses(&out, &expected);
    let n = expected.len();
    // Input columns carried through, in order.
    let ids = strings(&b, "YoutubeID");
    assert_eq!(ids[0].as_deref(), Some("vidA"));
    assert_eq!(ids[3], None, "the malformed line is a row of nulls");
    assert_eq!(ids[12].as_deref(), Some("vidB"));
    let sims = floats(&b, "viclip_sim");
    let frames = frames_used(&b);
    for (i, st) in expected.iter().enumerate() {
        assert_eq!(sims[i].is_some(), *st == "ok", "row {i}");
        if *st == "ok" {
            assert_eq!(frames[i].as_ref().map(Vec::len), Some(8), "row {i}");
        }
    }
    // The bad caption's clip still has its video embedding and frames.
    assert!(frames[8].is_some());

    // Similarities equal those of the library's embed functions on the same clips.
    let m = model();
    let cases = [
        (0, "vidA.mp4", 0.0, 1.5, "a colourful test pattern"),
        (1, "vidA.mp4", 1.0, 2.9, "moving shapes and numbers"),
        (2, "vidB.mkv", 0.5, 2.5, "colour bars"),
        (12, "vidB.mkv", 1.0, 3.0, "bars again"),
    ];
    for (row, file, a, e, cap) in cases {
        let want = reference_sim(&m, &d.join(file), ClipSpan::from_secs(a, e), cap);
        let got = sims[row].expect("sim");
        assert!((got - want).abs() < 1e-5, "row {row}: {got} vs {want}");
    }

    // Embeddings: float16, row-aligned per shard, unit norm, zeros where a side failed.
    let mut video = Vec::new();
    let mut text = Vec::new();
    for k in 0..3 {
        let ((r, e), v) =
            read_npy_f16(&out.join(format!("video_emb/video_emb_{k:05}.npy"))).expect("npy");
        let ((r2, e2), t) =
            read_npy_f16(&out.join(format!("text_emb/text_emb_{k:05}.npy"))).expect("npy");
        assert_eq!((r, e), (r2, e2));
        assert_eq!(e, 48);
        assert_eq!(r, if k < 2 { 5 } else { 3 });
        video.extend(v.chunks(e).map(<[f32]>::to_vec));
        text.extend(t.chunks(e).map(<[f32]>::to_vec));
        let meta = read_parquet(&out.join(format!("metadata/metadata_{k:05}.parquet")));
        assert_eq!(meta.iter().map(|b| b.num_rows()).sum::<usize>(), r);
    }
    assert_eq!(video.len(), n);
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    for i in 0..n {
        let ok = expected[i] == "ok";
        assert_eq!(norm(&video[i]) > 0.5, ok || i == 8, "video row {i}");
        if ok {
            assert!((norm(&video[i]) - 1.0).abs() < 2e-3 && (norm(&text[i]) - 1.0).abs() < 2e-3);
            let dot: f32 = video[i].iter().zip(&text[i]).map(|(a, b)| a * b).sum();
            assert!(
                (dot - sims[i].expect("sim")).abs() < 5e-3,
                "row {i}: f16 dot {dot}"
            );
        }
    }
    assert_eq!(
        norm(&text[3]),
        0.0,
        "the malformed row has no text embedding"
    );

    // Settings in the key-value metadata.
    let f = std::fs::File::open(out.join("00000.parquet")).expect("open");
    let meta = parquet::file::reader::SerializedFileReader::new(f).expect("parquet");
    use parquet::file::reader::FileReader;
    let kv = meta
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let get = |k: &str| kv.iter().find(|x| x.key == k).and_then(|x| x.value.clone());
    assert_eq!(get("viclip.sampling").as_deref(), Some("middle"));
    assert_eq!(get("viclip.resize").as_deref(), Some("bicubic"));
    assert_eq!(get("viclip.model").as_deref(), Some("model.safetensors"));

    // Stats and report.
    let stats: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("00001_stats.json")).expect("stats"),
    )
    .expect("json");
    assert_eq!(stats["rows"], 5);
    assert_eq!(stats["first_row"], 5);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["rows"], n);
    assert_eq!(report["status"]["ok"], 4);
    let q = report["columns"][0]["quantiles"]
        .as_array()
        .expect("quantiles");
    assert_eq!(q.len(), 7);
    let png = std::fs::read(out.join("viclip_sim_hist.png")).expect("png");
    assert_eq!(&png[1..4], b"PNG");
    score_cmd::run_report(&score_cmd::ReportArgs { dir: out.clone() }).expect("report");
}

#[test]
fn csv_with_path_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("clips.csv");
    let expected = write_csv(&table);
    let out = d.join("out");
    score_cmd::run(&args(&[
        "--input",
        s(&table),
        "--out",
        s(&out),
        "--video-root",
        s(d),
        "--start-col",
        "start",
        "--end-col",
        "end",
        "--sampling",
        "demo",
        "--resize",
        "cv2-linear",
    ]))
    .expect("score");
    let b = check_statuses(&out, &expected);
    let extra = strings(&b, "extra");
    assert_eq!(extra[0].as_deref(), Some("x1"));
    assert_eq!(extra[7].as_deref(), Some("x8"));
    assert_eq!(
        strings(&b, "caption")[2].as_deref(),
        Some("a caption, with a comma")
    );
    assert_eq!(
        frames_used(&b)[0].as_deref(),
        Some(&[0, 1, 2, 3, 4, 5, 6, 7][..]),
        "demo sampling of 15 frames"
    );
}

#[test]
fn webdataset_tar_streamed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let tar = d.join("00000.tar");
    let expected = write_tar(&tar, d);
    let out = d.join("out");
    score_cmd::run(&args(&[
        "--input",
        s(&tar),
        "--out",
        s(&out),
        "--shard-size",
        "4",
    ]))
    .expect("score");
    let b = check_statuses(&out, &expected);
    let keys = strings(&b, "key");
    assert_eq!(keys[0].as_deref(), Some("000000000"));
    assert_eq!(
        strings(&b, "caption")[0].as_deref(),
        Some("a colourful test pattern")
    );
    assert_eq!(strings(&b, "caption")[4].as_deref(), Some("bars from json"));
    assert_eq!(strings(&b, "url")[0].as_deref(), Some("http://x/a.mp4"));
    assert!(!out.join(".tmp").exists(), "member copies are removed");
}

#[test]
fn aesthetic_column_equals_scorer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("internvid.jsonl");
    let expected = write_internvid(&table);
    let out = d.join("out");
    let (cw, cc, head) = (
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/aesthetic/clip_vision.safetensors"
        ),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/aesthetic/config.json"
        ),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/aesthetic/aes_v2.safetensors"
        ),
    );
    score_cmd::run(&args(&[
        "--input",
        s(&table),
        "--out",
        s(&out),
        "--video-root",
        s(d),
        "--aesthetic",
        "--clip-weights",
        cw,
        "--clip-config",
        cc,
        "--aesthetic-head",
        head,
    ]))
    .expect("score");
    let b = check_statuses(&out, &expected);
    let aes = floats(&b, "aesthetic");
    assert!(
        aes[8].is_some(),
        "a bad caption does not stop the aesthetic score"
    );
    let scorer = AestheticScorer::from_files(
        cw,
        &ClipVisionConfig::from_name_or_path(cc).expect("cfg"),
        head,
        None,
        &ScorerOptions::default(),
    )
    .expect("scorer");
    let clip = decode_clip(
        d.join("vidA.mp4"),
        ClipSpan::from_secs(0.0, 1.5),
        FrameSampling::Uniform(4),
        4,
        &DecodeOptions::default(),
    )
    .expect("decode");
    let want = scorer
        .score_clip("vidA", &clip.frames, 4, Reduce::Max)
        .expect("score")
        .score;
    assert!(
        (aes[0].expect("aesthetic") - want).abs() < 1e-5,
        "{:?} vs {want}",
        aes[0]
    );
}

#[test]
fn parquet_with_video2dataset_clips_column() {
    use arrow_array::builder::{Float64Builder, ListBuilder, StringBuilder};
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let mut path = StringBuilder::new();
    let mut cap = StringBuilder::new();
    let mut clips = ListBuilder::new(ListBuilder::new(Float64Builder::new()));
    let rows: [(&str, &str, &[[f64; 2]]); 4] = [
        ("vidA.mp4", "one span", &[[0.0, 1.5]]),
        ("vidB.mkv", "two spans", &[[0.0, 1.0], [1.0, 2.0]]),
        ("vidA.mp4", "no span", &[]),
        ("vidB.mkv", "bars", &[[1.0, 2.5]]),
    ];
    for (p, c, spans) in rows {
        path.append_value(p);
        cap.append_value(c);
        for s in spans {
            clips.values().values().append_slice(s);
            clips.values().append(true);
        }
        clips.append(true);
    }
    let batch = arrow_array::RecordBatch::try_from_iter([
        ("path", Arc::new(path.finish()) as arrow_array::ArrayRef),
        ("caption", Arc::new(cap.finish())),
        ("clips", Arc::new(clips.finish())),
    ])
    .expect("batch");
    let table = d.join("clips.parquet");
    let f = std::fs::File::create(&table).expect("create");
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).expect("writer");
    w.write(&batch).expect("write");
    w.close().expect("close");
    let out = d.join("out");
    score_cmd::run(&args(&[
        "--input",
        s(&table),
        "--out",
        s(&out),
        "--video-root",
        s(d),
        "--path-col",
        "path",
        "--clips-col",
        "clips",
    ]))
    .expect("score");
    check_statuses(&out, &["ok", "bad_span", "bad_span", "ok"]);
    let m = model();
    let sims = floats(&read_shards(&out), "viclip_sim");
    let want = reference_sim(
        &m,
        &d.join("vidB.mkv"),
        ClipSpan::from_secs(1.0, 2.5),
        "bars",
    );
    assert!((sims[3].expect("sim") - want).abs() < 1e-5);
}

#[test]
fn colour_conversion_recorded_per_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    video(d, "untagged.mp4", "testsrc2");
    let tagged = d.join("bt709.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=10:duration=3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuvj420p",
        "-colorspace",
        "bt709",
        "-color_primaries",
        "bt709",
        "-color_trc",
        "bt709",
        "-color_range",
        "pc",
        s(&tagged),
    ]);
    let table = d.join("t.csv");
    std::fs::write(
        &table,
        "path,caption\nuntagged.mp4,a pattern\nbt709.mp4,a tagged pattern\nnone.mp4,missing\n",
    )
    .expect("write");
    let out = d.join("out");
    score_cmd::run(&args(&[
        "--input",
        s(&table),
        "--path-col",
        "path",
        "--caption-col",
        "caption",
        "--video-root",
        s(d),
        "--out",
        s(&out),
    ]))
    .expect("score");
    let b = check_statuses(&out, &["ok", "ok", "missing_video"]);
    let color = strings(&b, "video_color");
    assert_eq!(color[0].as_deref(), Some("bt601 limited 8-bit rot0"));
    assert_eq!(color[1].as_deref(), Some("bt709 full 8-bit rot0"));
    assert_eq!(color[2], None, "no colour for a clip that was not decoded");
    assert_eq!(strings(&b, "warning"), vec![None, None, None]);
}

/// The `score` job and the streaming scorer run on one engine: the same (clip, caption) gives the
/// same row, and what one refuses (an empty caption, a missing video, a reversed span) the other
/// refuses too.
#[test]
fn the_job_and_the_stream_agree_row_for_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("clips.csv");
    std::fs::write(
        &table,
        "path,caption,start,end\nvidA.mp4,a test pattern,0,1.5\nvidB.mkv,colour bars,0.5,2.5\n\
         vidA.mp4,,0,1\nmissing.mp4,nothing,0,1\nvidA.mp4,reversed,2,1\nvidA.mp4,the end,1,2.9\n",
    )
    .expect("write");
    let out = d.join("out");
    score_cmd::run(&args(&["--input", s(&table), "--out", s(&out)])).expect("score");
    let b = read_shards(&out);
    let (status, sims) = (strings(&b, "status"), floats(&b, "viclip_sim"));
    let rows: [(&str, &str, f64, f64); 6] = [
        ("vidA.mp4", "a test pattern", 0.0, 1.5),
        ("vidB.mkv", "colour bars", 0.5, 2.5),
        ("vidA.mp4", "", 0.0, 1.0),
        ("missing.mp4", "nothing", 0.0, 1.0),
        ("vidA.mp4", "reversed", 2.0, 1.0),
        ("vidA.mp4", "the end", 1.0, 2.9),
    ];
    let m = model();
    let items: Vec<(ClipSource, String)> = rows
        .iter()
        .map(|(f, c, a, z)| {
            let clip = ClipSource::Video {
                path: d.join(f),
                spans: vec![ClipSpan::from_secs(*a, *z)],
            };
            (clip, c.to_string())
        })
        .collect();
    let opts = viclip::stream::StreamOptions::default();
    let scored: Vec<_> = viclip::stream::score_stream(&m, None, items, &opts)
        .expect("stream")
        .collect();
    assert_eq!(scored.len(), rows.len());
    for (r, got) in scored.iter().enumerate() {
        let ok = status[r].as_deref() == Some("ok");
        match got {
            Ok(sc) => {
                assert!(
                    ok,
                    "row {r}: the stream scored what the job refused ({:?})",
                    status[r]
                );
                let job = sims[r].expect("an ok row has a score");
                assert!(
                    (sc.sim - job).abs() < 1e-6,
                    "row {r}: stream {} job {job}",
                    sc.sim
                );
            }
            Err(e) => assert!(!ok, "row {r}: the job scored what the stream refused: {e}"),
        }
    }
    assert_eq!(status[2].as_deref(), Some("bad_caption"));
    assert!(scored[2]
        .as_ref()
        .is_err_and(|e| e.to_string().contains("empty caption")));
}
