//! Video files through the one-call clip embedding and the streaming scorer, on the tiny fixture model
//! and videos generated with the ffmpeg CLI: results equal the pipeline + `embed_videos` by hand, and
//! each bad clip (span past the end, too few frames, missing file) is its own typed error, in place.
#![cfg(feature = "video")]

use crate::common::fixture;
use viclip::pipeline::{run_all, ClipSource, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess};
use viclip::video::ClipSpan;
use viclip::{score_stream, ClipOptions, Error, LoadOptions, StreamOptions, ViClip, ViClipConfig};
use viclip_testkit::video::{testsrc, H264};

fn tiny() -> ViClip {
    let cfg = ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).unwrap();
    ViClip::from_files(
        fixture("tiny_a/model.safetensors"),
        &cfg,
        LoadOptions::default(),
    )
    .unwrap()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn video_clips_equal_the_pipeline_by_hand_and_fail_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), "v.mp4", 160, 120, 10, 4.0, H264);
    let model = tiny();
    let spans = [
        ClipSpan::from_secs(0.0, 1.5),
        ClipSpan::from_secs(7.0, 8.0),  // starts past the end
        ClipSpan::from_secs(3.6, 3.95), // 3 or 4 frames: demo sampling needs 8
        ClipSpan::from_secs(1.0, 3.9),
    ];
    let opts = ClipOptions::new()
        .with_sampling(FrameSampling::Demo)
        .with_batch_size(2);
    let got = model.embed_video_clips(&v, &spans, &opts).unwrap();
    assert_eq!(got.len(), 4);
    assert!(
        matches!(got[1], Err(Error::Span { .. })),
        "{:?}",
        got[1].as_ref().err()
    );
    assert!(
        matches!(got[2], Err(Error::Sampling { .. })),
        "{:?}",
        got[2].as_ref().err()
    );
    assert!(got[1].as_ref().unwrap_err().to_string().contains("v.mp4"));

    let p = Preprocess::for_config(model.config()).with_sampling(FrameSampling::Demo);
    let src = ClipSource::Video {
        path: v.clone(),
        spans: spans.to_vec(),
    };
    let all = run_all(vec![src], PipelineOptions::new(p)).unwrap();
    let want = model
        .embed_videos(all.videos.as_ref().unwrap())
        .unwrap()
        .to_vec2()
        .unwrap();
    for (row, k) in [0usize, 3].into_iter().enumerate() {
        let c = got[k].as_ref().unwrap();
        assert_eq!(c.info, all.clips[row], "clip {k}");
        let d = max_diff(&c.embedding, &want[row]);
        assert!(d <= 1e-6, "clip {k}: {d:.2e}");
    }

    let missing = model
        .embed_video_clips(dir.path().join("missing.mp4"), &[], &opts)
        .unwrap();
    assert_eq!(missing.len(), 1, "no spans: the whole file, one clip");
    assert!(matches!(missing[0], Err(Error::Decode { .. })));
}

#[test]
fn stream_of_video_items_scores_each_against_its_caption() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(dir.path(), "v.mp4", 96, 72, 10, 3.0, H264);
    let model = tiny();
    let one = |spans: Vec<ClipSpan>| ClipSource::Video {
        path: v.clone(),
        spans,
    };
    let a = ClipSpan::from_secs(0.0, 1.2);
    let b = ClipSpan::from_secs(1.0, 2.9);
    let items = vec![
        (one(vec![a]), "a test pattern".to_string()),
        (one(vec![ClipSpan::from_secs(9.0, 10.0)]), "late".into()),
        (one(vec![a, b]), "two spans".into()),
        (
            ClipSource::Video {
                path: dir.path().join("missing.mp4"),
                spans: vec![],
            },
            "missing".into(),
        ),
        (one(vec![b]), "colour bars and a clock".into()),
        (one(vec![]), "the whole video".into()),
    ];
    let opts = StreamOptions::new().with_clips(ClipOptions::new().with_batch_size(2));
    let got: Vec<_> = score_stream(&model, None, items, &opts).unwrap().collect();
    assert_eq!(got.len(), 6);
    assert!(matches!(got[1], Err(Error::Span { .. })));
    assert!(matches!(got[2], Err(Error::InvalidInput(ref m)) if m.contains("2 spans")));
    assert!(matches!(got[3], Err(Error::Decode { .. })));

    let clips = model
        .embed_video_clips(&v, &[a, b, ClipSpan::whole()], &ClipOptions::new())
        .unwrap();
    let texts = model
        .embed_texts(&[
            "a test pattern",
            "colour bars and a clock",
            "the whole video",
        ])
        .unwrap()
        .to_vec2()
        .unwrap();
    for (k, item) in [0usize, 4, 5].into_iter().enumerate() {
        let s = got[item].as_ref().unwrap();
        let c = clips[k].as_ref().unwrap();
        let want = dot(&c.embedding, &texts[k]);
        assert!(
            (s.sim - want).abs() <= 1e-6,
            "item {item}: {} vs {want}",
            s.sim
        );
        assert_eq!(s.info.clip_index, item);
        assert_eq!(s.info.frame_indices, c.info.frame_indices);
        assert!(s.info.color.is_some());
    }
}
