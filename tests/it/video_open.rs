//! What a video that cannot be opened or decoded is called: a symlink loop is a symlink loop (not a
//! missing file), a FIFO is refused without blocking, and a stream without a keyframe says so (not
//! "truncated; download it again").
#![cfg(feature = "video")]

use viclip::preprocess::FrameSampling;
use viclip::video::{check_video_path, decode_clip, ClipSpan, DecodeOptions};
use viclip_testkit::video::{ffmpeg, testsrc, H264};

#[cfg(unix)]
#[test]
fn a_symlink_loop_and_a_fifo_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.mp4");
    std::os::unix::fs::symlink(dir.path().join("b.mp4"), &a).expect("symlink");
    std::os::unix::fs::symlink(&a, dir.path().join("b.mp4")).expect("symlink");
    let e = check_video_path(&a).unwrap_err().to_string();
    assert!(e.contains("a.mp4") && e.contains("symlink loop"), "{e}");
    let e = decode_clip(
        &a,
        ClipSpan::whole(),
        FrameSampling::Middle,
        8,
        &DecodeOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("symlink loop"), "{e}");
    let fifo = dir.path().join("pipe.mp4");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.expect("mkfifo").success());
    let e = decode_clip(
        &fifo,
        ClipSpan::whole(),
        FrameSampling::Middle,
        8,
        &DecodeOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("pipe.mp4") && e.contains("FIFO"), "{e}");
}

#[test]
fn a_stream_without_a_keyframe_is_not_called_truncated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = testsrc(dir.path(), "src.mp4", 64, 48, 10, 2.0, H264);
    let nokey = dir.path().join("nokey.mp4");
    // Every keyframe packet dropped: the stream's parameters are intact, but no frame can be decoded.
    ffmpeg(&[
        "-i",
        src.to_str().expect("utf8"),
        "-c",
        "copy",
        "-bsf:v",
        "noise=drop=key",
        nokey.to_str().expect("utf8"),
    ]);
    let e = decode_clip(
        &nokey,
        ClipSpan::whole(),
        FrameSampling::Middle,
        8,
        &DecodeOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no keyframe"), "{e}");
    assert!(!e.contains("download it again"), "{e}");
}
