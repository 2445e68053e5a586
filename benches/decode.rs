//! Video decode + frame sampling + resize, one core: a 720p H.264 clip of 10 s at 30 fps (x264 defaults:
//! GOP 250, B-frames), generated in the setup with the ffmpeg CLI. Also the split between decoding and
//! resizing, the effect of skipping unneeded work, several spans of a longer file in one pass, and the
//! two-worker pipeline. Numbers and analysis: PERFORMANCE.md, "Video decode and preprocessing".
//!
//! The one-core groups (`cpu1/...`) measure the calling thread's on-CPU time
//! (`/proc/thread-self/schedstat`), not wall-clock time: on a shared machine other processes take the
//! cores away, which inflates wall-clock times but not the CPU time the work itself costs. Their
//! throughput is therefore clips (or frames) per second per core. The pipeline group (`cpu-all/...`)
//! is wall-clock.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;

use std::sync::OnceLock;

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use viclip::pipeline::{run_all, ClipSource, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess, ResizeFilter};
use viclip::video::{decode_clip, decode_clips, ClipSpan, DecodeOptions};

fn make_video(dir: &Path, name: &str, secs: u32, extra: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let src = format!("testsrc2=size=1280x720:rate=30:duration={secs}");
    let mut args = vec![
        "-hide_banner",
        "-nostdin",
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        &src,
    ];
    args.extend_from_slice(&["-c:v", "libx264", "-pix_fmt", "yuv420p"]);
    args.extend_from_slice(extra);
    let p = path.to_str().expect("utf-8 temp path");
    args.push(p);
    let ok = Command::new("ffmpeg")
        .args(&args)
        .status()
        .expect("the ffmpeg CLI is needed to generate the benchmark video");
    assert!(ok.success(), "ffmpeg failed");
    path
}

/// One core: the decoder on the calling thread.
fn single_thread() -> DecodeOptions {
    DecodeOptions::default().with_threads(1)
}

fn clip(path: &Path, span: ClipSpan, p: &Preprocess, o: &DecodeOptions) -> Vec<f32> {
    let c = decode_clip(path, span, p.sampling, p.num_frames, o).expect("decode");
    p.process_sampled(&c.frames).expect("preprocess")
}

/// On-CPU nanoseconds of the calling thread.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Criterion measurement: CPU time of the benchmark thread.
struct ThreadCpu;
struct CpuFormatter;

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_ns().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &CpuFormatter
    }
}

impl ValueFormatter for CpuFormatter {
    fn scale_values(&self, _typical: f64, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1e6);
        "ms-cpu"
    }
    fn scale_throughputs(&self, _typical: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match t {
            Throughput::Elements(n) => *n as f64,
            _ => 1.0,
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "elem/s/core"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// The benchmark videos, generated once per process: (10 s clip, 30 s file with 2 s GOPs).
fn videos() -> &'static (tempfile::TempDir, PathBuf, PathBuf) {
    static V: OnceLock<(tempfile::TempDir, PathBuf, PathBuf)> = OnceLock::new();
    V.get_or_init(|| {
        let tmp = tempfile::tempdir().expect("temp dir");
        let v = make_video(tmp.path(), "720p_10s.mp4", 10, &[]);
        let g60 = ["-preset", "veryfast", "-g", "60"];
        let long = make_video(tmp.path(), "720p_30s_g60.mp4", 30, &g60);
        (tmp, v, long)
    })
}

fn per_core<M: Measurement>(c: &mut Criterion<M>) {
    let (_, v, long) = videos();
    let demo = Preprocess::new(8, 224)
        .with_sampling(FrameSampling::Demo)
        .with_resize(ResizeFilter::Cv2Linear);
    let eval = Preprocess::new(8, 224);
    let whole = ClipSpan::whole();

    let mut g = c.benchmark_group("cpu1/720p-h264-10s");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode+middle+cv2-linear-224", |b| {
        let p = eval.clone().with_resize(ResizeFilter::Cv2Linear);
        b.iter(|| black_box(clip(v, whole, &p, &single_thread())))
    });
    g.bench_function("decode+demo+cv2-linear-224", |b| {
        b.iter(|| black_box(clip(v, whole, &demo, &single_thread())))
    });
    g.bench_function("decode+middle+bicubic-224", |b| {
        b.iter(|| black_box(clip(v, whole, &eval, &single_thread())))
    });
    g.bench_function("decode-only-middle", |b| {
        b.iter(|| {
            black_box(decode_clip(
                v,
                whole,
                FrameSampling::Middle,
                8,
                &single_thread(),
            ))
        })
    });
    g.bench_function("decode-only-middle-no-skipping", |b| {
        let o = single_thread().with_skip_unneeded(false);
        b.iter(|| black_box(decode_clip(v, whole, FrameSampling::Middle, 8, &o)))
    });
    g.finish();

    let frames = decode_clip(v, whole, FrameSampling::Middle, 8, &single_thread())
        .expect("decode")
        .frames;
    let mut g = c.benchmark_group("cpu1/resize-8-frames-720p-to-224");
    g.throughput(Throughput::Elements(8));
    for filter in [ResizeFilter::Cv2Linear, ResizeFilter::Bicubic] {
        g.bench_function(filter.to_string(), |b| {
            b.iter(|| {
                for f in &frames {
                    black_box(filter.resize(f, 224).expect("resize"));
                }
            })
        });
    }
    g.bench_function("cv2-linear+normalise", |b| {
        b.iter(|| black_box(demo.process_sampled(&frames).expect("preprocess")))
    });
    g.finish();

    // A longer source with YouTube-like 2 s GOPs and 8 clips of 3 s: one pass vs one decode per clip.
    let spans: Vec<ClipSpan> = (0..8)
        .map(|i| ClipSpan::from_secs(1.0 + 3.5 * i as f64, 4.0 + 3.5 * i as f64))
        .collect();
    let mut g = c.benchmark_group("cpu1/720p-h264-30s-g60-8-spans-of-3s");
    g.sample_size(10);
    g.throughput(Throughput::Elements(8));
    g.bench_function("one-pass", |b| {
        b.iter(|| {
            black_box(decode_clips(
                long,
                &spans,
                FrameSampling::Middle,
                8,
                &single_thread(),
            ))
        })
    });
    g.bench_function("clip-by-clip", |b| {
        b.iter(|| {
            for s in &spans {
                black_box(
                    decode_clip(long, *s, FrameSampling::Middle, 8, &single_thread())
                        .expect("decode"),
                );
            }
        })
    });
    g.finish();
}

/// The pipeline on every core (2 here), wall-clock: 4 files, decode + middle + cv2 resize + normalise.
fn pipeline(c: &mut Criterion) {
    let (_, v, _) = videos();
    let p = Preprocess::new(8, 224).with_resize(ResizeFilter::Cv2Linear);
    let mut g = c.benchmark_group("cpu-all/pipeline-720p-h264-10s");
    g.sample_size(10);
    g.throughput(Throughput::Elements(4));
    g.bench_function("4-clips", |b| {
        b.iter(|| {
            let sources = (0..4)
                .map(|_| ClipSource::Video {
                    path: v.clone(),
                    spans: vec![],
                })
                .collect();
            let out = run_all(sources, PipelineOptions::new(p.clone())).expect("pipeline");
            assert_eq!(out.clips.len(), 4);
            black_box(out)
        })
    });
    g.finish();
}

criterion_group! {
    name = per_core_cpu_time;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = per_core
}
criterion_group!(all_cores, pipeline);
criterion_main!(per_core_cpu_time, all_cores);
