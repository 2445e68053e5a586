//! The CLI contract: `tokenize`, `embed-text`, `embed-video` on the golden tiny model, and one-line
//! errors naming the file, tensor or line at fault.

use std::path::Path;
use std::process::{Command, Output};

use candle_core::{Device, Tensor};
use viclip_testkit::fixtures::{assert_close, fixture, get, golden};

fn viclip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_viclip"))
        .args(args)
        .output()
        .expect("run viclip")
}

fn ok(args: &[&str]) -> String {
    let out = viclip(args);
    assert!(
        out.status.success(),
        "viclip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs a command that must fail; returns its stderr, which must be one line.
fn fails(args: &[&str]) -> String {
    let out = viclip(args);
    assert!(!out.status.success(), "viclip {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "error is not one line: {err}");
    crate::score_common::assert_no_rust_path(&err);
    err
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn tokenize_prints_reference_ids() {
    let out = ok(&["tokenize", "--texts", p(&fixture("tiny_a/captions.jsonl"))]);
    let inter = golden("tiny_a/intermediates.safetensors");
    let want = get(&inter, "text.input_ids").to_vec2::<i64>().unwrap();
    let got: Vec<Vec<i64>> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json array"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn embed_text_and_video_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let weights = fixture("tiny_a/model.pth");
    let config = fixture("tiny_a/config.json");
    let out_t = dir.path().join("t.npy");
    ok(&[
        "embed-text",
        "--weights",
        p(&weights),
        "--config",
        p(&config),
        "--texts",
        p(&fixture("tiny_a/captions.jsonl")),
        "--out",
        p(&out_t),
        "--batch-size",
        "2",
    ]);
    let out_v = dir.path().join("v.npy");
    ok(&[
        "embed-video",
        "--weights",
        p(&fixture("tiny_a/model.safetensors")),
        "--config",
        p(&config),
        "--tensor",
        p(&fixture("tiny_a/videos.npy")),
        "--out",
        p(&out_v),
        "--batch-size",
        "2",
    ]);
    let out_i = dir.path().join("i.npy");
    ok(&[
        "embed-video",
        "--weights",
        p(&weights),
        "--config",
        p(&config),
        "--tensor",
        p(&fixture("tiny_a/images.npy")),
        "--out",
        p(&out_i),
    ]);
    let want = golden("tiny_a/outputs_f32.safetensors");
    let read = |f: &Path| {
        Tensor::read_npy(f)
            .unwrap()
            .to_device(&Device::Cpu)
            .unwrap()
    };
    assert_close("cli text", &read(&out_t), get(&want, "text_embeds"), 1e-4);
    assert_close("cli video", &read(&out_v), get(&want, "video_embeds"), 1e-4);
    assert_close("cli image", &read(&out_i), get(&want, "image_embeds"), 1e-4);
}

#[test]
fn bad_inputs_fail_with_one_line_naming_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("tiny_a/config.json");
    let weights = fixture("tiny_a/model.safetensors");

    let bad_jsonl = dir.path().join("bad.jsonl");
    std::fs::write(&bad_jsonl, "{\"text\": \"ok\"}\nnot json\n").unwrap();
    let err = fails(&["tokenize", "--texts", p(&bad_jsonl)]);
    assert!(err.contains("bad.jsonl:2"), "{err}");

    let no_text = dir.path().join("notext.jsonl");
    std::fs::write(&no_text, "{\"caption\": \"x\"}\n").unwrap();
    let err = fails(&["tokenize", "--texts", p(&no_text)]);
    assert!(
        err.contains("notext.jsonl:1") && err.contains("text"),
        "{err}"
    );

    // A (B, T, 3, H, W) tensor at the wrong resolution.
    let small = dir.path().join("small.npy");
    Tensor::zeros((1, 8, 3, 56, 56), candle_core::DType::F32, &Device::Cpu)
        .unwrap()
        .write_npy(&small)
        .unwrap();
    let out = dir.path().join("o.npy");
    let err = fails(&[
        "embed-video",
        "--weights",
        p(&weights),
        "--config",
        p(&config),
        "--tensor",
        p(&small),
        "--out",
        p(&out),
    ]);
    assert!(err.contains("small.npy") && err.contains("112"), "{err}");
    assert!(!out.exists());

    let err = fails(&[
        "embed-video",
        "--weights",
        p(&fixture("tiny_a/captions.jsonl")),
        "--config",
        p(&config),
        "--tensor",
        p(&fixture("tiny_a/videos.npy")),
        "--out",
        p(&out),
    ]);
    assert!(err.contains("captions.jsonl"), "{err}");

    let err = fails(&[
        "embed-text",
        "--weights",
        p(&weights),
        "--config",
        "viclip-b16",
        "--texts",
        p(&fixture("tiny_a/captions.jsonl")),
        "--out",
        p(&out),
    ]);
    assert!(
        err.contains("model.safetensors") && err.contains("vision_encoder"),
        "{err}"
    );

    let err = fails(&[
        "embed-text",
        "--weights",
        p(&weights),
        "--config",
        p(&config),
        "--device",
        "cuda:zero",
        "--texts",
        p(&fixture("tiny_a/captions.jsonl")),
        "--out",
        p(&out),
    ]);
    assert!(err.contains("cuda:zero"), "{err}");

    // `--model` names a manifest entry: a typo is reported before anything is fetched, in any build.
    let err = fails(&[
        "embed-text",
        "--model",
        "viclip-l14-nope",
        "--texts",
        p(&fixture("tiny_a/captions.jsonl")),
        "--out",
        p(&out),
    ]);
    assert!(
        err.contains("viclip-l14-nope") && err.contains("viclip-l14-internvid-10m-flt"),
        "{err}"
    );
    // Library option names reach the user as the flags that set them.
    let err = fails(&[
        "embed-text",
        "--weights",
        p(&weights),
        "--config",
        p(&config),
        "--batch-size",
        "100000",
        "--texts",
        p(&fixture("tiny_a/captions.jsonl")),
        "--out",
        p(&out),
    ]);
    assert!(
        err.contains("--batch-size 100000: must be between 1 and 4096") && !err.contains("::"),
        "{err}"
    );
    // Unset is `auto`, not 0: a zero is refused when the flags are read.
    let res = viclip(&[
        "embed-text",
        "--weights",
        p(&weights),
        "--config",
        p(&config),
        "--batch-size",
        "0",
        "--texts",
        p(&fixture("tiny_a/captions.jsonl")),
        "--out",
        p(&out),
    ]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{err}");
    assert!(
        err.contains("`0` is not `auto` or a whole number >= 1"),
        "{err}"
    );
}

/// The demo scores the bundled sample table end to end: five rows, each decoded and scored, the
/// tagged bt709 file read as bt709, the random weights said plainly, the temporary output removed.
#[test]
fn demo_scores_the_bundled_sample_videos() {
    let out = ok(&["demo"]);
    assert!(out.contains("RANDOM weights"), "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.contains(".mp4 ")).collect();
    assert_eq!(rows.len(), 5, "{out}");
    for row in &rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(cells.contains(&"ok"), "{row}");
        let sim: f64 = cells
            .iter()
            .find(|c| c.starts_with('+') || c.starts_with('-'))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no CLIP-SIM in {row}"));
        assert!((-1.0..=1.0).contains(&sim), "{row}");
    }
    assert!(rows[4].starts_with("gradient_bt709.mp4") && rows[4].contains("bt709 limited"));
    assert!(rows[0].contains("bt601 limited"), "{}", rows[0]);
    let dir = out
        .lines()
        .find_map(|l| l.strip_prefix("output: "))
        .and_then(|l| l.split(" (").next())
        .expect("output line");
    assert!(!std::path::Path::new(dir).exists(), "{dir} left behind");
}

/// `demo --out DIR` keeps the scored shard, which holds the table's columns and the scores; running
/// it again into the same directory resumes (finds the shard complete) and prints the same rows.
#[test]
fn demo_keeps_its_output_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept");
    let first = ok(&["demo", "--out", p(&kept)]);
    let shard = kept.join("00000.parquet");
    let file = std::fs::File::open(&shard).expect("shard");
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 5);
    // The run's record names the samples' directory: a rerun finds them where the first run put
    // them, not in a temporary directory of its own that the record cannot match.
    let again = viclip(&["demo", "--out", p(&kept)]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "rerun failed: {stderr}");
    assert!(stderr.contains("1 shard(s) already complete"), "{stderr}");
    let rows = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains(".mp4 "))
            .map(String::from)
            .collect()
    };
    let again = String::from_utf8(again.stdout).unwrap();
    assert_eq!(rows(&again), rows(&first));
    assert_eq!(rows(&first).len(), 5, "{first}");
}

