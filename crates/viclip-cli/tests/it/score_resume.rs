//! Shards and resume of `viclip score`: i/n partitions cover every row exactly once and equal a
//! single-process run; a rerun skips complete shards and redoes broken ones with identical values;
//! other settings into the same directory are refused; an output error leaves no shard under a final
//! name; and a child process killed with SIGKILL at random points, rerun, gives the uninterrupted
//! output (this last test needs the `viclip score` subcommand wired into the binary).

use crate::score_common;
use viclip_cli::score_cmd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use score_common::*;
use viclip_data::score::ShardSelection;

fn flags(table: &Path, out: &Path, root: &Path, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "--weights",
        TINY_WEIGHTS,
        "--config",
        TINY_CONFIG,
        "--workers",
        "2",
        "--batch-size",
        "2",
        "--embeddings",
        "--log-every",
        "1000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, p) in [("--input", table), ("--out", out), ("--video-root", root)] {
        v.push(k.into());
        v.push(p.display().to_string());
    }
    if !extra.contains(&"--shard-size") {
        v.extend(["--shard-size".to_string(), "2".to_string()]);
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run(table: &Path, out: &Path, root: &Path, extra: &[&str]) -> anyhow::Result<()> {
    let mut v = vec!["score".to_string()];
    v.extend(flags(table, out, root, extra));
    score_cmd::run(
        &Cli::<score_cmd::ScoreArgs>::try_parse_from(v)
            .expect("flags")
            .args,
    )
}

/// Per row: status, error, sim bits, frames; then the bytes of every embedding file.
type Values = (
    Vec<Option<String>>,
    Vec<Option<String>>,
    Vec<Option<u32>>,
    Vec<Option<Vec<i32>>>,
    Vec<Vec<u8>>,
);

/// Everything a run's values are.
fn values(out: &Path) -> Values {
    let b = read_shards(out);
    let sims = floats(&b, "viclip_sim")
        .into_iter()
        .map(|x| x.map(f32::to_bits))
        .collect();
    let mut npy: Vec<PathBuf> = ["video_emb", "text_emb"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(out.join(d))
                .expect("dir")
                .map(|e| e.expect("e").path())
        })
        .collect();
    npy.sort();
    let bytes = npy.iter().map(|p| std::fs::read(p).expect("npy")).collect();
    (
        strings(&b, "status"),
        strings(&b, "error"),
        sims,
        frames_used(&b),
        bytes,
    )
}

fn stats_files(out: &Path) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut v: Vec<String> = dir
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_stats.json"))
        .collect();
    v.sort();
    v
}

fn setup() -> (tempfile::TempDir, PathBuf, Vec<&'static str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    videos(dir.path());
    let table = dir.path().join("internvid.jsonl");
    let expected = write_internvid(&table);
    (dir, table, expected)
}

#[test]
fn partitions_cover_every_row_once_and_match_one_process() {
    let (dir, table, expected) = setup();
    let d = dir.path();
    let whole = d.join("whole");
    run(&table, &whole, d, &[]).expect("score");
    let split = d.join("split");
    for i in 0..3u64 {
        let before = stats_files(&split.clone()).len();
        run(
            &table,
            &split,
            d,
            &["--shard-index", &i.to_string(), "--num-shards", "3"],
        )
        .expect("score");
        let now = stats_files(&split);
        let mine: Vec<String> = (0..7u64)
            .filter(|k| k % 3 == i)
            .map(|k| format!("{k:05}_stats.json"))
            .collect();
        assert_eq!(now.len() - before, mine.len(), "process {i} wrote {now:?}");
        assert!(mine.iter().all(|m| now.contains(m)));
    }
    assert_eq!(
        stats_files(&split).len(),
        7,
        "7 shards of 2 rows for 13 rows"
    );
    let (status, ..) = values(&split);
    assert_eq!(status.len(), expected.len(), "union = all rows, no overlap");
    assert_eq!(values(&split), values(&whole), "same values as one process");
    assert!(
        split.join("report.json").is_file(),
        "the last process writes the report"
    );
}

#[test]
fn rerun_skips_complete_shards_and_redoes_broken_ones() {
    let (dir, table, _) = setup();
    let d = dir.path();
    let out = d.join("out");
    run(&table, &out, d, &[]).expect("score");
    let reference = values(&out);
    let mtime = |p: PathBuf| {
        std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime")
    };
    let kept = mtime(out.join("00001.parquet"));
    // A crash between the parquet's rename and the stats: shard 2 is incomplete; shard 3 was in flight.
    std::fs::remove_file(out.join("00002_stats.json")).expect("rm");
    std::fs::write(out.join("00002.parquet"), b"garbage").expect("write");
    std::fs::write(out.join("00003.parquet.tmp"), b"half").expect("write");
    std::fs::remove_file(out.join("00003_stats.json")).expect("rm");
    std::thread::sleep(Duration::from_millis(20));
    run(&table, &out, d, &[]).expect("rerun");
    assert_eq!(values(&out), reference);
    assert_eq!(
        mtime(out.join("00001.parquet")),
        kept,
        "complete shards are not redone"
    );
    assert!(!out.join("00003.parquet.tmp").exists());

    // Other settings into the same directory are refused, naming the shard.
    let err = run(&table, &out, d, &["--sampling", "demo"]).expect_err("mixed settings");
    assert!(format!("{err:#}").contains("other settings"), "{err:#}");
}

