//! The run identity of `viclip score`, through the real binary: reruns into one `--out` with another
//! checkpoint (same file name), another or edited input, or another video root are refused with one
//! line per differing key; a moved input with the same content resumes; a nonexistent root, and an
//! `--out` that is the input directory, inside it, a file or unwritable, are refused up front; FIFOs,
//! directories and devices given as videos are named as such.

use crate::score_common;

use std::path::{Path, PathBuf};

use score_common::bin::*;
use score_common::{read_shards, strings, videos, write_csv, write_internvid, TINY_WEIGHTS};

struct Setup {
    _dir: tempfile::TempDir,
    d: PathBuf,
    table: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    videos(&d);
    let table = d.join("internvid.jsonl");
    write_internvid(&table);
    Setup {
        _dir: dir,
        d,
        table,
    }
}

/// `score_args` with `--weights` replaced.
fn with_weights(mut args: Vec<String>, w: &Path) -> Vec<String> {
    let i = args
        .iter()
        .position(|a| a == "--weights")
        .expect("--weights");
    args[i + 1] = w.display().to_string();
    args
}

#[test]
fn another_checkpoint_of_the_same_name_is_refused() {
    let s = setup();
    let (a, b) = (s.d.join("a"), s.d.join("b"));
    std::fs::create_dir_all(&a).expect("mkdir");
    std::fs::create_dir_all(&b).expect("mkdir");
    let bytes = std::fs::read(TINY_WEIGHTS).expect("weights");
    std::fs::write(a.join("model.safetensors"), &bytes).expect("write");
    // Another checkpoint: one weight changed (the last bytes are tensor data).
    let mut other = bytes.clone();
    let n = other.len();
    other[n - 3] ^= 0x40;
    std::fs::write(b.join("model.safetensors"), &other).expect("write");
    let out = s.d.join("out");
    // Half the shards with one checkpoint, the other half with the other: the second is refused.
    let half = |w: &Path, i: &str| {
        with_weights(
            score_args(
                &s.table,
                &out,
                Some(&s.d),
                4,
                &["--shard-index", i, "--num-shards", "2"],
            ),
            w,
        )
    };
    run_ok(&half(&a.join("model.safetensors"), "0"));
    let err = run_err(&half(&b.join("model.safetensors"), "1"));
    let want = format!(
        "(run started with {})",
        std::fs::canonicalize(a.join("model.safetensors"))
            .expect("canonical")
            .display()
    );
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("weights: sha256 "))
        .unwrap_or_else(|| panic!("no weights line in: {err}"));
    assert!(line.contains(&want), "{line}");
    assert_eq!(
        err.lines().filter(|l| l.contains(" != ")).count(),
        1,
        "only the weights differ: {err}"
    );
    assert_eq!(stats_count(&out), 2, "nothing written by the refused run");
    // The parquet metadata names the checkpoint by content, not only by file name.
    use sha2::Digest;
    let sha: String = sha2::Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let f = std::fs::File::open(out.join("00000.parquet")).expect("open");
    use parquet::file::reader::FileReader;
    let meta = parquet::file::reader::SerializedFileReader::new(f).expect("parquet");
    let kv = meta
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let got = kv.iter().find(|x| x.key == "viclip.weights_sha256");
    assert_eq!(got.and_then(|x| x.value.as_deref()), Some(sha.as_str()));
    // The same checkpoint under another path and name resumes (content, not name).
    let copy = s.d.join("copy.safetensors");
    std::fs::write(&copy, &bytes).expect("write");
    run_ok(&half(&copy, "1"));
    assert_eq!(stats_count(&out), 4);
    let cache = std::fs::read_to_string(out.join(".hashes.json")).expect("hash cache");
    assert!(cache.contains("copy.safetensors"), "{cache}");
}

#[test]
fn another_or_edited_input_is_refused_and_a_moved_one_resumes() {
    let s = setup();
    let out = s.d.join("out");
    let args = |t: &Path| score_args(t, &out, Some(&s.d), 4, &[]);
    run_ok(&args(&s.table));
    let text = std::fs::read(&s.table).expect("read");
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let join = |l: &[&[u8]]| {
        let mut v = l.join(&b'\n');
        v.push(b'\n');
        v
    };

    // Shortened: 10 of 13 rows (the 80-row run "rerun" on a 50-row table).
    let short = s.d.join("short.jsonl");
    std::fs::write(&short, join(&lines[..10])).expect("write");
    let err = run_err(&args(&short));
    assert!(err.contains("input.rows: 10 != 13"), "{err}");
    // Reordered: same rows, same size.
    let mut r = lines.clone();
    r.swap(0, 1);
    let reordered = s.d.join("reordered.jsonl");
    std::fs::write(&reordered, join(&r)).expect("write");
    let err = run_err(&args(&reordered));
    let differing: Vec<&str> = err.lines().filter(|l| l.contains(" != ")).collect();
    assert_eq!(differing.len(), 1, "{err}");
    assert!(
        differing[0].trim_start().starts_with("input.fingerprint: "),
        "{err}"
    );
    // Edited in place, same length.
    let at = text
        .windows(11)
        .position(|w| w == b"colour bars")
        .expect("caption");
    let mut edited = text.clone();
    edited[at + 10] = b'z';
    std::fs::write(&s.table, &edited).expect("write");
    let err = run_err(&args(&s.table));
    assert!(err.contains("input.fingerprint: "), "{err}");
    // Restored, then moved: same content elsewhere resumes with nothing to do.
    let moved = s.d.join("moved.jsonl");
    std::fs::write(&moved, &text).expect("write");
    let err = run_ok(&args(&moved));
    assert!(err.contains("0 shard(s) scored"), "{err}");
    assert!(err.contains("4 already complete"), "{err}");
}

