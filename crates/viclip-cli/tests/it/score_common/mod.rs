//! Fixtures of the `viclip score` tests: videos generated with the ffmpeg CLI, an InternVid jsonl, a
//! csv and a webdataset tar holding every kind of bad row, and readers of the outputs.
#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Int32Type};
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub const TINY_WEIGHTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/tiny_a/model.safetensors"
);
pub const TINY_CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/tiny_a/config.json"
);

/// `ffmpeg -v error -y ARGS`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is needed to generate test videos");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A 3 s, 10 fps, 160x120 `testsrc2` H.264 video.
pub fn video(dir: &Path, name: &str, pattern: &str) -> PathBuf {
    let p = dir.join(name);
    let src = format!("{pattern}=size=160x120:rate=10:duration=3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &src,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "10",
        "-pix_fmt",
        "yuv420p",
        p.to_str().expect("utf-8 path"),
    ]);
    p
}

/// The test's videos: `vidA.mp4`, `vidB.mkv` (found through the extension fallback), `corrupt.mp4`
/// (random bytes) and `cut.mp4` (the first third of a video).
pub fn videos(dir: &Path) {
    let a = video(dir, "vidA.mp4", "testsrc2");
    video(dir, "vidB.mkv", "smptebars");
    let mut junk = Vec::new();
    let mut x = 12345u32;
    for _ in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        junk.push((x >> 16) as u8);
    }
    std::fs::write(dir.join("corrupt.mp4"), junk).expect("write");
    let bytes = std::fs::read(a).expect("read");
    std::fs::write(dir.join("cut.mp4"), &bytes[..bytes.len() / 3]).expect("write");
}

/// `(line, expected status)` of the InternVid table; line 3 is not JSON, line 9 holds non-UTF-8 bytes.
pub fn internvid_rows() -> Vec<(Vec<u8>, &'static str)> {
    let row = |id: &str, s: &str, e: &str, cap: &str| {
        format!(r#"{{"YoutubeID": "{id}", "Start_timestamp": "{s}", "End_timestamp": "{e}", "Caption": "{cap}", "UMT_Score": 0.4}}"#)
            .into_bytes()
    };
    let mut non_utf8 = row("vidA", "00:00:00.000", "00:00:01.000", "caf");
    let at = non_utf8.len() - 20;
    non_utf8.splice(at..at, [0xff, 0xfe]);
    vec![
        (
            row(
                "vidA",
                "00:00:00.000",
                "00:00:01.500",
                "a colourful test pattern",
            ),
            "ok",
        ),
        (
            row(
                "vidA",
                "00:00:01.000",
                "00:00:02.900",
                "moving shapes and numbers",
            ),
            "ok",
        ),
        (
            row("vidB", "00:00:00.500", "00:00:02.500", "colour bars"),
            "ok",
        ),
        (
            br#"{"YoutubeID": "vidA", "Start_timestamp": "#.to_vec(),
            "bad_row",
        ),
        (
            row("nope", "00:00:00.000", "00:00:01.000", "a missing video"),
            "missing_video",
        ),
        (
            row("corrupt", "00:00:00.000", "00:00:01.000", "a corrupt file"),
            "decode_error",
        ),
        (
            row("vidA", "00:00:10.000", "00:00:12.000", "after the end"),
            "bad_span",
        ),
        (
            row("vidA", "00:00:02.000", "00:00:01.000", "reversed"),
            "bad_span",
        ),
        (
            row("vidA", "00:00:00.500", "00:00:01.500", ""),
            "bad_caption",
        ),
        (non_utf8, "bad_row"),
        (
            row("vidA", "xx:yy", "00:00:01.000", "bad timestamp"),
            "bad_span",
        ),
        (
            row("cut", "00:00:02.000", "00:00:02.900", "past the truncation"),
            "decode_error",
        ),
        (
            row("vidB", "00:00:01.000", "00:00:03.000", "bars again"),
            "ok",
        ),
    ]
}

pub fn write_internvid(path: &Path) -> Vec<&'static str> {
    let mut f = File::create(path).expect("create");
    let rows = internvid_rows();
    for (line, _) in &rows {
        f.write_all(line).expect("write");
        f.write_all(b"\n").expect("write");
    }
    rows.into_iter().map(|r| r.1).collect()
}

