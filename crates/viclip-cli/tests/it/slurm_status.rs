//! `viclip status` and `viclip score --plan` on complete, partial and in-flight runs: shard states
//! (in flight = someone holds the shard's lock file), rows and failures, the per-task ETA, the
//! `--array=` list of tasks to resubmit; and the plan's shards per share, computed from the table
//! alone before anything runs.

use crate::score_common;
use viclip_cli::score_cmd;
use viclip_cli::status_cmd;

use std::fs::File;
use std::path::Path;

use clap::Parser;
use score_common::*;
use viclip_data::score::shard_lock_path as lock_path;
use viclip_data::score::status::{status, ShardState};
use viclip_data::score::TABLE_FILE;

fn args(table: &Path, out: &Path, root: &Path, extra: &[&str]) -> score_cmd::ScoreArgs {
    let mut v: Vec<String> = [
        "score",
        "--weights",
        TINY_WEIGHTS,
        "--config",
        TINY_CONFIG,
        "--workers",
        "2",
        "--batch-size",
        "2",
        "--shard-size",
        "2",
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
    v.extend(extra.iter().map(|s| s.to_string()));
    Cli::<score_cmd::ScoreArgs>::try_parse_from(v)
        .expect("flags")
        .args
}

/// An exclusive flock, as a scoring process holds on its shard's lock file.
fn flock(f: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is open.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(r, 0, "flock: {}", std::io::Error::last_os_error());
}

#[test]
fn status_of_partial_in_flight_and_complete_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("internvid.jsonl");
    let expected = write_internvid(&table);
    let out = d.join("out");
    let _ = score_cmd::run_report; // included for the CLI
    assert!(status(&out).is_err(), "no run yet");

    // The plan before anything ran: 13 rows in 7 shards of 2, 3 shares.
    let plan_args = args(
        &table,
        &out,
        d,
        &["--num-shards", "3", "--shard-index", "0"],
    );
    score_cmd::run_plan(&plan_args).expect("plan");
    assert!(!out.join(TABLE_FILE).exists(), "--plan writes nothing");

    // Shares 0 and 2 of 3 ran; share 1 (shards 1 and 4) did not.
    for i in ["0", "2"] {
        score_cmd::run(&args(
            &table,
            &out,
            d,
            &["--num-shards", "3", "--shard-index", i],
        ))
        .expect("score");
    }
    let st = status(&out).expect("status");
    use ShardState::*;
    assert_eq!(
        st.shards,
        [Complete, Missing, Complete, Complete, Missing, Complete, Complete]
    );
    assert_eq!((st.complete, st.in_flight, st.missing), (5, 0, 2));
    assert_eq!(
        st.rows_done, 9,
        "shards 0, 2, 3, 5 of 2 rows and shard 6 of 1"
    );
    assert_eq!(st.missing_tasks, "1");
    let s1 = &st.per_share[1];
    assert_eq!((s1.complete, s1.missing, s1.rows_left), (0, 2, 4));
    assert!(s1.eta_s.is_some_and(|e| e > 0.0), "ETA from the run's rate");
    assert_eq!(st.per_share[0].rows_left, 0);
    assert!(st.per_share[0].clips_per_s.is_some());
    let text = status_cmd::format_status(&st);
    assert!(text.contains("--array=1"), "{text}");
    // The plan of a partial run: the recorded split, and each share's complete shards.
    let (model, opts) = score_cmd::options(&args(&table, &out, d, &[])).expect("options");
    let p = viclip_data::score::plan(&opts, model.config(), candle_core::DType::F32, &[])
        .expect("plan");
    assert!(p.recorded);
    // The plan's identity is the one the run recorded, computed without the model.
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).expect("run.json"))
            .expect("parse");
    assert_eq!(p.identity, recorded);
    assert_eq!(p.recorded_diff, Some(Vec::new()));
    assert_eq!(
        (p.this_share, p.this_process.as_str()),
        (None, "the whole table")
    );
    let complete: Vec<(u64, u64)> = p
        .shares
        .iter()
        .map(|s| (s.num_shards, s.complete))
        .collect();
    assert_eq!(complete, [(3, 3), (2, 0), (2, 2)]);

    // Someone holds shard 1's lock: in flight; shard 4 is still missing, so task 1 still is too.
    let lock = lock_path(&out, 1);
    std::fs::create_dir_all(lock.parent().expect("dir")).expect("mkdir");
    let held = File::create(&lock).expect("lock file");
    flock(&held);
    let st = status(&out).expect("status");
    assert_eq!(st.shards[1], InFlight);
    assert_eq!((st.complete, st.in_flight, st.missing), (5, 1, 1));
    assert_eq!(st.missing_tasks, "1");
    let held4 = File::create(lock_path(&out, 4)).expect("lock file");
    flock(&held4);
    let st = status(&out).expect("status");
    assert_eq!((st.in_flight, st.missing), (2, 0));
    assert_eq!(
        st.missing_tasks, "",
        "nothing to resubmit while both are in flight"
    );
    drop((held, held4));
    let st = status(&out).expect("status");
    assert_eq!(st.missing, 2, "released locks are not in flight");

    // The missing task, resubmitted with its share only (the record gives the count): complete.
    score_cmd::run(&args(&table, &out, d, &["--shard-index", "1"])).expect("score");
    let st = status(&out).expect("status");
    assert_eq!((st.complete, st.in_flight, st.missing), (7, 0, 0));
    assert_eq!(st.rows_done, expected.len() as u64);
    let ok = expected.iter().filter(|s| **s == "ok").count() as u64;
    assert_eq!(st.rows_ok, ok);
    for kind in ["bad_row", "missing_video", "decode_error", "bad_span"] {
        let n = expected.iter().filter(|s| **s == kind).count() as u64;
        assert_eq!(st.failed.get(kind).copied().unwrap_or(0), n, "{kind}");
    }
    assert_eq!(st.missing_tasks, "");
    let p = viclip_data::score::plan(&opts, model.config(), candle_core::DType::F32, &[])
        .expect("plan");
    assert!(p.shares.iter().all(|s| s.complete == s.num_shards), "{p}");
    let json: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&st).expect("json")).expect("parse");
    assert_eq!(json["record"]["table_rows"], 13);
    assert_eq!(json["shards"][1], "complete");
    for (json, missing_tasks) in [(true, false), (false, true), (false, false)] {
        let a = status_cmd::StatusArgs {
            dir: out.clone(),
            json,
            missing_tasks,
        };
        status_cmd::run(&a).expect("viclip status");
    }
}

