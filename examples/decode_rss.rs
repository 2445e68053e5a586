//! Peak resident memory of decoding clips through the pipeline the `score` job uses:
//! `cargo run --features video --example decode_rss -- VIDEO CLIPS SECONDS [BATCH] [WORKERS] [SIZE]`.
//!
//! Splits the first `SECONDS` of `VIDEO` into `CLIPS` consecutive spans, runs them through
//! `viclip::pipeline` (8 frames a clip, `SIZE` x `SIZE` input, default 224; batch size default 8;
//! workers default one per core) dropping each batch, and prints the clips, the failures and the
//! process's peak resident set (VmHWM, Linux). One measurement per process.

use viclip::pipeline::{ClipSource, Pipeline, PipelineOptions};
use viclip::preprocess::Preprocess;
use viclip::video::ClipSpan;

#[path = "common/rss.rs"]
mod rss;
use rss::peak_rss_mib;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(video), Some(clips), Some(secs)) = (args.get(1), args.get(2), args.get(3)) else {
        anyhow::bail!("usage: decode_rss VIDEO CLIPS SECONDS [BATCH] [WORKERS] [SIZE]");
    };
    let clips: usize = clips.parse()?;
    let secs: f64 = secs.parse()?;
    let arg = |i: usize| args.get(i).map(|s| s.parse::<usize>()).transpose();
    let batch = arg(4)?.unwrap_or(8);
    let workers = arg(5)?;
    let size = arg(6)?.unwrap_or(224);
    let spans = (0..clips)
        .map(|i| {
            let (a, b) = (i as f64, (i + 1) as f64);
            ClipSpan::from_secs(secs * a / clips as f64, secs * b / clips as f64)
        })
        .collect();
    let opts = PipelineOptions::new(Preprocess::new(8, size))
        .with_batch_size(batch)
        .with_workers(workers);
    let src = vec![ClipSource::Video {
        path: video.into(),
        spans,
    }];
    let (mut ok, mut failed) = (0, 0);
    for b in Pipeline::spawn(src, opts)? {
        ok += b.clips.len();
        failed += b.failures.len();
        if let Some(f) = b.failures.first() {
            eprintln!("{}: {}", f.span, f.error);
        }
    }
    let peak = peak_rss_mib().unwrap_or(f64::NAN);
    println!("clips ok {ok}, failed {failed}, peak RSS {peak:.0} MiB");
    Ok(())
}
