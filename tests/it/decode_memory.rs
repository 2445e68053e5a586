//! Decode memory is bounded by the batch and the model input, not by the video: frames reach the
//! pipeline already at the model's size, an 8K file decodes as several spans well under 1 GB, and
//! the pixel and packet bounds (docs/limits.md, "Video decoding") are typed errors of the clips
//! concerned, never an abort.
#![cfg(feature = "video")]

use std::path::{Path, PathBuf};

use viclip::aesthetic::preprocess::clip_resize_crop;
use viclip::limits::MAX_FRAME_PIXELS;
use viclip::pipeline::{run_all, ClipSource, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess, ResizeFilter, RgbConversion};
use viclip::video::{
    decode_clips, decode_clips_with, ClipSpan, DecodeOptions, FrameRequest, FrameShape,
};
use viclip::Error;
use viclip_testkit::video::{ffmpeg, testsrc, H264};

/// `n` black frames of `w x h` at 25 fps, H.264 (an 8K one is about 0.6 MB).
fn black(dir: &Path, name: &str, w: u32, h: u32, n: u32, codec: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let src = format!("color=black:size={w}x{h}:rate=25");
    let frames = n.to_string();
    let mut args = vec!["-f", "lavfi", "-i", &src, "-frames:v", &frames];
    args.extend_from_slice(codec);
    args.extend_from_slice(&["-pix_fmt", "yuv420p", path.to_str().expect("utf-8 path")]);
    ffmpeg(&args);
    path
}

/// Two overlapping spans of a 3-frame (0.12 s) video.
fn two_spans() -> Vec<ClipSpan> {
    vec![
        ClipSpan::from_secs(0.0, 0.08),
        ClipSpan::from_secs(0.04, 0.12),
    ]
}

fn request(shape: FrameShape, extra: usize, extra_shape: FrameShape) -> FrameRequest {
    FrameRequest {
        sampling: FrameSampling::Middle,
        num_frames: 8,
        extra_uniform: extra,
        shape,
        extra_shape,
    }
}

#[test]
fn eight_k_spans_come_out_at_the_model_size() {
    let dir = tempfile::tempdir().unwrap();
    let v = black(dir.path(), "8k.mp4", 8192, 8192, 3, H264);
    let shape = FrameShape::Square {
        filter: ResizeFilter::Bicubic,
        size: 32,
    };
    let got = decode_clips_with(
        &v,
        &two_spans(),
        &request(shape, 2, FrameShape::ClipCrop(24)),
        &DecodeOptions::default(),
    );
    for r in got {
        let c = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.frames.len(), 8);
        for f in &c.frames {
            assert_eq!((f.width(), f.height()), (32, 32), "held at the model size");
        }
        assert_eq!(c.extra_frames.len(), 2);
        for f in &c.extra_frames {
            assert_eq!((f.width(), f.height()), (24, 24), "held at the CLIP size");
        }
    }
    let mut opts = PipelineOptions::new(Preprocess::new(8, 32));
    opts.extra_frames = 2;
    opts.extra_frame_size = Some(24);
    let src = vec![ClipSource::Video {
        path: v,
        spans: two_spans(),
    }];
    let b = run_all(src, opts).unwrap();
    assert!(b.failures.is_empty(), "{:?}", b.failures);
    assert_eq!(b.videos.unwrap().dims(), &[2, 8, 3, 32, 32]);
    assert!(b.extra_frames.iter().flatten().all(|f| f.width() == 24));
}

/// Peak resident memory of this process in KiB (Linux's VmHWM, what getrusage's maxrss reports).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Run by `eight_k_decode_peak_rss_stays_under_1_gb` in a process of its own (its peak is the
/// decode's alone): scores two spans of the 8K file named by `VICLIP_MEM_CHILD` through the pipeline
/// at default settings and prints the peak resident memory.
#[test]
#[ignore = "the child of eight_k_decode_peak_rss_stays_under_1_gb"]
fn decode_memory_child() {
    let Some(v) = std::env::var_os("VICLIP_MEM_CHILD") else {
        return;
    };
    let src = vec![ClipSource::Video {
        path: v.into(),
        spans: two_spans(),
    }];
    let b = run_all(src, PipelineOptions::new(Preprocess::new(8, 224))).unwrap();
    assert!(b.failures.is_empty(), "{:?}", b.failures);
    println!("PEAK_RSS_KIB={}", peak_rss_kib());
}

#[test]
#[cfg(target_os = "linux")]
fn eight_k_decode_peak_rss_stays_under_1_gb() {
    let dir = tempfile::tempdir().unwrap();
    let v = black(dir.path(), "8k.mp4", 8192, 8192, 3, H264);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "decode_memory::decode_memory_child",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env("VICLIP_MEM_CHILD", &v)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {text}");
    let kib: u64 = text
        .lines()
        .find_map(|l| Some(l.split("PEAK_RSS_KIB=").nth(1)?.trim()))
        .unwrap_or_else(|| panic!("no peak in {text}"))
        .parse()
        .unwrap();
    // Before the frames were reduced at decode, two spans of this file took 3.9 GB.
    assert!(kib < 1 << 20, "peak RSS {} MiB", kib >> 10);
}