#[test]
fn output_error_stops_the_run_without_a_final_file() {
    let (dir, table, _) = setup();
    let d = dir.path();
    let out = d.join("out");
    std::fs::create_dir_all(out.join("00000.parquet.tmp")).expect("mkdir");
    let err = run(&table, &out, d, &[]).expect_err("cannot write");
    let msg = format!("{err:#}");
    assert!(msg.contains("00000.parquet.tmp"), "{msg}");
    assert!(!out.join("00000.parquet").exists() && !out.join("00000_stats.json").exists());
    assert!(
        !out.join("00001_stats.json").exists(),
        "the run stops at the first output error"
    );
}

#[test]
fn shard_selection_from_slurm() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| vars.iter().find(|v| v.0 == k).map(|v| v.1.to_string())
    };
    let r = ShardSelection::resolve_with(None, None, env(&[])).expect("default");
    assert_eq!(r, ShardSelection { index: 0, count: 1 });
    let r = ShardSelection::resolve_with(
        None,
        None,
        env(&[
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ]),
    )
    .expect("slurm");
    assert_eq!(r, ShardSelection { index: 4, count: 8 });
    let r = ShardSelection::resolve_with(Some(2), Some(3), env(&[("SLURM_ARRAY_TASK_ID", "0")]))
        .expect("flags win");
    assert_eq!(r, ShardSelection { index: 2, count: 3 });
    assert!(ShardSelection::resolve_with(Some(3), Some(3), env(&[])).is_err());
    assert!(ShardSelection::resolve_with(Some(1), None, env(&[])).is_err());
    assert!(ShardSelection::resolve_with(
        None,
        None,
        env(&[
            ("SLURM_ARRAY_TASK_ID", "x"),
            ("SLURM_ARRAY_TASK_COUNT", "2")
        ])
    )
    .is_err());
    let sel = ShardSelection::new(1, 3).expect("sel");
    let owned: Vec<u64> = (0..9).filter(|&k| sel.owns(k)).collect();
    assert_eq!(owned, [1, 4, 7]);
}

/// The child process of the kill test when `viclip score` is not wired into the binary yet: this
/// test binary itself, running only this (ignored) test, which scores with the flags in
/// `VICLIP_SCORE_CHILD` (a JSON list). Without that variable it does nothing.
#[test]
#[ignore = "child process of kill_9_and_resume_gives_the_uninterrupted_output"]
fn child_process_score() {
    let Ok(json) = std::env::var("VICLIP_SCORE_CHILD") else {
        return;
    };
    let v: Vec<String> = serde_json::from_str(&json).expect("flags");
    score_cmd::run(
        &Cli::<score_cmd::ScoreArgs>::try_parse_from(v)
            .expect("flags")
            .args,
    )
    .expect("score");
}

/// `viclip score ARGS` when the binary has the subcommand, else this test binary's child test.
fn child(args: &[String]) -> Command {
    let bin = env!("CARGO_BIN_EXE_viclip");
    let wired = Command::new(bin)
        .args(["score", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut c = if wired {
        let mut c = Command::new(bin);
        c.args(args);
        c
    } else {
        let mut c = Command::new(std::env::current_exe().expect("test binary"));
        c.args([
            "score_resume::child_process_score",
            "--exact",
            "--ignored",
            "--test-threads",
            "1",
        ]);
        c.env(
            "VICLIP_SCORE_CHILD",
            serde_json::to_string(args).expect("json"),
        );
        c
    };
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

#[test]
fn kill_9_and_resume_gives_the_uninterrupted_output() {
    let _ = score_cmd::run_report; // included for the CLI; used by the end-to-end test
    let (dir, table, _) = setup();
    let d = dir.path();
    let reference = d.join("reference");
    run(&table, &reference, d, &["--shard-size", "1"]).expect("score");
    let args_for = |out: &Path| {
        let mut a = vec!["score".to_string()];
        a.extend(flags(&table, out, d, &["--shard-size", "1"]));
        a
    };
    // Kill points are tied to progress, not to wall time: a time scale measured on one run said
    // nothing about the next on a loaded CI machine, and kills that land after the run has finished
    // test nothing. Each kill waits until a deterministic "random" number of shards (1..=11) is on
    // disk, then sleeps a few milliseconds more so that some kills land in the middle of a write.
    let mut x = 0x2545_f491_u64;
    let mut interrupted = 0;
    let mut kills = 0;
    for round in 0..6 {
        let out = d.join(format!("killed{round}"));
        let args = args_for(&out);
        for _ in 0..1 + round % 2 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let before = stats_files(&out).len();
            let target = (before + 1 + (x % 4) as usize).min(12);
            let extra = Duration::from_millis((x >> 8) % 5);
            let mut c = child(&args).spawn().expect("spawn");
            let started = std::time::Instant::now();
            while stats_files(&out).len() < target
                && c.try_wait().expect("wait").is_none()
                && started.elapsed() < Duration::from_secs(120)
            {
                std::thread::sleep(Duration::from_micros(500));
            }
            std::thread::sleep(extra);
            if c.try_wait().expect("wait").is_none() {
                c.kill().expect("SIGKILL");
            }
            let _ = c.wait();
            kills += 1;
            let done = stats_files(&out).len();
            eprintln!(
                "round {round}: killed at >= {target} shards (+{extra:?}) with {done} of 13 complete"
            );
            if done < 13 {
                interrupted += 1;
            }
        }
        assert!(child(&args).status().expect("run").success());
        assert_eq!(values(&out), values(&reference), "round {round}");
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .expect("out")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert_eq!(stats_files(&out).len(), 13);
    }
    assert!(
        interrupted * 2 >= kills,
        "only {interrupted} of {kills} kills landed inside a run"
    );
}
