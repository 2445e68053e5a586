//! Where the pipeline's batches end depends only on the sequence of clip outcomes: `batch_size` good
//! clips with the failures among them, or at most 64 clips (at batch size 2) when failures pile up.

use viclip::pipeline::{ClipSource, Pipeline, PipelineOptions};
use viclip::preprocess::{Preprocess, RgbFrame};

/// Clip `i` fails (no frames) unless it is in `good`.
fn sources(n: usize, good: &[usize]) -> Vec<ClipSource> {
    (0..n)
        .map(|i| ClipSource::Frames {
            name: format!("clip{i}"),
            frames: if good.contains(&i) {
                vec![RgbFrame::new(8, 6, vec![(i % 200) as u8; 8 * 6 * 3]).unwrap(); 3]
            } else {
                Vec::new()
            },
        })
        .collect()
}

/// Each batch as (its good clips, its failed clips), by clip index.
fn batches(workers: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut opts = PipelineOptions::new(Preprocess::new(2, 4));
    opts.batch_size = 2;
    opts.workers = Some(workers);
    Pipeline::spawn(sources(84, &[70, 71, 72, 83]), opts)
        .unwrap()
        .map(|b| {
            (
                b.clips.iter().map(|c| c.clip_index).collect(),
                b.failures.iter().map(|f| f.clip_index).collect(),
            )
        })
        .collect()
}

#[test]
fn batch_ends_follow_the_outcomes_not_the_timing() {
    let want = vec![
        (vec![], (0..64).collect::<Vec<_>>()),
        (vec![70, 71], (64..70).collect()),
        (vec![72, 83], (73..83).collect()),
    ];
    for workers in [1, 3] {
        assert_eq!(batches(workers), want, "{workers} workers");
    }
}
