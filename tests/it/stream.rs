//! The streaming scorer on the tiny fixture model: each item's CLIP-SIM equals the dot product of
//! `embed_videos` and `embed_texts` computed by hand, the aesthetic score equals the scorer's on the
//! same frames, a failing item yields its error in place, order is kept, and the input is pulled
//! lazily (never collected) even when it is longer than every internal buffer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::fixture;
use candle_core::{Device, Tensor};
use viclip::aesthetic::Reduce;
use viclip::pipeline::ClipSource;
use viclip::preprocess::{Preprocess, RgbFrame};
use viclip::{score_stream, ClipOptions, Error, LoadOptions, StreamOptions, ViClip, ViClipConfig};

fn tiny() -> ViClip {
    let cfg = ViClipConfig::from_json_file(&fixture("tiny_a/config.json")).unwrap();
    ViClip::from_files(
        fixture("tiny_a/model.safetensors"),
        &cfg,
        LoadOptions::default(),
    )
    .unwrap()
}

/// `n` frames of 40x30 with a pattern that depends on the item, the frame and the pixel.
fn frames(item: usize, n: usize) -> Vec<RgbFrame> {
    (0..n)
        .map(|f| {
            let data = (0..30 * 40 * 3)
                .map(|p| ((p * (item + 3) + f * 17 + item * 29) % 251) as u8)
                .collect();
            RgbFrame::new(40, 30, data).unwrap()
        })
        .collect()
}

/// Batches of 2 clips, 2 decode threads, 1 queued batch: small buffers, so laziness shows.
fn small_batches() -> ClipOptions {
    ClipOptions::new()
        .with_batch_size(2)
        .with_workers(2)
        .with_queue_batches(1)
}

/// Items that fail: no frames at all (the sampling has nothing to pick).
const BAD: [usize; 2] = [7, 23];

fn item(i: usize) -> (ClipSource, String) {
    let n = if BAD.contains(&i) { 0 } else { 3 + i % 11 };
    let clip = ClipSource::Frames {
        name: format!("clip{i}"),
        frames: frames(i, n),
    };
    (clip, format!("caption number {i}: a {} dog", i % 5))
}

/// The CLIP-SIM of item `i` the long way: preprocess, `embed_videos`, `embed_texts`, dot product.
fn by_hand(model: &ViClip, i: usize) -> f32 {
    let (ClipSource::Frames { frames, .. }, caption) = item(i) else {
        unreachable!()
    };
    let p = Preprocess::for_config(model.config());
    let clip = p.process_all(&frames, "clip", "all frames").unwrap();
    let s = p.size;
    let v = Tensor::from_vec(clip.pixels, (1, 8, 3, s, s), &Device::Cpu).unwrap();
    let v = model.embed_videos(&v).unwrap().to_vec2().unwrap();
    let t = model.embed_texts(&[caption]).unwrap().to_vec2().unwrap();
    v[0].iter().zip(&t[0]).map(|(a, b)| a * b).sum()
}

#[test]
fn fifty_items_in_batches_of_two_equal_embedding_by_hand() {
    let model = tiny();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let items = (0..50).map(move |i| {
        counter.fetch_add(1, Ordering::SeqCst);
        item(i)
    });
    let opts = StreamOptions::new()
        .with_clips(small_batches())
        .with_text_batch_size(3);
    let mut stream = score_stream(&model, None, items, &opts).unwrap();
    let first = stream.next().expect("a first result").unwrap();
    // The consumer holds at most 2 x 3 + 2 items, the channel one batch, the producer one batch and
    // one pending clip, the pool 4 jobs: the input is read as needed, not collected.
    let at_first = pulled.load(Ordering::SeqCst);
    assert!(
        at_first < 50,
        "{at_first} of 50 items pulled for the first result"
    );

    let results: Vec<_> = std::iter::once(Ok(first)).chain(stream).collect();
    assert_eq!(results.len(), 50);
    for (i, r) in results.iter().enumerate() {
        if BAD.contains(&i) {
            let e = r.as_ref().unwrap_err();
            assert!(matches!(e, Error::Sampling { .. }), "item {i}: {e:?}");
            assert!(e.to_string().contains(&format!("clip{i}")), "{e}");
            continue;
        }
        let s = r.as_ref().unwrap_or_else(|e| panic!("item {i}: {e}"));
        assert_eq!(s.info.clip_index, i, "order");
        assert_eq!(s.info.num_source_frames, 3 + i % 11);
        assert!(s.aesthetic.is_none());
        let want = by_hand(&model, i);
        let d = (s.sim - want).abs();
        assert!(
            d <= 1e-6,
            "item {i}: sim {} vs {want} by hand ({d:.2e})",
            s.sim
        );
    }
    // The sims differ from item to item: the comparison above is not of constants.
    assert!((results[0].as_ref().unwrap().sim - results[1].as_ref().unwrap().sim).abs() > 1e-6);
}

