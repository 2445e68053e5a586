//! Verified completion of `viclip score`, through the real binary: a finished shard whose parquet,
//! embedding file or metadata parquet was truncated, deleted or altered is scored again on a rerun
//! (identically), and `viclip report` / `viclip subset` refuse a run with a shard missing, naming it.

use crate::score_common;

use std::path::Path;

use score_common::bin::*;
use score_common::{videos, write_internvid};

fn flip_byte(path: &Path, at_from_end: usize) {
    let mut b = std::fs::read(path).expect("read");
    let n = b.len();
    b[n - at_from_end] ^= 0x01;
    std::fs::write(path, b).expect("write");
}

#[test]
fn damaged_shards_are_scored_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("internvid.jsonl");
    write_internvid(&table);
    let reference = d.join("reference");
    let args = |out: &Path| score_args(&table, out, Some(d), 2, &[]);
    run_ok(&args(&reference));
    let out = d.join("out");
    run_ok(&args(&out));
    // Truncated main parquet, deleted npy, metadata parquet altered in place (same size), a
    // truncated stats file; shard 4 untouched.
    let p0 = out.join("00000.parquet");
    let len = std::fs::metadata(&p0).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p0)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate");
    std::fs::remove_file(out.join("video_emb/video_emb_00001.npy")).expect("rm");
    flip_byte(&out.join("metadata/metadata_00002.parquet"), 200);
    let s3 = out.join("00003_stats.json");
    let text = std::fs::read_to_string(&s3).expect("read");
    std::fs::write(&s3, &text[..text.len() / 2]).expect("write");
    let err = run_ok(&args(&out));
    let mut redone = scored_shards(&err);
    redone.sort_unstable();
    assert_eq!(redone, [0, 1, 2, 3], "{err}");
    assert!(err.contains("00000.parquet has"), "{err}");
    assert!(
        err.contains("video_emb/video_emb_00001.npy is missing"),
        "{err}"
    );
    assert!(
        err.contains("metadata/metadata_00002.parquet was altered"),
        "{err}"
    );
    assert_same_output(&out, &reference);
    // A third run has nothing to do.
    assert!(scored_shards(&run_ok(&args(&out))).is_empty());
}

#[test]
fn report_and_subset_refuse_an_incomplete_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("internvid.jsonl");
    write_internvid(&table);
    let out = d.join("out");
    run_ok(&score_args(&table, &out, Some(d), 2, &[]));
    let report = |out: &Path| vec!["report".to_string(), out.display().to_string()];
    let subset = |out: &Path| {
        [
            "subset",
            "random",
            "--input",
            &out.display().to_string(),
            "--out",
            &d.join("subset.parquet").display().to_string(),
            "--n",
            "5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
    };
    run_ok(&report(&out));
    run_ok(&subset(&out));
    // A shard missing entirely, and a parquet without its stats file.
    std::fs::remove_file(out.join("00002.parquet")).expect("rm");
    std::fs::remove_file(out.join("00002_stats.json")).expect("rm");
    std::fs::remove_file(out.join("00005_stats.json")).expect("rm");
    for args in [report(&out), subset(&out)] {
        let err = run_err(&args);
        assert!(err.contains("00002 (missing)"), "{err}");
        assert!(
            err.contains("00005 (parquet without its stats file)"),
            "{err}"
        );
        assert!(err.contains("2 of 7 shard(s)"), "{err}");
    }
    // A truncated parquet is named, not a parquet error.
    run_ok(&score_args(&table, &out, Some(d), 2, &[]));
    let p = out.join("00004.parquet");
    let len = std::fs::metadata(&p).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .and_then(|f| f.set_len(len - 10))
        .expect("truncate");
    let err = run_err(&report(&out));
    assert!(err.contains("00004 (00004.parquet has"), "{err}");
}