#[test]
fn video_root_typos_are_refused() {
    let s = setup();
    let out = s.d.join("out");
    let err = run_err(&score_args(&s.table, &out, Some(&s.d.join("nope")), 4, &[]));
    assert!(
        err.contains("--video-root") && err.contains("nope"),
        "{err}"
    );
    assert_eq!(stats_count(&out), 0);
    // A root that exists but is wrong: every row missing; the corrected root must not keep that.
    let wrong = s.d.join("empty");
    std::fs::create_dir_all(&wrong).expect("mkdir");
    run_ok(&score_args(&s.table, &out, Some(&wrong), 4, &[]));
    let err = run_err(&score_args(&s.table, &out, Some(&s.d), 4, &[]));
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("video_root: "))
        .unwrap_or_else(|| panic!("no video_root line: {err}"));
    assert!(
        line.contains("empty") && line.contains("missing_video"),
        "{line}"
    );
    assert!(err.contains("use a new --out"), "{err}");
}

#[test]
fn settings_mismatch_names_each_key_on_its_own_line() {
    let s = setup();
    let out = s.d.join("out");
    run_ok(&score_args(&s.table, &out, Some(&s.d), 4, &[]));
    let err = run_err(&score_args(
        &s.table,
        &out,
        Some(&s.d),
        4,
        &["--sampling", "demo", "--resize", "cv2-linear"],
    ));
    let differing: Vec<&str> = err.lines().filter(|l| l.contains(" != ")).collect();
    assert_eq!(differing.len(), 2, "{err}");
    assert!(
        differing
            .iter()
            .any(|l| l.contains("sampling: demo != middle")),
        "{err}"
    );
    assert!(differing.iter().all(|l| l.len() < 200), "{err}");
    // Batch size and workers may change: they do not change a shard's values' meaning.
    let i = out.join("00001_stats.json");
    std::fs::remove_file(&i).expect("rm");
    let mut args = score_args(&s.table, &out, Some(&s.d), 4, &[]);
    for (flag, value) in [("--batch-size", "3"), ("--workers", "2")] {
        let i = args.iter().position(|a| a == flag).expect("flag");
        args[i + 1] = value.into();
    }
    let err = run_ok(&args);
    assert!(err.contains("1 shard(s) scored"), "{err}");
}

#[test]
fn bad_out_directories_are_refused_up_front() {
    let s = setup();
    // A directory of tables as input.
    let tables = s.d.join("tables");
    std::fs::create_dir_all(&tables).expect("mkdir");
    std::fs::copy(&s.table, tables.join("a.jsonl")).expect("copy");
    for (out, want) in [
        (tables.clone(), "is the input directory"),
        (tables.join("scores"), "is inside the input directory"),
        (
            tables.join("sub/../scores"),
            "is inside the input directory",
        ),
        (s.table.clone(), "an existing file"),
        (PathBuf::from("/proc/viclip-scores"), "not writable"),
        (PathBuf::from("/proc"), "a system directory"),
    ] {
        let input = if out == s.table { &s.table } else { &tables };
        let err = run_err(&score_args(input, &out, Some(&s.d), 4, &[]));
        let msg: Vec<&str> = err.lines().filter(|l| l.contains("--out")).collect();
        assert_eq!(msg.len(), 1, "{out:?}: {err}");
        assert!(msg[0].contains(want), "{out:?}: {err}");
    }
    assert!(!tables.join("scores").exists(), "nothing created");
}

#[test]
fn fifos_directories_and_devices_are_not_videos() {
    let s = setup();
    let fifo = s.d.join("pipe.mp4");
    let c = std::ffi::CString::new(fifo.display().to_string()).expect("path");
    // SAFETY: mkfifo(3) on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    std::fs::create_dir_all(s.d.join("folder.mp4")).expect("mkdir");
    let table = s.d.join("special.csv");
    std::fs::write(
        &table,
        "path,caption\npipe.mp4,a fifo\nfolder.mp4,a directory\n/dev/zero,a device\nvidA.mp4,fine\n",
    )
    .expect("write");
    let out = s.d.join("out");
    run_ok(&score_args(&table, &out, Some(&s.d), 4, &[]));
    let b = read_shards(&out);
    let status = strings(&b, "status");
    let error = strings(&b, "error");
    assert_eq!(status[3].as_deref(), Some("ok"));
    for (i, what) in ["is a FIFO", "is a directory", "is a device"]
        .iter()
        .enumerate()
    {
        assert_eq!(status[i].as_deref(), Some("missing_video"), "row {i}");
        let e = error[i].as_deref().unwrap_or_default();
        assert!(
            e.contains(what) && e.contains("not a video file"),
            "row {i}: {e}"
        );
    }
    let _ = write_csv; // the shared fixtures are used by the other score tests
}
