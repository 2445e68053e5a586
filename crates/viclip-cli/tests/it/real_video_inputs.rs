//! What is not a video file is refused before FFmpeg reads it: FIFOs, devices, directories, and
//! playlists or scripts disguised as `.mp4` that would make FFmpeg open other files. A file with bit
//! rot decodes with a warning that says how much was lost.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use viclip::pipeline::{run_all, ClipSource, PipelineOptions};
use viclip::preprocess::{FrameSampling, Preprocess};
use viclip::video::{check_video_path, decode_clip, ClipSpan, DecodeOptions};
use viclip_testkit::video::{testsrc, H264};

fn decode_err(path: &Path) -> String {
    match decode_clip(
        path,
        ClipSpan::whole(),
        FrameSampling::Middle,
        8,
        &DecodeOptions::default(),
    ) {
        Ok(_) => panic!("{} decoded", path.display()),
        Err(e) => e.to_string(),
    }
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success());
}

/// Kills the child if the test ends before it does (a blocked reader must not outlive the test).
struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn fifos_devices_and_directories_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("clip.mp4");
    mkfifo(&fifo);
    for (path, what) in [
        (fifo.as_path(), "is a FIFO, not a video file"),
        (
            Path::new("/dev/null"),
            "is a character device, not a video file",
        ),
        (dir.path(), "is a directory, not a video file"),
    ] {
        let e = check_video_path(path).unwrap_err().to_string();
        assert!(
            e.contains(what) && e.contains(&*path.to_string_lossy()),
            "{e}"
        );
        let e = decode_err(path);
        assert!(e.contains(what), "{e}");
    }
    // Through the pipeline (what embed-video, score and eval use): a failure in place, no hang.
    let sources = vec![ClipSource::Video {
        path: fifo.clone(),
        spans: vec![],
    }];
    let b = run_all(sources, PipelineOptions::new(Preprocess::new(8, 32))).unwrap();
    assert_eq!(b.failures.len(), 1);
    assert!(b.failures[0].error.to_string().contains("is a FIFO"));
}

#[test]
fn embed_video_on_a_fifo_exits_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("v.mp4");
    mkfifo(&fifo);
    let root =
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/fixtures/tiny_a");
    let child = Command::new(env!("CARGO_BIN_EXE_viclip"))
        .args(["embed-video", "--weights"])
        .arg(root.join("model.safetensors"))
        .arg("--config")
        .arg(root.join("config.json"))
        .arg("--video")
        .arg(&fifo)
        .arg("--out")
        .arg(dir.path().join("e.npy"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run viclip");
    let mut child = Kill(child);
    // A reader that opened the FIFO would wait for a writer forever: give it a generous deadline.
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "embed-video blocked on a FIFO");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(err.contains("is a FIFO, not a video file"), "{err}");
}

#[test]
fn playlists_and_scripts_disguised_as_mp4_do_not_open_other_files() {
    let dir = tempfile::tempdir().unwrap();
    testsrc(dir.path(), "real.mp4", 160, 120, 10, 1.0, H264);
    let hls = dir.path().join("playlist.mp4");
    std::fs::write(
        &hls,
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nreal.mp4\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    let concat = dir.path().join("script.mp4");
    std::fs::write(&concat, "ffconcat version 1.0\nfile real.mp4\n").unwrap();
    for p in [&hls, &concat] {
        // The test can fail: plain FFmpeg (here its CLI) does follow the file to `real.mp4`.
        if p == &hls {
            let probe = Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-show_entries",
                    "stream=codec_name",
                    "-of",
                    "csv",
                ])
                .arg(p)
                .output()
                .expect("ffprobe");
            assert!(String::from_utf8_lossy(&probe.stdout).contains("h264"));
        }
        let e = decode_err(p);
        assert!(e.contains("cannot open as a video"), "{}: {e}", p.display());
    }
}

#[test]
fn bit_rot_is_reported_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let v = testsrc(
        dir.path(),
        "rot.mp4",
        320,
        240,
        25,
        2.0,
        &[
            "-c:v",
            "libx264",
            "-g",
            "250",
            "-threads",
            "1",
            "-movflags",
            "+faststart",
        ],
    );
    // Overwrite 16-byte runs every 4 kB after the first third of the file with a fixed pattern.
    let mut data = std::fs::read(&v).unwrap();
    let n = data.len();
    for (i, b) in data[n / 3..n - 64].iter_mut().enumerate() {
        if i % 4096 < 16 {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
    }
    std::fs::write(&v, &data).unwrap();
    let sources = vec![ClipSource::Video {
        path: v.clone(),
        spans: vec![],
    }];
    let b = run_all(sources, PipelineOptions::new(Preprocess::new(8, 32))).unwrap();
    match (b.clips.first(), b.failures.first()) {
        (Some(c), None) => {
            let w = c.warning.as_deref().expect("a warning for a damaged file");
            eprintln!("warning: {w}");
            assert!(w.contains("damaged or undecodable"), "{w}");
        }
        (None, Some(f)) => panic!("failed: {}", f.error),
        other => panic!("one clip expected: {other:?}"),
    }
}
