//! The hostile-input rows through the real binary: absurd configs and `.npy` headers are one-line
//! errors (exit 1, never a panic's 101 or an abort's 134) under a 2 GB address-space cap while the
//! files claim tens of gigabytes; byte order marks, duplicate columns, text score columns, repeated
//! OS messages, oversized `--n` and out-of-range flags behave as docs/limits.md says.

use std::path::Path;
use std::process::{Command, Output};

use viclip_testkit::fixtures::fixture;
use viclip_testkit::hostile::npy_bytes;

/// The release or debug `viclip` binary of this build.
pub fn viclip_bin() -> &'static str {
    env!("CARGO_BIN_EXE_viclip")
}

/// Runs `viclip args...` in `dir`; with `cap_bytes`, under `prlimit --as=cap_bytes` (an address-space
/// cap: any allocation of what a hostile header claims would fail and abort) when prlimit exists.
pub fn run_viclip(dir: &Path, args: &[&str], cap_bytes: Option<u64>) -> Output {
    let prlimit = Path::new("/usr/bin/prlimit");
    let mut cmd = match cap_bytes {
        Some(cap) if prlimit.exists() => {
            let mut c = Command::new(prlimit);
            c.arg(format!("--as={cap}")).arg("--").arg(viclip_bin());
            c
        }
        _ => Command::new(viclip_bin()),
    };
    cmd.args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("viclip runs")
}

/// The address-space cap (2 GB): far below what the hostile files claim.
const CAP: u64 = 2_000_000_000;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean refusal: exit status 1 and an error line containing every one of `needles`.
fn assert_refused(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1, got {:?}: {err}",
        o.status
    );
    assert!(err.starts_with("viclip: error: "), "{err}");
    crate::score_common::assert_no_rust_path(&err);
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
}

/// The tiny model's config with `edit` applied, written to `dir/name`.
fn config(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let text = std::fs::read_to_string(fixture("tiny_a/config.json")).expect("fixture");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    edit(&mut v);
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).expect("write");
    p.to_string_lossy().into_owned()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn absurd_viclip_configs_are_refused_before_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    let weights = s(&fixture("tiny_a/model.safetensors"));
    let texts = s(&fixture("tiny_a/captions.jsonl"));
    let cases: [(&str, &str, &str, u64); 4] = [
        ("layers.json", "vision", "layers", 1_000_000_000),
        ("text_layers.json", "text", "layers", 1_000_000_000),
        ("res.json", "vision", "input_resolution", 1 << 40),
        ("width.json", "vision", "width", 1 << 62),
    ];
    for (name, group, key, value) in cases {
        let cfg = config(dir.path(), name, |v| v[group][key] = value.into());
        let o = run_viclip(
            dir.path(),
            &[
                "embed-text",
                "--weights",
                &weights,
                "--config",
                &cfg,
                "--texts",
                &texts,
                "--out",
                "o.npy",
            ],
            Some(CAP),
        );
        assert_refused(&o, &[name, &format!("{group}.{key}"), "docs/limits.md"]);
    }
}

#[test]
fn absurd_clip_configs_are_refused_before_allocating() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(fixture("aesthetic/config.json")).expect("fixture");
    for (key, value) in [
        ("num_hidden_layers", 1_000_000_000u64),
        ("image_size", 1 << 40),
        ("hidden_size", 1 << 62),
    ] {
        let mut v: serde_json::Value = serde_json::from_str(&base).expect("json");
        v[key] = value.into();
        let cfg = dir.path().join(format!("{key}.json"));
        std::fs::write(&cfg, v.to_string()).expect("write");
        let o = run_viclip(
            dir.path(),
            &[
                "aesthetic",
                "--clip-weights",
                &s(&fixture("aesthetic/clip_vision.safetensors")),
                "--clip-config",
                &s(&cfg),
                "--head",
                &s(&fixture("aesthetic/aes_v2.safetensors")),
                "--tensor",
                &s(&fixture("tiny_a/images.npy")),
                "--out",
                "o.json",
            ],
            Some(CAP),
        );
        assert_refused(&o, &[key, "docs/limits.md"]);
    }
}

#[test]
fn npy_headers_claiming_gigabytes_are_refused_under_a_2gb_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let claims = [
        // 120 GB of (B, T, 3, H, W) float32 clips in a 1 KB file.
        ("big.npy", "(100000, 8, 3, 112, 112)", "claims"),
        ("overflow.npy", "(4294967296, 4294967296, 16)", "overflows"),
    ];
    let model = [
        "--weights".to_string(),
        s(&fixture("tiny_a/model.safetensors")),
        "--config".to_string(),
        s(&fixture("tiny_a/config.json")),
    ];
    std::fs::write(dir.path().join("rows.csv"), "path\na\nb\nc\n").expect("write");
    for (name, shape, what) in claims {
        let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        std::fs::write(dir.path().join(name), npy_bytes(&header, 900)).expect("write");
        let mut args: Vec<&str> = vec!["embed-video"];
        args.extend(model.iter().map(String::as_str));
        args.extend(["--tensor", name, "--out", "o.npy"]);
        assert_refused(&run_viclip(dir.path(), &args, Some(CAP)), &[name, what]);
        let o = run_viclip(
            dir.path(),
            &[
                "subset",
                "dedup",
                "--input",
                "rows.csv",
                "--out",
                "out.csv",
                "--embeddings",
                name,
                "--eps",
                "0.1",
            ],
            Some(CAP),
        );
        assert_refused(&o, &[name, what]);
    }
}

