//! Real-looking test videos and what the two original readers made of them
//! (`tests/fixtures/real_video`, written by `tools/gen_real_video_golden.py`).
//!
//! The videos are not stored: each is made again here with the ffmpeg CLI from the argument lists in
//! the manifest (single-threaded, bitexact encoders), and its SHA-256 is checked first, so a different
//! encoder build is reported as such rather than as a decoding difference.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::{Device, Tensor};
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub fn fixture_dir() -> PathBuf {
    viclip_testkit::fixtures::fixture("real_video")
}

/// What one reader returned for a video (or why it could not read it).
#[derive(Debug, Clone, Deserialize)]
pub struct Reader {
    pub frames: Option<usize>,
    pub indices: Option<Vec<usize>>,
    /// `[height, width]` of the sampled native frames.
    pub size: Option<[usize; 2]>,
    /// SHA-256 of each sampled native RGB frame (row-major HxWx3 bytes).
    pub sha256: Option<Vec<String>>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Video {
    pub ext: String,
    pub commands: Vec<Vec<String>>,
    pub patch: Option<String>,
    pub sha256: String,
    pub demo: Reader,
    pub eval: Reader,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    #[serde(rename = "T")]
    pub t: usize,
    #[serde(rename = "S")]
    pub s: usize,
    pub opencv: String,
    pub decord: String,
    pub videos: std::collections::BTreeMap<String, Video>,
}

pub fn manifest() -> Manifest {
    let p = fixture_dir().join("manifest.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The resized reference frames `{name}.demo` / `{name}.eval`, `(T, S, S, 3)` u8.
pub fn reference_frames() -> HashMap<String, Tensor> {
    let p = fixture_dir().join("frames.safetensors.gz");
    let mut gz = flate2::read::GzDecoder::new(
        std::fs::File::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    );
    let mut buf = Vec::new();
    gz.read_to_end(&mut buf)
        .expect("gunzip the reference frames");
    candle_core::safetensors::load_buffer(&buf, &Device::Cpu).expect("reference safetensors")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Display matrices written into the first `tkhd` box, as the generator does.
fn matrix(name: &str) -> [i32; 9] {
    let (one, w) = (0x10000, 0x4000_0000);
    match name {
        "rot90" => [0, one, 0, -one, 0, 0, 0, 0, w],
        "rot180" => [-one, 0, 0, 0, -one, 0, 0, 0, w],
        "rot270" => [0, -one, 0, one, 0, 0, 0, 0, w],
        "hflip" => [-one, 0, 0, 0, one, 0, 0, 0, w],
        other => panic!("unknown matrix patch {other}"),
    }
}

/// Writes the display matrix into a version-0 `tkhd` box (44 bytes after its type field).
fn patch_tkhd(data: &mut [u8], name: &str) {
    let i = data
        .windows(4)
        .position(|w| w == b"tkhd")
        .expect("the mp4 has a tkhd box");
    assert_eq!(data[i + 4], 0, "expected a version-0 tkhd box");
    for (k, v) in matrix(name).iter().enumerate() {
        data[i + 44 + 4 * k..i + 48 + 4 * k].copy_from_slice(&v.to_be_bytes());
    }
}

/// Makes video `name` in `dir` and checks its bytes against the manifest.
pub fn make(dir: &Path, name: &str, v: &Video) -> PathBuf {
    let out = dir.join(format!("{name}{}", v.ext));
    let tmp = dir.join(format!("{name}.tmp{}", v.ext));
    let tmp2 = dir.join(format!("{name}.tmp2{}", v.ext));
    let utf8 = |p: &Path| p.to_str().expect("utf-8 temp path").to_string();
    let (o, t, t2) = (utf8(&out), utf8(&tmp), utf8(&tmp2));
    for c in &v.commands {
        let args: Vec<String> = c
            .iter()
            .map(|a| {
                a.replace("{out}", &o)
                    .replace("{tmp2}", &t2)
                    .replace("{tmp}", &t)
            })
            .collect();
        let r = Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
            .args(&args)
            .output()
            .expect("the ffmpeg CLI is needed to make the test videos");
        assert!(
            r.status.success(),
            "{name}: ffmpeg {args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
    }
    let mut data = std::fs::read(&out).expect("read the made video");
    if let Some(p) = &v.patch {
        patch_tkhd(&mut data, p);
        std::fs::write(&out, &data).expect("write the patched video");
    }
    let got = sha256_hex(&data);
    assert_eq!(
        got, v.sha256,
        "{name}: the ffmpeg CLI made a different file than the one the references were computed on \
         (another FFmpeg / x264 / x265 / libvpx / libaom build?). Rerun tools/gen_real_video_golden.py \
         with this build to refresh tests/fixtures/real_video."
    );
    out
}

/// `(T, S, S, 3)` u8 tensor -> per-frame RGB.
pub fn frames_of(t: &Tensor) -> Vec<viclip::preprocess::RgbFrame> {
    let (n, h, w, _) = t.dims4().expect("(T, S, S, 3)");
    (0..n)
        .map(|i| {
            let d = t
                .get(i)
                .and_then(|f| f.flatten_all())
                .and_then(|f| f.to_vec1::<u8>())
                .expect("u8 frame");
            viclip::preprocess::RgbFrame::new(w, h, d).expect("frame")
        })
        .collect()
}

/// Differences between two byte strings of the same length: (bytes differing, largest difference).
pub fn diff(a: &[u8], b: &[u8]) -> (usize, u8) {
    assert_eq!(a.len(), b.len(), "different sizes");
    a.iter()
        .zip(b)
        .map(|(x, y)| x.abs_diff(*y))
        .filter(|d| *d > 0)
        .fold((0, 0), |(n, m), d| (n + 1, m.max(d)))
}
