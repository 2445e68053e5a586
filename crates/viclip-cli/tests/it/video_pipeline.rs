//! The decode + preprocess pipeline (order, batching, failures in place), every bad-input case as a
//! typed error naming file and span, and the CLI's `VideoArgs`.

use viclip_cli::video_args;

use std::path::{Path, PathBuf};

use clap::Parser;
use viclip::pipeline::{ClipSource, Pipeline, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess, ResizeFilter, RgbFrame};
use viclip::video::{decode_clip, decode_clips, ClipSpan, DecodeOptions};
use viclip::{Error, ViClipConfig};
use viclip_testkit::video::{ffmpeg, testsrc, H264, VP9};

fn tiny() -> ViClipConfig {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/fixtures/tiny_a/config.json");
    ViClipConfig::from_json_file(&p).unwrap()
}

fn decode_err(path: &Path, span: ClipSpan, s: FrameSampling) -> Error {
    match decode_clip(path, span, s, 8, &DecodeOptions::default()) {
        Ok(c) => panic!(
            "{} {span}: expected an error, got {} frames",
            path.display(),
            c.num_frames
        ),
        Err(e) => e,
    }
}

/// The error is of the expected kind and its message names the file, the span and `needle`.
fn check(e: &Error, kind: &str, path: &Path, span: &str, needle: &str) {
    let msg = e.to_string();
    let k = match e {
        Error::Decode { .. } => "decode",
        Error::Span { .. } => "span",
        Error::Sampling { .. } => "sampling",
        _ => "other",
    };
    assert_eq!(k, kind, "{msg}");
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(
        msg.contains(&*name) && msg.contains(span) && msg.contains(needle),
        "{msg}"
    );
}

#[test]
fn bad_inputs_are_typed_errors_naming_file_and_span() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let v = testsrc(d, "ok.mp4", 96, 64, 30, 3.0, H264);
    let mid = FrameSampling::Middle;
    let whole = ClipSpan::whole();

    check(
        &decode_err(&d.join("nope.mp4"), whole, mid),
        "decode",
        &d.join("nope.mp4"),
        "whole file",
        "not found",
    );

    let text = d.join("notes.mp4");
    std::fs::write(&text, "this is not a video\n".repeat(100)).unwrap();
    check(
        &decode_err(&text, whole, mid),
        "decode",
        &text,
        "whole file",
        "cannot open",
    );

    let audio = d.join("audio.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=1",
        "-c:a",
        "aac",
        audio.to_str().unwrap(),
    ]);
    check(
        &decode_err(&audio, whole, mid),
        "decode",
        &audio,
        "whole file",
        "no video stream",
    );

    // Truncated without its index (moov at the end): cannot be opened.
    let bytes = std::fs::read(&v).unwrap();
    let cut = d.join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    check(
        &decode_err(&cut, whole, mid),
        "decode",
        &cut,
        "whole file",
        "cannot open",
    );

    // Truncated with the index first: the start still decodes, the missing end is an error.
    let fast = d.join("fast.mp4");
    ffmpeg(&[
        "-i",
        v.to_str().unwrap(),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        fast.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&fast).unwrap();
    let cut2 = d.join("cut_fast.mp4");
    std::fs::write(&cut2, &bytes[..bytes.len() * 2 / 5]).unwrap();
    let late = ClipSpan::from_secs(2.0, 3.0);
    let e = decode_err(&cut2, late, mid);
    assert!(matches!(e, Error::Decode { .. }), "{e}");
    assert!(
        e.to_string().contains("cut_fast.mp4") && e.to_string().contains("00:00:02.000"),
        "{e}"
    );
    assert!(decode_clip(
        &cut2,
        ClipSpan::from_secs(0.0, 0.2),
        mid,
        8,
        &DecodeOptions::default()
    )
    .is_ok());

    let past = ClipSpan::from_secs(10.0, 12.0);
    check(
        &decode_err(&v, past, mid),
        "span",
        &v,
        "00:00:10.000",
        "after the last frame",
    );

    let backwards = ClipSpan::from_secs(2.0, 1.0);
    check(
        &decode_err(&v, backwards, mid),
        "span",
        &v,
        "00:00:02.000",
        "not before the end",
    );
    let empty = ClipSpan::from_secs(1.0, 1.0);
    check(
        &decode_err(&v, empty, mid),
        "span",
        &v,
        "00:00:01.000",
        "not before the end",
    );

    // Frames sit at 1.0 and 1.0333 s: nothing in [1.001, 1.02).
    let between = ClipSpan::from_secs(1.001, 1.02);
    check(
        &decode_err(&v, between, mid),
        "span",
        &v,
        "00:00:01.001",
        "no frame",
    );

    // Six frames; demo sampling needs eight, middle repeats the last one.
    let short = ClipSpan::from_secs(1.0, 1.2);
    check(
        &decode_err(&v, short, FrameSampling::Demo),
        "sampling",
        &v,
        "00:00:01.200",
        "at least 8",
    );
    let c = decode_clip(&v, short, mid, 8, &DecodeOptions::default()).unwrap();
    assert_eq!(c.indices, [0, 1, 2, 3, 4, 5, 5, 5]);

    assert!(viclip::video::parse_timestamp("1:2:3:4").is_err());

    // One call with good and bad spans: each gets its own answer.
    let spans = [
        ClipSpan::from_secs(0.0, 1.0),
        past,
        backwards,
        short,
        ClipSpan::from_secs(2.0, 3.0),
    ];
    let r = decode_clips(
        &v,
        &spans,
        FrameSampling::Demo,
        8,
        &DecodeOptions::default(),
    );
    let ok: Vec<bool> = r.iter().map(|x| x.is_ok()).collect();
    assert_eq!(ok, [true, false, false, false, true]);
}