/// The demo runs from a copy of the binary alone: its model and samples are compiled in. The
/// source tree cannot be moved away while the tests run from it, so the copy stands in: placed in
/// an empty directory and run from another empty one, with an environment stripped of every path
/// into the tree (cargo's `CARGO_MANIFEST_DIR` and the like, its `target/` dirs in the library
/// path), the binary has no relative path to the assets and nothing to learn the tree's place
/// from; `CARGO_MANIFEST_DIR` baked in at compile time is what remained, and the demo no longer
/// reads it. With the tree in place a binary reading it would still work, so what catches one is its
/// output: the demo prints the table, videos and output it uses, and none may lie in the tree.
/// `TMPDIR` points at a directory of the test's own, which must be empty at the end: the unpacked
/// model and samples are removed.
#[test]
fn demo_runs_from_a_copied_binary_without_the_source_tree() {
    let bin_dir = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("viclip");
    std::fs::copy(env!("CARGO_BIN_EXE_viclip"), &bin).expect("copy the binary");
    let tree = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let outside = |var: &str| {
        let v = std::env::var_os(var)?;
        let kept: Vec<_> = std::env::split_paths(&v)
            .filter(|d| !d.canonicalize().unwrap_or(d.clone()).starts_with(&tree))
            .collect();
        std::env::join_paths(kept).ok()
    };
    let mut cmd = Command::new(&bin);
    cmd.arg("demo")
        .current_dir(cwd.path())
        .env_clear()
        .env("TMPDIR", tmp.path())
        .env("HOME", cwd.path());
    // Where the system keeps FFmpeg's libraries, when that is not the default.
    for var in ["PATH", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"] {
        if let Some(v) = outside(var) {
            cmd.env(var, v);
        }
    }
    let out = cmd.output().expect("run the copied viclip");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains(p(&tree)), "a path into the tree: {stdout}");
    let rows: Vec<&str> = stdout.lines().filter(|l| l.contains(".mp4 ")).collect();
    assert_eq!(rows.len(), 5, "{stdout}");
    for row in &rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert!(cells.contains(&"ok"), "{row}");
    }
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

#[test]
fn subset_flt_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("flt.jsonl");
    ok(&[
        "subset",
        "flt",
        "--input",
        p(&fixture("subset/internvid_flt_aes.jsonl")),
        "--out",
        p(&out),
        "--score-col",
        "UMT_Score",
        "--top-frac",
        "0.5",
        "--quiet",
    ]);
    let input: Vec<String> = std::fs::read_to_string(fixture("subset/internvid_flt_aes.jsonl"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let kept: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    // Rows 0, 3, 6 and 9 of the fixture survive the duration bounds and the top half by UMT_Score,
    // copied byte for byte.
    let want: Vec<String> = [0, 3, 6, 9].iter().map(|&i| input[i].clone()).collect();
    assert_eq!(kept, want);
}
