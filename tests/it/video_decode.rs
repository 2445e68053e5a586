//! Decoding clip spans with FFmpeg: frame counts, sampled indices and timestamps, accurate seeking,
//! single-pass multi-span decoding, the skipping of unneeded work, containers and codecs.
#![cfg(feature = "video")]

use std::path::Path;

use viclip::preprocess::FrameSampling;
use viclip::video::{decode_clip, decode_clips, ClipSpan, DecodeOptions, DecodedClip};
use viclip_testkit::video::{cli_frame, testsrc, AV1, H264, VP9};

fn opts() -> DecodeOptions {
    DecodeOptions::default()
}

fn decode(path: &Path, span: ClipSpan, s: FrameSampling) -> DecodedClip {
    decode_clip(path, span, s, 8, &opts()).unwrap_or_else(|e| panic!("{e}"))
}

/// Every frame of a span (uniform sampling with k = n keeps them all, in order).
fn all_frames(path: &Path, span: ClipSpan, o: &DecodeOptions) -> DecodedClip {
    let n = decode_clip(path, span, FrameSampling::Uniform(1), 8, o)
        .unwrap()
        .num_frames;
    let c = decode_clip(path, span, FrameSampling::Uniform(n), 8, o).unwrap();
    assert_eq!(c.indices, (0..n).collect::<Vec<_>>());
    c
}

fn assert_times(c: &DecodedClip, want: &[f64], tol: f64) {
    assert_eq!(c.timestamps.len(), want.len());
    for (g, w) in c.timestamps.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol,
            "timestamps {:?} != {want:?}",
            c.timestamps
        );
    }
}

#[test]
fn mp4_h264_whole_file_and_spans() {
    let tmp = tempfile::tempdir().unwrap();
    // x264 defaults: B-frames (pts != dts) and a single GOP.
    let v = testsrc(tmp.path(), "a.mp4", 160, 120, 30, 3.0, H264);

    let c = decode(&v, ClipSpan::whole(), FrameSampling::Middle);
    assert_eq!(c.num_frames, 90);
    assert_eq!(c.indices, [5, 16, 27, 38, 50, 61, 72, 83]);
    assert_times(
        &c,
        &c.indices
            .iter()
            .map(|&i| i as f64 / 30.0)
            .collect::<Vec<_>>(),
        1e-9,
    );
    assert_eq!((c.frames[0].width(), c.frames[0].height()), (160, 120));

    let d = decode(&v, ClipSpan::whole(), FrameSampling::Demo);
    assert_eq!(d.indices, [0, 11, 22, 33, 44, 55, 66, 77]);

    // [1, 2): frame 30 (t = 1.0 exactly) is in, frame 60 (t = 2.0) is out.
    let s = decode(&v, ClipSpan::from_secs(1.0, 2.0), FrameSampling::Demo);
    assert_eq!(s.num_frames, 30);
    assert_eq!(s.indices, [0, 3, 6, 9, 12, 15, 18, 21]);
    assert_times(
        &s,
        &s.indices
            .iter()
            .map(|&i| 1.0 + i as f64 / 30.0)
            .collect::<Vec<_>>(),
        1e-9,
    );

    let u = decode(
        &v,
        ClipSpan::parse("00:00:00.5", Some("00:01.5")).unwrap(),
        FrameSampling::Uniform(4),
    );
    assert_eq!((u.num_frames, u.indices.clone()), (30, vec![0, 10, 19, 29]));
    assert_times(
        &u,
        &[0.5, 0.5 + 10.0 / 30.0, 0.5 + 19.0 / 30.0, 0.5 + 29.0 / 30.0],
        1e-9,
    );

    // Open end.
    let e = decode(
        &v,
        ClipSpan {
            start_us: 2_500_000,
            end_us: None,
        },
        FrameSampling::Middle,
    );
    assert_eq!(e.num_frames, 15);
}

#[test]
fn frames_are_the_ones_ffmpeg_decodes_at_those_positions() {
    let tmp = tempfile::tempdir().unwrap();
    // Short GOPs (keyframe every 12 frames) so that spans need a real seek.
    let mut codec = H264.to_vec();
    codec.extend_from_slice(&["-g", "12", "-keyint_min", "12"]);
    let v = testsrc(tmp.path(), "g.mp4", 96, 64, 25, 4.0, &codec);
    let c = decode(&v, ClipSpan::from_secs(1.7, 3.3), FrameSampling::Middle);
    // Frames 43..82 (t = 1.72 .. 3.28) are the span's 40 frames.
    assert_eq!(c.num_frames, 40);
    for (k, f) in c.indices.iter().zip(&c.frames) {
        assert_eq!(
            f.data(),
            cli_frame(&v, 43 + k).as_slice(),
            "span frame {k} != file frame {}",
            43 + k
        );
    }
}

#[test]
fn seeking_equals_decoding_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let closed = [H264, &["-g", "10", "-bf", "3"]].concat();
    // Open GOPs: B-frames after a keyframe in decode order may be shown before it and reference the
    // previous GOP.
    let open = [
        H264,
        &[
            "-bf",
            "3",
            "-x264-params",
            "open-gop=1:keyint=10:min-keyint=10:scenecut=0",
        ],
    ]
    .concat();
    for (name, codec) in [
        ("s.mp4", closed),
        ("o.mp4", open),
        ("o.mkv", [VP9, &["-g", "10"]].concat()),
    ] {
        let v = testsrc(tmp.path(), name, 96, 64, 30, 4.0, &codec);
        let full = all_frames(&v, ClipSpan::whole(), &opts());
        assert_eq!(full.num_frames, 120);
        for (a, b) in [
            (0.0, 1.0),
            (1.0, 1.5),
            (1.02, 2.99),
            (0.3, 0.34),
            (2.0, 4.0),
            (3.9, 10.0),
        ] {
            let s = all_frames(&v, ClipSpan::from_secs(a, b), &opts());
            let first = (a * 30.0_f64 - 1e-9).ceil() as usize;
            let last = ((b.min(4.0) * 30.0) - 1e-9).ceil() as usize;
            assert_eq!(s.num_frames, last - first, "{name} [{a}, {b})");
            for (k, f) in s.frames.iter().enumerate() {
                assert!(
                    f == &full.frames[first + k],
                    "{name} [{a}, {b}): frame {k} differs from frame {}",
                    first + k
                );
            }
        }
    }
}

