//! The pipeline hands over each clip's uniformly sampled native frames (the aesthetic scorer's) from the
//! same decode as the model input: they equal a separate `uniform(k)` decode of the clip.
#![cfg(feature = "video")]

use viclip::pipeline::{run_all, ClipSource, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess, RgbConversion};
use viclip::video::{decode_clip, ClipSpan, DecodeOptions};
use viclip_testkit::video::{testsrc, H264};

#[test]
fn extra_frames_equal_a_separate_uniform_decode() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), "v.mp4", 160, 120, 10, 4.0, H264);
    let spans = vec![
        ClipSpan::from_secs(0.0, 1.5),
        ClipSpan::from_secs(1.0, 3.9),
        // 3 frames: fewer than the 4 extra frames asked for (and than 8 for the model).
        ClipSpan::from_secs(3.6, 3.9),
    ];
    let mut opts = PipelineOptions::new(Preprocess::new(8, 32));
    opts.extra_frames = 4;
    let b = run_all(
        vec![ClipSource::Video {
            path: v.clone(),
            spans: spans.clone(),
        }],
        opts,
    )
    .unwrap();
    assert_eq!(
        b.clips.len(),
        3,
        "middle sampling repeats frames of short clips"
    );
    assert_eq!(b.extra_frames.len(), 3);
    // The default resize (bicubic) converts as decord does; the separate decode must too.
    let dec = DecodeOptions::default().with_conversion(RgbConversion::Decord);
    for (k, span) in spans.iter().take(2).enumerate() {
        let want = decode_clip(&v, *span, FrameSampling::Uniform(4), 4, &dec).unwrap();
        assert_eq!(b.extra_frames[k], want.frames, "clip {k}");
        assert!(b.clips[k].color.is_some());
    }
    assert!(
        b.extra_frames[2].is_empty(),
        "a clip with fewer frames than asked hands over none"
    );
}

#[test]
fn no_extra_frames_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), "v.mp4", 64, 48, 10, 1.0, H264);
    let b = run_all(
        vec![ClipSource::Video {
            path: v,
            spans: vec![],
        }],
        PipelineOptions::new(Preprocess::new(8, 32)),
    )
    .unwrap();
    assert_eq!(b.clips.len(), 1);
    assert!(b.extra_frames.is_empty());
}

/// Seeking into an open-GOP stream decodes leading pictures whose references precede the keyframe:
/// that is not damage, and must not be reported as lost frames.
#[test]
fn clean_open_gop_spans_report_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(
        dir.path(),
        "open.mp4",
        160,
        120,
        25,
        6.0,
        &[
            "-c:v",
            "libx264",
            "-threads",
            "1",
            "-x264-params",
            "open-gop=1:keyint=25:bframes=3",
        ],
    );
    let spans: Vec<ClipSpan> = (0..5)
        .map(|k| ClipSpan::from_secs(0.9 + k as f64, 1.9 + k as f64))
        .collect();
    for sampling in [FrameSampling::Middle, FrameSampling::Uniform(4)] {
        for span in &spans {
            let c = decode_clip(&v, *span, sampling, 8, &DecodeOptions::default()).unwrap();
            assert_eq!(c.frames_lost, 0.0, "{span}: {sampling:?}");
        }
    }
}