/// Direct decode + preprocess of one clip, for comparison with the pipeline's rows.
fn direct(path: &Path, span: ClipSpan, p: &Preprocess) -> Vec<f32> {
    let c = decode_clip(
        path,
        span,
        p.sampling,
        p.num_frames,
        &DecodeOptions::default(),
    )
    .unwrap();
    p.process_sampled(&c.frames).unwrap()
}

#[test]
fn pipeline_keeps_order_batches_and_reports_failures_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let a = testsrc(tmp.path(), "a.mp4", 128, 72, 30, 3.0, H264);
    let b = testsrc(tmp.path(), "b.webm", 96, 96, 25, 2.0, VP9);
    let frames_dir = tmp.path().join("frames");
    std::fs::create_dir(&frames_dir).unwrap();
    let pat = frames_dir.join("f%03d.png");
    ffmpeg(&[
        "-i",
        b.to_str().unwrap(),
        "-frames:v",
        "12",
        pat.to_str().unwrap(),
    ]);

    let p = Preprocess::for_config(&tiny()).with_resize(ResizeFilter::Cv2Linear);
    let spans = vec![
        ClipSpan::from_secs(0.0, 1.0),
        ClipSpan::from_secs(1.0, 2.0),
        ClipSpan::from_secs(7.0, 8.0), // past the end
        ClipSpan::from_secs(2.0, 3.0),
    ];
    let raw: Vec<RgbFrame> = (0..5)
        .map(|i| RgbFrame::new(40, 30, vec![i * 40; 3600]).unwrap())
        .collect();
    let sources = vec![
        ClipSource::Video {
            path: a.clone(),
            spans: spans.clone(),
        },
        ClipSource::Video {
            path: tmp.path().join("missing.mp4"),
            spans: vec![],
        },
        ClipSource::FramesDir(frames_dir.clone()),
        ClipSource::Video {
            path: b.clone(),
            spans: vec![],
        },
        ClipSource::Frames {
            name: "raw".into(),
            frames: raw.clone(),
        },
    ];
    let mut opts = PipelineOptions::new(p.clone());
    opts.batch_size = 2;
    opts.queue_batches = 1;
    opts.workers = Some(2);
    let batches: Vec<_> = Pipeline::spawn(sources, opts).unwrap().collect();

    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for batch in &batches {
        assert!(batch.clips.len() <= 2);
        if let Some(v) = &batch.videos {
            assert_eq!(v.dims(), &[batch.clips.len(), 8, 3, 112, 112]);
            for (i, c) in batch.clips.iter().enumerate() {
                let px = v
                    .get(i)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap();
                rows.push((c.clip_index, px, c.clone()));
            }
        }
        failed.extend(
            batch
                .failures
                .iter()
                .map(|f| (f.clip_index, f.error.to_string())),
        );
    }
    let order: Vec<usize> = rows.iter().map(|r| r.0).collect();
    assert_eq!(order, [0, 1, 3, 5, 6, 7]);
    assert_eq!(failed.iter().map(|f| f.0).collect::<Vec<_>>(), [2, 4]);
    assert!(
        failed[0].1.contains("a.mp4") && failed[0].1.contains("00:00:07.000"),
        "{}",
        failed[0].1
    );
    assert!(
        failed[1].1.contains("missing.mp4") && failed[1].1.contains("not found"),
        "{}",
        failed[1].1
    );

    assert_eq!(rows[0].1, direct(&a, spans[0], &p));
    assert_eq!(rows[1].1, direct(&a, spans[1], &p));
    assert_eq!(rows[2].1, direct(&a, spans[3], &p));
    assert_eq!(rows[4].1, direct(&b, ClipSpan::whole(), &p));
    assert_eq!(
        rows[5].1,
        p.process_all(&raw, "raw", "all frames").unwrap().pixels
    );
    let info = &rows[1].2;
    assert_eq!(
        (info.sampling, info.resize, info.num_source_frames),
        (FrameSampling::Middle, ResizeFilter::Cv2Linear, 30)
    );
    assert_eq!(info.span, "span [00:00:01.000, 00:00:02.000)");
    assert_eq!(info.frame_indices, [1, 4, 8, 12, 16, 19, 23, 27]);
    let times = info.frame_times.clone().unwrap();
    assert!((times[0] - (1.0 + 1.0 / 30.0)).abs() < 1e-9);
    assert_eq!(rows[3].2.num_source_frames, 12); // the PNG directory
    assert_eq!(rows[3].2.frame_times, None);
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    video: video_args::VideoArgs,
}

