//! Test videos generated at test time with the ffmpeg CLI (`-f lavfi -i testsrc2`), and the CLI's own
//! decoding of a frame for comparison.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `ffmpeg -v error -y ARGS`; panics with the CLI's stderr if it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is needed to generate test videos (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `testsrc2` video of `w x h` at `rate` fps lasting `secs` seconds, written to `dir/name` with the
/// given codec options (e.g. `["-c:v", "libx264"]`).
pub fn testsrc(
    dir: &Path,
    name: &str,
    w: u32,
    h: u32,
    rate: u32,
    secs: f64,
    codec: &[&str],
) -> PathBuf {
    let path = dir.join(name);
    let src = format!("testsrc2=size={w}x{h}:rate={rate}:duration={secs}");
    let mut args = vec!["-f", "lavfi", "-i", &src];
    args.extend_from_slice(codec);
    args.extend_from_slice(&[
        "-pix_fmt",
        "yuv420p",
        path.to_str().expect("utf-8 temp path"),
    ]);
    ffmpeg(&args);
    path
}

/// Encoder options: H.264 (libx264), fast.
pub const H264: &[&str] = &["-c:v", "libx264", "-preset", "veryfast"];
/// Encoder options: VP9 (libvpx), realtime.
pub const VP9: &[&str] = &[
    "-c:v",
    "libvpx-vp9",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
    "-b:v",
    "300k",
];
/// Encoder options: AV1 (SVT-AV1), fastest preset.
pub const AV1: &[&str] = &["-c:v", "libsvtav1", "-preset", "12"];

/// Frame `n` (display order) of `path` as the ffmpeg CLI decodes it, RGB24 bytes.
pub fn cli_frame(path: &Path, n: usize) -> Vec<u8> {
    let sel = format!("select=eq(n\\,{n})");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-vf",
            &sel,
            "-fps_mode",
            "passthrough",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
        ])
        .output()
        .expect("ffmpeg CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