#[test]
fn a_byte_order_mark_does_not_break_tokenize_or_embed_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = "{\"text\": \"a dog runs\"}\n{\"text\": \"a cat sleeps\"}\n";
    std::fs::write(dir.path().join("plain.jsonl"), lines).expect("write");
    std::fs::write(dir.path().join("bom.jsonl"), format!("\u{feff}{lines}")).expect("write");
    let plain = run_viclip(dir.path(), &["tokenize", "--texts", "plain.jsonl"], None);
    let bom = run_viclip(dir.path(), &["tokenize", "--texts", "bom.jsonl"], None);
    assert!(bom.status.success(), "{}", stderr(&bom));
    assert_eq!(bom.stdout, plain.stdout);
    let o = run_viclip(
        dir.path(),
        &[
            "embed-text",
            "--weights",
            &s(&fixture("tiny_a/model.safetensors")),
            "--config",
            &s(&fixture("tiny_a/config.json")),
            "--texts",
            "bom.jsonl",
            "--out",
            "e.npy",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 captions"), "{}", stderr(&o));
}

#[test]
fn subset_input_problems_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("dup.csv"), "path,caption,caption\na,x,y\n").expect("write");
    let o = run_viclip(
        dir.path(),
        &[
            "subset", "random", "--input", "dup.csv", "--out", "o.csv", "--n", "1",
        ],
        None,
    );
    assert_refused(&o, &["dup.csv", "`caption`", "more than once"]);

    std::fs::write(
        dir.path().join("t.csv"),
        "path,caption,start,end,viclip_sim\na,a dog,0,5,0.3\nb,a cat,0,5,0.2\nc,a cow,0,5,0.1\n",
    )
    .expect("write");
    let o = run_viclip(
        dir.path(),
        &[
            "subset",
            "flt",
            "--input",
            "t.csv",
            "--out",
            "o.csv",
            "--score-col",
            "caption",
            "--start-col",
            "start",
            "--end-col",
            "end",
        ],
        None,
    );
    assert_refused(&o, &["`caption`", "Utf8", "--score-col"]);

    // More rows asked than there are: all rows, and a warning.
    let o = run_viclip(
        dir.path(),
        &[
            "subset", "random", "--input", "t.csv", "--out", "r.csv", "--n", "10", "--quiet",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: --n 10 is more than the 3 row(s)"),
        "{}",
        stderr(&o)
    );
    let out = std::fs::read_to_string(dir.path().join("r.csv")).expect("output");
    assert_eq!(out.lines().count(), 4);
}

#[test]
fn an_os_error_is_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run_viclip(
        dir.path(),
        &[
            "subset",
            "random",
            "--input",
            "missing.csv",
            "--out",
            "o.csv",
            "--n",
            "1",
        ],
        None,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let os_text = std::io::Error::from(std::io::ErrorKind::NotFound).to_string();
    let needle = "(os error 2)";
    assert_eq!(err.matches(needle).count(), 1, "{err} ({os_text})");
    assert!(err.contains("missing.csv"), "{err}");
}

#[test]
fn out_of_range_counts_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("t.jsonl"), "{\"text\": \"a\"}\n").expect("write");
    let o = run_viclip(
        dir.path(),
        &[
            "tokenize",
            "--texts",
            "t.jsonl",
            "--context-length",
            "1000000000000",
        ],
        Some(CAP),
    );
    assert_refused(&o, &["--context-length"]);
    let o = run_viclip(
        dir.path(),
        &[
            "embed-text",
            "--weights",
            &s(&fixture("tiny_a/model.safetensors")),
            "--config",
            &s(&fixture("tiny_a/config.json")),
            "--texts",
            "t.jsonl",
            "--out",
            "e.npy",
            "--batch-size",
            "100000000",
        ],
        Some(CAP),
    );
    assert_refused(&o, &["--batch-size", "4096"]);
    let o = run_viclip(
        dir.path(),
        &[
            "subset",
            "random",
            "--input",
            "t.jsonl",
            "--out",
            "o.jsonl",
            "--n",
            "1",
            "--batch-size",
            "1000000000000",
        ],
        None,
    );
    assert_refused(&o, &["--batch-size"]);
    // `score --workers 10000` used to start ten thousand decode threads; capped before any start.
    std::fs::write(
        dir.path().join("t.csv"),
        "path,caption\na.mp4,x\nb.mp4,y\nc.mp4,z\n",
    )
    .expect("write");
    // `--workers` is the old name of `--decode-threads`: the refusal names the flag's own name.
    for (flag, value, named) in [
        ("--workers", "10000", "--decode-threads 10000"),
        ("--batch-size", "100000000", "--batch-size 100000000"),
    ] {
        let o = run_viclip(
            dir.path(),
            &[
                "score",
                "--input",
                "t.csv",
                "--path-col",
                "path",
                "--caption-col",
                "caption",
                "--out",
                "scored",
                "--weights",
                &s(&fixture("tiny_a/model.safetensors")),
                "--config",
                &s(&fixture("tiny_a/config.json")),
                flag,
                value,
            ],
            Some(CAP),
        );
        assert_refused(&o, &[named]);
        assert!(!stderr(&o).contains("::"), "{}", stderr(&o));
        assert!(
            !dir.path().join("scored").join("00000.parquet").exists(),
            "{flag} {value}: refused before scoring"
        );
    }
}
