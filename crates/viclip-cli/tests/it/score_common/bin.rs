//! `viclip score` through the real binary: flags, runs with a deadline, and the output directory
//! read back whole for bit-for-bit comparisons.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{TINY_CONFIG, TINY_WEIGHTS};

/// The binary under test.
pub fn viclip() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_viclip"));
    c.stdin(Stdio::null());
    c
}

/// `score` flags for the tiny model: one worker, batches of 2, `--embeddings`, shards of
/// `shard_size` rows; `root`: the video root; `extra` last.
pub fn score_args(
    input: &Path,
    out: &Path,
    root: Option<&Path>,
    shard_size: u64,
    extra: &[&str],
) -> Vec<String> {
    let mut v: Vec<String> = [
        "score",
        "--weights",
        TINY_WEIGHTS,
        "--config",
        TINY_CONFIG,
        "--workers",
        "1",
        "--batch-size",
        "2",
        "--embeddings",
        "--log-every",
        "1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(["--input".into(), input.display().to_string()]);
    v.extend(["--out".into(), out.display().to_string()]);
    if let Some(r) = root {
        v.extend(["--video-root".into(), r.display().to_string()]);
    }
    v.extend(["--shard-size".into(), shard_size.to_string()]);
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// A child process killed when dropped (a failing test never leaves one behind).
pub struct Guard(pub Option<Child>);

impl Guard {
    pub fn spawn(args: &[String]) -> Guard {
        let c = viclip()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn viclip");
        Guard(Some(c))
    }

    pub fn pid(&self) -> i32 {
        self.0.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child")
    }

    /// Waits, at most `limit` (then kills it and panics): its output.
    pub fn wait(mut self, limit: Duration) -> Output {
        let mut c = self.0.take().expect("child");
        let t = Instant::now();
        while c.try_wait().expect("wait").is_none() {
            if t.elapsed() > limit {
                let _ = c.kill();
                let out = c.wait_with_output().expect("wait");
                panic!(
                    "viclip ran over {limit:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        c.wait_with_output().expect("output")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `viclip ARGS` to the end (at most 10 minutes).
pub fn run(args: &[String]) -> Output {
    Guard::spawn(args).wait(Duration::from_secs(600))
}

/// Runs `viclip ARGS`, which must succeed; its stderr.
pub fn run_ok(args: &[String]) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "viclip {args:?} failed: {err}");
    super::assert_no_rust_path(&err);
    err
}

/// Runs `viclip ARGS`, which must fail; its stderr.
pub fn run_err(args: &[String]) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success(),
        "viclip {args:?} should have failed: {err}"
    );
    super::assert_no_rust_path(&err);
    err
}

/// Every file under `out` by relative path, except the per-process state (`.tmp/`, `.locks/`,
/// `.hashes.json`) and `split.json` (written only by split processes: how the table was dealt out,
/// not what was computed). Stats files keep only what does not depend on timing (the rows, statuses and
/// file hashes); the output path is replaced by `OUT` in JSON files.
pub fn output_files(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)
            .expect("read_dir")
            .map(|e| e.expect("entry"))
        {
            let p = e.path();
            let rel = p.strip_prefix(out).expect("prefix").display().to_string();
            if rel.starts_with('.') || rel == "split.json" {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let mut bytes = std::fs::read(&p).expect("read");
            if rel.ends_with("_stats.json") {
                let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("stats");
                let o = v.as_object_mut().expect("object");
                for k in ["seconds", "clips_per_s", "scored_with"] {
                    o.remove(k);
                }
                for f in o["files"].as_array_mut().expect("files") {
                    f.as_object_mut().expect("file").remove("mtime");
                }
                bytes = serde_json::to_vec(&v).expect("json");
            }
            if rel.ends_with(".json") {
                let text = String::from_utf8(bytes).expect("utf-8");
                bytes = text.replace(&out.display().to_string(), "OUT").into_bytes();
            }
            files.insert(rel, bytes);
        }
    }
    files
}

/// Asserts two output directories hold the same files, byte for byte (see [`output_files`]).
pub fn assert_same_output(a: &Path, b: &Path) {
    let (fa, fb) = (output_files(a), output_files(b));
    let names = |f: &BTreeMap<String, Vec<u8>>| f.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb), "file sets of {a:?} and {b:?}");
    for (k, v) in &fa {
        assert!(&fb[k] == v, "{k} differs between {a:?} and {b:?}");
    }
}

/// Temporary files left anywhere under `out`: `*.tmp` files and anything inside `.tmp/`.
pub fn leftovers(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.map(|e| e.expect("entry")) {
            let p = e.path();
            let inside_tmp = p
                .strip_prefix(out)
                .is_ok_and(|r| r.starts_with(".tmp") && r != Path::new(".tmp"));
            let name = e.file_name().to_string_lossy().into_owned();
            if inside_tmp || (name.ends_with(".tmp") && name != ".tmp") || name.contains(".tmp.") {
                found.push(p.clone());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    found
}

/// The shards a process reported scoring (`shard NNNNN: scored` lines of its stderr).
pub fn scored_shards(stderr: &str) -> Vec<u64> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("viclip score: shard "))
        .filter_map(|l| l.split_once(": scored"))
        .filter_map(|(k, _)| k.parse().ok())
        .collect()
}

/// Number of `NNNNN_stats.json` files in `out`.
pub fn stats_count(out: &Path) -> usize {
    std::fs::read_dir(out).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with("_stats.json"))
        })
        .count()
    })
}

/// A webdataset tar of `n` good samples (videos alternating between `vidA.mp4` and `vidB.mkv`
/// of `videos`, a caption each).
pub fn write_good_tar(path: &Path, videos: &Path, n: usize) {
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
    for i in 0..n {
        let (ext, data) = if i % 2 == 0 {
            ("mp4", &mp4)
        } else {
            ("mkv", &mkv)
        };
        add(&format!("{i:09}.{ext}"), data);
        add(
            &format!("{i:09}.txt"),
            format!("sample number {i}").as_bytes(),
        );
    }
    std::fs::write(path, b.into_inner().expect("tar")).expect("write");
}

/// An InternVid table of the fixture's rows repeated `times` times (every kind of bad row).
pub fn write_internvid_times(path: &Path, times: usize) -> usize {
    let rows = super::internvid_rows();
    let mut bytes = Vec::new();
    for _ in 0..times {
        for (line, _) in &rows {
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
        }
    }
    std::fs::write(path, bytes).expect("write");
    rows.len() * times
}