#[test]
fn aesthetic_scores_come_from_the_same_frames() {
    let model = tiny();
    let scorer = crate::aesthetic_common::scorer("aes_v1.pth");
    // Items 1..7 have 4 to 9 frames (item 0, with 3, is below).
    let items: Vec<_> = (1..7).map(item).collect();
    let opts = StreamOptions::new().with_clips(ClipOptions::new().with_batch_size(4));
    let got: Vec<_> = score_stream(&model, Some(&scorer), items, &opts)
        .unwrap()
        .collect();
    assert_eq!(got.len(), 6);
    // By hand, the same clips in the same groups as the pipeline's batches of 4 (the CLIP tower's
    // batch composition moves the last bit of a score).
    let clips: Vec<Vec<RgbFrame>> = (1..7)
        .map(|i| match item(i).0 {
            ClipSource::Frames { frames, .. } => frames,
            _ => unreachable!(),
        })
        .collect();
    let mut want = Vec::new();
    for group in clips.chunks(4) {
        let named: Vec<(&str, &[RgbFrame])> =
            group.iter().map(|f| ("clip", f.as_slice())).collect();
        want.extend(scorer.score_clips(&named, 4, Reduce::Max));
    }
    for (k, r) in got.iter().enumerate() {
        let i = k + 1;
        let s = r.as_ref().unwrap();
        let want = want[k].as_ref().unwrap();
        match s.aesthetic.as_ref().expect("an aesthetic result") {
            Ok(a) => assert!(
                (a - want.score).abs() <= 1e-6,
                "item {i}: {a} vs {}",
                want.score
            ),
            Err(e) => panic!("item {i}: {e}"),
        }
        assert!((s.sim - by_hand(&model, i)).abs() <= 1e-6, "item {i}");
    }
    // Item 0 has 3 frames: its CLIP-SIM stands, its aesthetic score is an error of its own.
    let short: Vec<_> = score_stream(
        &model,
        Some(&scorer),
        vec![(
            ClipSource::Frames {
                name: "short".into(),
                frames: frames(0, 3),
            },
            "a caption".to_string(),
        )],
        &StreamOptions::new(),
    )
    .unwrap()
    .collect();
    let s = short[0].as_ref().unwrap();
    assert!(matches!(
        s.aesthetic,
        Some(Err(Error::TooFewFrames {
            needed: 4,
            got: 3,
            ..
        }))
    ));
}

#[test]
fn zero_sized_options_are_refused() {
    let model = tiny();
    let none = std::iter::empty::<(ClipSource, String)>();
    let bad = StreamOptions::new().with_clips(ClipOptions::new().with_batch_size(0));
    assert!(matches!(
        score_stream(&model, None, none, &bad),
        Err(Error::Setting {
            setting: viclip::Setting::VideoBatchSize,
            ..
        })
    ));
    let none = std::iter::empty::<(ClipSource, String)>();
    let bad = StreamOptions::new().with_text_batch_size(0);
    assert!(matches!(
        score_stream(&model, None, none, &bad),
        Err(Error::Setting {
            setting: viclip::Setting::TextBatchSize,
            ..
        })
    ));
    let none = std::iter::empty::<(ClipSource, String)>();
    let empty = score_stream(&model, None, none, &StreamOptions::new()).unwrap();
    assert_eq!(empty.count(), 0);
}

#[test]
fn a_long_run_of_failures_is_reported_without_reading_the_whole_input() {
    let model = tiny();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    // 400 clips without frames, then one good one.
    let items = (0..401).map(move |i| {
        counter.fetch_add(1, Ordering::SeqCst);
        let n = if i == 400 { 5 } else { 0 };
        let clip = ClipSource::Frames {
            name: format!("clip{i}"),
            frames: frames(i, n),
        };
        (clip, "a caption".to_string())
    });
    let opts = StreamOptions::new().with_clips(small_batches());
    let mut stream = score_stream(&model, None, items, &opts).unwrap();
    assert!(stream.next().unwrap().is_err());
    // Failures leave in batches of at most 64: the consumer's, one queued, one being sent, fewer
    // than 64 pending and 4 jobs bound what was read to 260, far from waiting for a good clip.
    let at_first = pulled.load(Ordering::SeqCst);
    assert!(
        at_first <= 260,
        "{at_first} items read for the first result"
    );
    let rest: Vec<_> = stream.collect();
    assert_eq!(rest.len(), 400);
    assert!(rest[..399].iter().all(|r| r.is_err()));
    assert!(rest[399].is_ok());
}

#[test]
fn a_cancel_flag_ends_the_stream_with_interrupted_between_batches() {
    let model = tiny();
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    // An endless input: only the flag can end this stream.
    let items = (0..).map(move |i| {
        counter.fetch_add(1, Ordering::SeqCst);
        item(i % 50)
    });
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = StreamOptions::new()
        .with_clips(small_batches())
        .with_text_batch_size(3)
        .with_cancel(cancel.clone());
    let mut stream = score_stream(&model, None, items, &opts).unwrap();
    let first = stream.next().expect("a first result");
    assert!(first.is_ok(), "{first:?}");
    cancel.store(true, Ordering::SeqCst);
    let rest: Vec<_> = stream.by_ref().collect();
    // What was already scored may still come out, then one Interrupted, then nothing.
    let last = rest.last().expect("the Interrupted error");
    assert!(
        matches!(last, Err(Error::Interrupted)),
        "{:?}",
        last.as_ref().err()
    );
    assert!(rest[..rest.len() - 1].iter().all(|r| r.is_ok()));
    assert!(stream.next().is_none());
    // Stopped within a few batches of buffering, not after reading far into the input.
    let read = pulled.load(Ordering::SeqCst);
    assert!(read < 64, "{read} items read before the stream stopped");
}