#[test]
fn reduced_frames_equal_the_native_frames_resized() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), "v.mp4", 176, 100, 25, 2.0, H264);
    let spans = [ClipSpan::from_secs(0.0, 1.2), ClipSpan::from_secs(0.5, 2.0)];
    let o = DecodeOptions::default().with_conversion(RgbConversion::Decord);
    let native = decode_clips_with(
        &v,
        &spans,
        &request(FrameShape::Native, 3, FrameShape::Native),
        &o,
    );
    for filter in [ResizeFilter::Bicubic, ResizeFilter::Cv2Linear] {
        let shape = FrameShape::Square { filter, size: 40 };
        let req = request(shape, 3, FrameShape::ClipCrop(30));
        let small = decode_clips_with(&v, &spans, &req, &o);
        for (n, s) in native.iter().zip(&small) {
            let (n, s) = (n.as_ref().unwrap(), s.as_ref().unwrap());
            for (a, b) in n.frames.iter().zip(&s.frames) {
                assert_eq!(&filter.resize(a, 40).unwrap(), b);
            }
            for (a, b) in n.extra_frames.iter().zip(&s.extra_frames) {
                let crop = clip_resize_crop(a, 30).unwrap();
                assert_eq!(&crop, b);
                // The aesthetic scorer's own preprocessing leaves a cropped frame as it is.
                assert_eq!(clip_resize_crop(b, 30).unwrap(), crop);
            }
            assert_eq!(
                (n.indices.clone(), n.timestamps.clone()),
                (s.indices.clone(), s.timestamps.clone())
            );
        }
    }
}

#[test]
fn pipeline_pixels_equal_preprocessing_of_native_frames() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), "v.mp4", 176, 100, 25, 2.0, H264);
    let spans = vec![ClipSpan::from_secs(0.0, 1.2), ClipSpan::from_secs(0.5, 2.0)];
    for (filter, conv) in [
        (ResizeFilter::Bicubic, RgbConversion::Decord),
        (ResizeFilter::Cv2Linear, RgbConversion::OpenCv),
    ] {
        let p = Preprocess::new(8, 48).with_resize(filter);
        let src = vec![ClipSource::Video {
            path: v.clone(),
            spans: spans.clone(),
        }];
        let b = run_all(src, PipelineOptions::new(p.clone())).unwrap();
        let got: Vec<f32> = b.videos.unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let o = DecodeOptions::default().with_conversion(conv);
        let mut want = Vec::new();
        for r in decode_clips(&v, &spans, p.sampling, 8, &o) {
            want.extend(p.process_sampled(&r.unwrap().frames).unwrap());
        }
        assert!(
            got == want,
            "{filter}: pixels differ from resizing the native frames"
        );
    }
}

#[test]
fn a_frame_over_the_pixel_limit_is_the_clips_decode_error() {
    let dir = tempfile::tempdir().unwrap();
    // 8200 x 8200 = 67.24 M pixels, just over MAX_FRAME_PIXELS (8192 x 8192).
    let big = black(dir.path(), "big.mp4", 8200, 8200, 2, &["-c:v", "mjpeg"]);
    const { assert!(8200 * 8200 > MAX_FRAME_PIXELS) };
    let small = testsrc(dir.path(), "small.mp4", 64, 48, 25, 1.0, H264);
    let r = decode_clips(
        &big,
        &two_spans(),
        FrameSampling::Middle,
        8,
        &DecodeOptions::default(),
    );
    for (r, span) in r.iter().zip(two_spans()) {
        match r {
            Err(Error::Decode { path, span: s, msg }) => {
                assert_eq!(path, &big);
                assert_eq!(s, &span.to_string());
                assert!(
                    msg.contains("MAX_FRAME_PIXELS") && msg.contains("8200x8200"),
                    "{msg}"
                );
            }
            other => panic!("expected a pixel-limit error, got {other:?}"),
        }
    }
    // Through the pipeline: that file's clips fail, the other file's clip goes on.
    let src = vec![
        ClipSource::Video {
            path: big.clone(),
            spans: vec![ClipSpan::whole()],
        },
        ClipSource::Video {
            path: small.clone(),
            spans: vec![ClipSpan::whole()],
        },
    ];
    let b = run_all(src, PipelineOptions::new(Preprocess::new(8, 32))).unwrap();
    assert_eq!(b.clips.len(), 1);
    assert_eq!(b.failures.len(), 1);
    assert!(b.failures[0].error.to_string().contains("MAX_FRAME_PIXELS"));
    // A lowered bound applies the same way to an ordinary file.
    let low = DecodeOptions::default().with_limits(64 * 47, usize::MAX);
    let r = decode_clips(&small, &[ClipSpan::whole()], FrameSampling::Middle, 8, &low);
    assert!(
        matches!(&r[0], Err(Error::Decode { msg, .. }) if msg.contains("64x48")),
        "{r:?}"
    );
}