#[test]
fn plan_lists_each_shares_shards_without_a_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let table = d.join("internvid.jsonl");
    let n = write_internvid(&table).len() as u64;
    let out = d.join("out");
    // No video exists and no model is loaded: the row count is read and the files hashed.
    let a = args(
        &table,
        &out,
        d,
        &["--num-shards", "3", "--shard-index", "1"],
    );
    let opts = viclip_data::score::ScoreOptions {
        input: score_cmd::input(&a).expect("input"),
        out: out.clone(),
        shard_size: 2,
        shards: viclip_data::score::ShareRequest::from_env(Some(1), Some(3), |_| None)
            .expect("req"),
        clips: viclip::ClipOptions::new()
            .with_batch_size(2)
            .with_workers(1),
        embeddings: false,
        aesthetic: None,
        model_name: "m".into(),
        weights: Some(TINY_WEIGHTS.into()),
        cancel: None,
        write_report: false,
    };
    let cfg = viclip::ViClipConfig::from_name_or_path(TINY_CONFIG).expect("cfg");
    let p = viclip_data::score::plan(&opts, &cfg, candle_core::DType::F32, &[]).expect("plan");
    assert_eq!(
        p.identity["weights"]["sha256"],
        viclip::manifest::sha256_file(Path::new(TINY_WEIGHTS)).expect("sha256"),
        "the weights file is hashed as a run hashes it"
    );
    assert_eq!(p.identity["input"]["rows"], n);
    assert_eq!(p.recorded_diff, None, "no run.json yet");
    assert_eq!(p.record.table_rows, n);
    assert_eq!(p.record.table_shards, n.div_ceil(2));
    assert_eq!(p.this_share, Some(1));
    assert_eq!(p.this_process, "share 1 of 3");
    assert!(!p.recorded);
    let shards: Vec<(&str, u64, u64)> = p
        .shares
        .iter()
        .map(|s| (s.shards.as_str(), s.num_shards, s.rows))
        .collect();
    // 13 rows, shards of 2: shard 6 holds one row; share 0 has 0, 3, 6.
    assert_eq!(shards, [("0-6:3", 3, 5), ("1-4:3", 2, 4), ("2-5:3", 2, 4)]);
    let text = p.to_string();
    assert!(text.contains("\"shard_size\": 2"), "{text}");
    score_cmd::run_plan(&a).expect("the CLI plan loads no weights");
    assert!(!out.exists(), "--plan creates nothing");
}