/// The flags' clips decoded and preprocessed at once: `videos` is `(B, T, 3, S, S)` f32.
fn load(v: &video_args::VideoArgs) -> anyhow::Result<viclip::pipeline::ClipBatch> {
    let sources = v.sources()?;
    let opts = v.options(&tiny(), viclip::limits::MAX_BATCH_SIZE, sources.len())?;
    Ok(viclip::pipeline::run_all(sources, opts)?)
}

#[test]
fn cli_args_turn_into_a_batch_with_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let a = testsrc(tmp.path(), "a.mp4", 128, 72, 30, 3.0, H264);
    let a_s = a.to_str().unwrap();
    let parse =
        |args: &[&str]| Cli::try_parse_from(std::iter::once("viclip").chain(args.iter().copied()));

    let cli = parse(&[
        "--video",
        a_s,
        "--start",
        "0.5",
        "--end",
        "00:01.5",
        "--start",
        "00:00:02",
        "--end",
        "9",
        "--start",
        "1",
        "--end",
        "1.1",
        "--sampling",
        "demo",
        "--resize",
        "cv2-linear",
    ])
    .unwrap();
    let batch = load(&cli.video).unwrap();
    assert_eq!(batch.videos.as_ref().unwrap().dims(), &[2, 8, 3, 112, 112]);
    assert_eq!(batch.clips[0].span, "span [00:00:00.500, 00:00:01.500)");
    assert_eq!(batch.clips[1].num_source_frames, 30); // [2, 9) clipped to the 3 s video
    assert_eq!(batch.failures.len(), 1); // [1, 1.1): 3 frames, demo needs 8
    assert!(batch.failures[0].error.to_string().contains("at least 8"));
    let row = video_args::clip_row(&batch.clips[0]);
    assert_eq!(row["sampling"], "demo");
    assert_eq!(row["resize"], "cv2-linear");
    let f = &batch.failures[0];
    let row = video_args::failure_row(f.clip_index, f.source_index, &f.source, &f.span, &f.error);
    assert_eq!(
        (row["clip_index"].as_u64(), row["span"].as_str()),
        (Some(2), Some(f.span.as_str()))
    );

    // Defaults: middle sampling, bicubic resize, whole file.
    let cli = parse(&["--video", a_s]).unwrap();
    assert_eq!(
        (cli.video.decode.sampling, cli.video.decode.resize),
        (FrameSampling::Middle, ResizeFilter::Bicubic)
    );
    assert_eq!(load(&cli.video).unwrap().clips[0].num_source_frames, 90);

    assert!(parse(&["--video", a_s, "--sampling", "random"]).is_err());
    assert!(parse(&["--video", a_s, "--resize", "lanczos"]).is_err());
    let odd = parse(&["--video", a_s, "--start", "1"]).unwrap();
    assert!(odd.video.sources().is_err());
    let two = parse(&[
        "--video", a_s, "--video", a_s, "--start", "0", "--end", "1", "--start", "1", "--end", "2",
        "--start", "2", "--end", "3",
    ])
    .unwrap();
    assert!(two.video.sources().is_err());
    let uni = parse(&["--video", a_s, "--sampling", "uniform(4)"]).unwrap();
    assert!(load(&uni.video).is_err());
    assert!(parse(&[]).unwrap().video.sources().is_err());
}