#[test]
fn a_span_over_the_packet_limit_is_its_span_error() {
    let dir = tempfile::tempdir().unwrap();
    // 50 frames, one keyframe every 10.
    let v = testsrc(
        dir.path(),
        "v.mp4",
        64,
        48,
        25,
        2.0,
        &["-c:v", "libx264", "-g", "10"],
    );
    let opts = DecodeOptions::default().with_limits(usize::MAX, 20);
    let short = ClipSpan::from_secs(0.0, 0.4);
    let long = ClipSpan::from_secs(0.2, 2.0);
    // Read together they exceed the bound: split, the short one still decodes.
    let r = decode_clips(&v, &[short, long], FrameSampling::Middle, 8, &opts);
    assert_eq!(r[0].as_ref().unwrap().num_frames, 10);
    match &r[1] {
        Err(Error::Span { path, span, msg }) => {
            assert_eq!(path, &v);
            assert_eq!(span, &long.to_string());
            assert!(
                msg.contains("MAX_GROUP_PACKETS") && msg.contains("20"),
                "{msg}"
            );
        }
        other => panic!("expected a packet-limit error, got {other:?}"),
    }
    // At the default bound both decode, and the short span's frames are the same.
    let r2 = decode_clips(
        &v,
        &[short, long],
        FrameSampling::Middle,
        8,
        &DecodeOptions::default(),
    );
    assert_eq!(r2[0].as_ref().unwrap(), r[0].as_ref().unwrap());
    assert_eq!(r2[1].as_ref().unwrap().num_frames, 45);
}

#[test]
fn many_spans_of_one_file_equal_each_decoded_alone() {
    // More spans than one read holds (MAX_GROUP_SPANS): the reads are split, the frames unchanged.
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), "v.mp4", 64, 48, 25, 4.0, H264);
    let spans: Vec<ClipSpan> = (0..40)
        .map(|i| ClipSpan::from_secs(i as f64 * 0.1, i as f64 * 0.1 + 0.3))
        .collect();
    let o = DecodeOptions::default();
    let together = decode_clips(&v, &spans, FrameSampling::Middle, 4, &o);
    for (span, t) in spans.iter().zip(together) {
        let alone = decode_clips(&v, &[*span], FrameSampling::Middle, 4, &o).remove(0);
        assert_eq!(t.unwrap(), alone.unwrap(), "{span}");
    }
}

/// Run by `memory_does_not_grow_with_the_number_of_reads` in a process of its own: decodes the file
/// named by `VICLIP_READS_CHILD` as `VICLIP_READS_CLIPS` consecutive clips of its first 10 s, one span
/// a read on one worker, and prints the peak resident memory.
#[test]
#[ignore = "the child of memory_does_not_grow_with_the_number_of_reads"]
fn reads_memory_child() {
    let (Some(v), Some(n)) = (
        std::env::var_os("VICLIP_READS_CHILD"),
        std::env::var("VICLIP_READS_CLIPS").ok(),
    ) else {
        return;
    };
    let n: usize = n.parse().unwrap();
    let spans = (0..n)
        .map(|i| ClipSpan::from_secs(10.0 * i as f64 / n as f64, 10.0 * (i + 1) as f64 / n as f64))
        .collect();
    let src = vec![ClipSource::Video {
        path: v.into(),
        spans,
    }];
    let opts = PipelineOptions::new(Preprocess::new(8, 112))
        .with_batch_size(1)
        .with_workers(Some(1));
    // Each clip's input dropped as it comes (run_all would gather every clip's pixels).
    let opts = viclip::engine::EngineOptions::new(opts);
    for r in viclip::engine::ClipEngine::without_model(src, opts).unwrap() {
        let r = r.unwrap();
        assert!(r.outcome.is_ok(), "{}: {:?}", r.span, r.outcome.err());
    }
    println!("PEAK_RSS_KIB={}", peak_rss_kib());
}

/// Peak RSS (KiB) of `reads_memory_child` over `clips` clips of `video`.
fn reads_peak_kib(video: &Path, clips: usize) -> u64 {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "decode_memory::reads_memory_child",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env("VICLIP_READS_CHILD", video)
        .env("VICLIP_READS_CLIPS", clips.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {text}");
    text.lines()
        .find_map(|l| Some(l.split("PEAK_RSS_KIB=").nth(1)?.trim()))
        .unwrap_or_else(|| panic!("no peak in {text}"))
        .parse()
        .unwrap()
}

/// Every read of a file (one per group of spans) reads its packets from the keyframe on; none of
/// them may stay behind. A 10 s file with one keyframe read as 20 clips read its packets 20 times:
/// when each read kept them (a reused packet that `av_read_frame` filled without releasing what it
/// held) the peak grew by about 45 MiB over 2 clips; now it stays within a few MiB.
#[test]
#[cfg(target_os = "linux")]
fn memory_does_not_grow_with_the_number_of_reads() {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("gop250.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=10",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "8",
        "-g",
        "250",
        "-pix_fmt",
        "yuv420p",
        v.to_str().unwrap(),
    ]);
    let (few, many) = (reads_peak_kib(&v, 2), reads_peak_kib(&v, 20));
    assert!(
        many < few + (20 << 10),
        "peak RSS {} MiB for 20 reads, {} MiB for 2",
        many >> 10,
        few >> 10
    );
}