/// The csv variant: `path`, `caption`, `start`, `end` (seconds), relative paths.
pub fn write_csv(path: &Path) -> Vec<&'static str> {
    let text = "path,caption,start,end,extra\n\
        vidA.mp4,a colourful test pattern,0,1.5,x1\n\
        vidB.mkv,colour bars,0.5,2.5,x2\n\
        vidA.mp4,\"a caption, with a comma\",1.0,2.9,x3\n\
        missing.mp4,nothing,0,1,x4\n\
        vidA.mp4,too many fields,0,1,x5,surplus\n\
        vidA.mp4,,0,1,x6\n\
        corrupt.mp4,junk,0,1,x7\n\
        vidA.mp4,reversed,2,1,x8\n";
    std::fs::write(path, text).expect("write");
    vec![
        "ok",
        "ok",
        "ok",
        "missing_video",
        "bad_row",
        "bad_caption",
        "decode_error",
        "bad_span",
    ]
}

/// A video2dataset-style tar: good samples, a non-UTF-8 caption, a json-only caption without video,
/// a corrupt video, and a last member cut short. Returns the expected statuses.
pub fn write_tar(path: &Path, videos: &Path) -> Vec<&'static str> {
    let mp4 = std::fs::read(videos.join("vidA.mp4")).expect("read");
    let mkv = std::fs::read(videos.join("vidB.mkv")).expect("read");
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).expect("tar");
    };
    add("000000000.mp4", &mp4);
    add("000000000.txt", b"a colourful test pattern");
    add(
        "000000000.json",
        br#"{"url": "http://x/a.mp4", "key": "000000000", "caption": "ignored"}"#,
    );
    add("000000001.mkv", &mkv);
    add("000000001.txt", &[0x63, 0xff, 0x61]);
    add(
        "000000002.json",
        br#"{"url": "http://x/c.mp4", "caption": "json caption, no video"}"#,
    );
    add("000000003.mp4", &mp4[..2000]);
    add("000000003.txt", b"a truncated video");
    add("000000004.mkv", &mkv);
    add("000000004.json", br#"{"caption": "bars from json"}"#);
    add("000000005.txt", b"video cut short");
    add("000000005.mp4", &mp4);
    let mut bytes = b.into_inner().expect("tar");
    // Cut inside the last member's data (and drop the end-of-archive blocks).
    let keep = bytes.len() - 1024 - mp4.len() / 2;
    bytes.truncate(keep);
    std::fs::write(path, bytes).expect("write");
    vec![
        "ok",
        "bad_caption",
        "missing_video",
        "decode_error",
        "ok",
        "tar_error",
    ]
}

/// A clap wrapper around the subcommand's flags.
#[derive(clap::Parser)]
pub struct Cli<A: clap::Args> {
    #[command(flatten)]
    pub args: A,
}

/// The rows of every `NNNNN.parquet` in `dir`, in shard order, concatenated. Every stored row
/// error is checked on the way: it speaks the user's words (no Rust path such as `Columns::x`).
pub fn read_shards(dir: &Path) -> Vec<RecordBatch> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("out dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    let batches: Vec<RecordBatch> = files.iter().flat_map(|f| read_parquet(f)).collect();
    if batches.iter().all(|b| b.column_by_name("error").is_some()) {
        for e in strings(&batches, "error").into_iter().flatten() {
            assert_no_rust_path(&e);
        }
    }
    batches
}

/// What the command prints or stores for a user names no Rust item (`Type::field`, `crate::x`):
/// options are named by their flags, everything else in words.
pub fn assert_no_rust_path(text: &str) {
    let rust = text.split_whitespace().any(|w| {
        w.split("::").collect::<Vec<_>>().windows(2).any(|p| {
            p[0].ends_with(|c: char| c.is_alphanumeric())
                && p[1].starts_with(|c: char| c.is_alphabetic())
        })
    });
    assert!(!rust, "a Rust path in what the user sees: {text}");
}

pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = File::open(path).expect("open parquet");
    ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("parquet")
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect()
}

/// A text column of batches (nulls as `None`).
pub fn strings(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap_or_else(|| panic!("no column {col}"));
            let a = a.as_string::<i32>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn floats(batches: &[RecordBatch], col: &str) -> Vec<Option<f32>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name(col)
                .unwrap_or_else(|| panic!("no column {col}"));
            let a = a.as_primitive::<Float32Type>();
            (0..a.len())
                .map(|i| a.is_valid(i).then(|| a.value(i)))
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn frames_used(batches: &[RecordBatch]) -> Vec<Option<Vec<i32>>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b
                .column_by_name("frames_used")
                .expect("frames_used")
                .as_list::<i32>();
            (0..a.len())
                .map(|i| {
                    a.is_valid(i)
                        .then(|| a.value(i).as_primitive::<Int32Type>().values().to_vec())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

pub mod bin;