#[test]
fn multi_span_single_pass_equals_span_by_span() {
    let tmp = tempfile::tempdir().unwrap();
    let v = testsrc(tmp.path(), "m.mp4", 128, 72, 30, 6.0, H264);
    let spans = [
        ClipSpan::from_secs(4.0, 5.5),
        ClipSpan::from_secs(0.5, 1.5),
        ClipSpan::from_secs(1.0, 2.2),
        ClipSpan::whole(),
        ClipSpan::from_secs(0.5, 1.5),
        ClipSpan::from_secs(5.9, 6.0),
    ];
    for s in [
        FrameSampling::Middle,
        FrameSampling::Demo,
        FrameSampling::Uniform(3),
    ] {
        let together = decode_clips(&v, &spans, s, 8, &opts());
        for (span, got) in spans.iter().zip(together) {
            let alone = decode_clip(&v, *span, s, 8, &opts());
            match (got, alone) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{span} {s}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("{span} {s}: {a:?} vs {b:?}"),
            }
        }
    }
}

#[test]
fn skipping_unneeded_work_changes_no_pixel() {
    let tmp = tempfile::tempdir().unwrap();
    let mut h264 = H264.to_vec();
    h264.extend_from_slice(&["-g", "15"]);
    let files = [
        testsrc(tmp.path(), "k.mp4", 128, 96, 30, 5.0, &h264),
        testsrc(tmp.path(), "k.webm", 128, 96, 30, 3.0, VP9),
    ];
    let full = opts().with_skip_unneeded(false);
    for v in &files {
        for span in [ClipSpan::whole(), ClipSpan::from_secs(0.7, 2.9)] {
            for s in [
                FrameSampling::Middle,
                FrameSampling::Demo,
                FrameSampling::Uniform(5),
            ] {
                let a = decode_clip(v, span, s, 8, &opts()).unwrap();
                let b = decode_clip(v, span, s, 8, &full).unwrap();
                assert_eq!(a, b, "{} {span} {s}", v.display());
            }
        }
        // Single-threaded decoding gives the same frames as FFmpeg's frame threads.
        let one = opts().with_threads(1);
        assert_eq!(
            decode_clip(v, ClipSpan::whole(), FrameSampling::Middle, 8, &one).unwrap(),
            decode_clip(v, ClipSpan::whole(), FrameSampling::Middle, 8, &opts()).unwrap()
        );
    }
}

#[test]
fn containers_and_codecs() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &[&str])> = vec![
        ("c.mp4", H264),
        ("c.mkv", H264),
        ("c.webm", VP9),
        ("c.mkv", VP9),
        ("a.webm", AV1),
        ("a.mp4", AV1),
    ];
    for (i, (name, codec)) in cases.iter().enumerate() {
        let v = testsrc(tmp.path(), &format!("{i}{name}"), 96, 64, 30, 2.0, codec);
        let c = decode(&v, ClipSpan::whole(), FrameSampling::Middle);
        assert_eq!(c.num_frames, 60, "{name} {codec:?}");
        assert_eq!(c.indices, [3, 10, 18, 25, 33, 40, 48, 55]);
        // WebM/Matroska store milliseconds.
        assert_times(
            &c,
            &c.indices
                .iter()
                .map(|&i| i as f64 / 30.0)
                .collect::<Vec<_>>(),
            1e-3,
        );
        let s = decode(&v, ClipSpan::from_secs(0.5, 1.5), FrameSampling::Demo);
        assert_eq!(s.num_frames, 30, "{name} {codec:?} span");
        // Same pixels as the CLI's decoding of the same frame.
        assert_eq!(
            s.frames[1].data(),
            cli_frame(&v, 15 + s.indices[1]).as_slice(),
            "{name} {codec:?}"
        );
    }
}

/// AVI packets carry no pts and raw H.264 no timestamps at all: frames are then identified by their
/// order out of the decoder, timed by FFmpeg's best-effort timestamps (or the nominal frame rate).
#[test]
fn streams_without_pts() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &[&str])> = vec![
        ("c.avi", H264),
        ("m.avi", &["-c:v", "mpeg4", "-bf", "2"]),
        ("c.h264", H264),
    ];
    for (name, codec) in cases {
        let v = testsrc(tmp.path(), name, 96, 64, 30, 2.0, codec);
        let c = decode(&v, ClipSpan::whole(), FrameSampling::Middle);
        assert_eq!(c.num_frames, 60, "{name}");
        assert_eq!(c.indices, [3, 10, 18, 25, 33, 40, 48, 55]);
        for (k, f) in c.indices.iter().zip(&c.frames) {
            assert_eq!(f.data(), cli_frame(&v, *k).as_slice(), "{name} frame {k}");
        }
        // Evenly spaced at 1/30 s (FFmpeg's best-effort timing may start a few frames late).
        let off = c.timestamps[0] - 3.0 / 30.0;
        assert!((0.0..0.2).contains(&off), "{name}: {:?}", c.timestamps);
        assert_times(
            &c,
            &c.indices
                .iter()
                .map(|&i| off + i as f64 / 30.0)
                .collect::<Vec<_>>(),
            1e-6,
        );
    }
}
