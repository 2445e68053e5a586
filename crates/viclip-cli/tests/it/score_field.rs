//! What a dataset run meets on its first day, through the real binary: an output directory that
//! never reaches beyond itself (a symlinked or foreign `.tmp`, system directories, other tables
//! beside the shards), a panic that ends the process instead of hanging it, and defaults that do
//! what the table says (start/end columns found, relative paths resolved against the table's
//! directory, a run that finds none of its videos stopped, subsets of a generic table).

use crate::score_common;

use std::path::{Path, PathBuf};
use std::process::Output;

use score_common::bin::*;
use score_common::{read_shards, strings, videos, write_csv};

struct Setup {
    _dir: tempfile::TempDir,
    d: PathBuf,
    table: PathBuf,
}

/// The test videos and the generic csv table (`path,caption,start,end,extra`) beside them.
fn setup() -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_path_buf();
    videos(&d);
    let table = d.join("clips.csv");
    write_csv(&table);
    Setup {
        _dir: dir,
        d,
        table,
    }
}

/// `viclip ARGS` run in `cwd`.
fn run_in(cwd: &Path, args: &[String]) -> Output {
    viclip()
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run viclip")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_symlinked_tmp_is_refused_and_what_it_points_to_is_untouched() {
    let s = setup();
    let elsewhere = s.d.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    std::fs::write(elsewhere.join("precious.txt"), b"keep me").expect("write");
    let out = s.d.join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    std::os::unix::fs::symlink(&elsewhere, out.join(".tmp")).expect("symlink");
    let err = run_err(&score_args(&s.table, &out, Some(&s.d), 2, &[]));
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!err.contains("::"), "no Rust paths: {err}");
    assert_eq!(
        std::fs::read(elsewhere.join("precious.txt")).expect("still there"),
        b"keep me"
    );
    assert_eq!(stats_count(&out), 0);
}

#[test]
fn out_dot_in_a_project_with_its_own_tmp_deletes_nothing() {
    let s = setup();
    let project = s.d.join("project");
    std::fs::create_dir_all(project.join(".tmp/cache")).expect("mkdir");
    std::fs::write(project.join(".tmp/notes.txt"), b"mine").expect("write");
    let o = run_in(
        &project,
        &score_args(&s.table, Path::new("."), Some(&s.d), 2, &[]),
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("notes.txt") && err.contains("cache"),
        "names them: {err}"
    );
    assert!(project.join(".tmp/notes.txt").is_file());
    assert!(project.join(".tmp/cache").is_dir());
}

#[test]
fn the_root_and_system_directories_are_refused_as_output() {
    let s = setup();
    for out in ["/", "/usr", "/etc"] {
        let before: Vec<_> = std::fs::read_dir(out)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        let err = run_err(&score_args(&s.table, Path::new(out), Some(&s.d), 2, &[]));
        assert!(
            err.contains("--out") && (err.contains("root") || err.contains("system directory")),
            "{out}: {err}"
        );
        let after: Vec<_> = std::fs::read_dir(out)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(before.len(), after.len(), "{out}: nothing written");
    }
}

#[test]
fn report_and_subset_read_only_the_runs_own_shards() {
    let s = setup();
    let out = s.d.join("out");
    run_ok(&score_args(&s.table, &out, Some(&s.d), 2, &[]));
    // A copy of a shard and a subset saved into the run's directory are not rows of the run.
    std::fs::copy(out.join("00000.parquet"), out.join("00000 (copy).parquet")).expect("copy");
    let sub = out.join("random.parquet");
    let o = run_in(
        &s.d,
        &strs(&[
            "subset",
            "random",
            "--input",
            out.to_str().expect("utf-8"),
            "--out",
            sub.to_str().expect("utf-8"),
            "--n",
            "100",
        ]),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("(copy).parquet") && err.contains("left out"),
        "{err}"
    );
    let o = run_in(&s.d, &strs(&["report", out.to_str().expect("utf-8")]));
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["rows"], 8, "the run's 8 rows, not 8 + copies");
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(s.d.join("out/random.parquet.summary.json")).expect("summary"),
    )
    .expect("json");
    assert_eq!(summary["rows_in"], 8);
}

#[test]
fn an_out_that_also_holds_the_input_table_finishes_with_its_report() {
    let s = setup();
    let out = s.d.join("run");
    std::fs::create_dir_all(&out).expect("mkdir");
    let table = out.join("clips.csv");
    write_csv(&table);
    run_ok(&score_args(&table, &out, Some(&s.d), 2, &[]));
    assert!(out.join("report.json").is_file(), "the report is written");
}

#[test]
fn a_panic_in_a_thread_ends_the_process_and_releases_its_shard_lock() {
    let s = setup();
    let out = s.d.join("out");
    let o = viclip()
        .args(score_args(&s.table, &out, Some(&s.d), 4, &[]))
        .env("VICLIP_TEST_PANIC_IN_WRITER", "1")
        .output()
        .expect("run");
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(101), "{err}");
    assert!(err.contains("internal error"), "{err}");
    let o = viclip()
        .args(["status", out.to_str().expect("utf-8")])
        .output()
        .expect("status");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("0 in flight"), "{text}");
    run_ok(&score_args(&s.table, &out, Some(&s.d), 4, &[]));
    assert_eq!(stats_count(&out), 2);
}

#[test]
fn start_and_end_columns_are_found_and_recorded_without_flags() {
    let s = setup();
    let out = s.d.join("out");
    let err = run_ok(&score_args(&s.table, &out, Some(&s.d), 8, &[]));
    assert!(
        err.contains("columns `start` and `end`"),
        "says which columns: {err}"
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).expect("run.json"))
            .expect("json");
    let cols = &run["input"]["format"]["table"];
    assert_eq!(
        (cols["start"].as_str(), cols["end"].as_str()),
        (Some("start"), Some("end"))
    );
    // The reversed span (2 to 1) is a bad span, as with --start-col/--end-col, not a whole file.
    let statuses = strings(&read_shards(&out), "status");
    assert_eq!(statuses[7].as_deref(), Some("bad_span"), "{statuses:?}");
}

#[test]
fn relative_paths_resolve_against_the_tables_directory_from_anywhere() {
    let s = setup();
    let out = s.d.join("out");
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let o = run_in(elsewhere.path(), &score_args(&s.table, &out, None, 8, &[]));
    assert!(o.status.success(), "{}", stderr(&o));
    let statuses = strings(&read_shards(&out), "status");
    assert_eq!(statuses[0].as_deref(), Some("ok"), "{statuses:?}");
    assert_eq!(
        statuses[3].as_deref(),
        Some("missing_video"),
        "{statuses:?}"
    );
    let errors = strings(&read_shards(&out), "error");
    let missing = errors[3].as_deref().unwrap_or_default();
    assert!(
        missing.contains("video root") && !missing.contains("::"),
        "a stored error in the user's words: {missing}"
    );
}

#[test]
fn a_run_that_finds_none_of_its_first_videos_stops_and_names_the_video_root() {
    let s = setup();
    let sub = s.d.join("tables");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let table = sub.join("clips.csv");
    write_csv(&table);
    let out = s.d.join("out");
    let err = run_err(&score_args(&table, &out, None, 2, &[]));
    assert!(
        err.contains("--video-root") && err.contains("none of the 2 videos"),
        "{err}"
    );
    assert!(!err.contains("::"), "no Rust paths: {err}");
    assert_eq!(stats_count(&out), 0, "nothing scored");
    // With the root the same directory scores.
    run_ok(&score_args(&table, &s.d.join("out2"), Some(&s.d), 2, &[]));
}

#[test]
fn subsets_work_on_a_scored_generic_table_and_jsonl_output_holds_lists() {
    let s = setup();
    let out = s.d.join("out");
    run_ok(&score_args(&s.table, &out, Some(&s.d), 8, &[]));
    let input = out.to_str().expect("utf-8").to_string();
    for (method, file, extra) in [
        ("div", "div.parquet", vec!["--n", "2"]),
        (
            "flt",
            "flt.jsonl",
            vec!["--n", "2", "--min-duration", "0.5"],
        ),
        ("random", "random.csv", vec!["--n", "3"]),
    ] {
        let dest = s.d.join(file);
        let mut args = strs(&["subset", method, "--input", &input, "--out"]);
        args.push(dest.display().to_string());
        args.extend(strs(&extra));
        let o = run_in(&s.d, &args);
        let err = stderr(&o);
        assert!(o.status.success(), "subset {method}: {err}");
        assert!(!err.contains(".tmp"), "{err}");
        assert!(dest.is_file(), "{method}");
    }
    let text = std::fs::read_to_string(s.d.join("flt.jsonl")).expect("read");
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(v["frames_used"].is_array(), "{line}");
    }
    let csv = std::fs::read_to_string(s.d.join("random.csv")).expect("read");
    assert!(csv.contains("\"[0,"), "list cells as JSON text: {csv}");
}

#[test]
fn a_plan_speaks_in_flags_and_a_refused_plan_exits_non_zero() {
    let s = setup();
    let out = s.d.join("out");
    // 8 rows in shards of 2: 4 shards; share 5 of 4 does not exist.
    let o = viclip()
        .args(score_args(
            &s.table,
            &out,
            Some(&s.d),
            2,
            &["--plan", "--shard-index", "5", "--num-shards", "4"],
        ))
        .output()
        .expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "a refusal exits non-zero: {text}");
    assert!(
        text.contains("refused") && text.contains("--shard-index"),
        "{text}"
    );
    assert!(!text.contains("::"), "no Rust paths: {text}");
    // More shares than shards: refused before anything is planned or recorded.
    let o = viclip()
        .args(score_args(
            &s.table,
            &out,
            Some(&s.d),
            2,
            &[
                "--plan",
                "--shard-index",
                "0",
                "--num-shards",
                "18446744073709551615",
            ],
        ))
        .output()
        .expect("run");
    let err = stderr(&o);
    assert!(
        !o.status.success() && err.contains("at most one share per shard"),
        "{err}"
    );
    assert!(!out.join("table.json").exists());
}

#[test]
fn two_differently_configured_commands_on_one_out_never_brick_it() {
    let s = setup();
    let out = s.d.join("out");
    // Started together on a fresh directory: whichever decides first owns the run; the other is
    // refused, now or (when the first already finished a shard) on its own check.
    let a = Guard::spawn(&score_args(&s.table, &out, Some(&s.d), 1, &[]));
    let b = Guard::spawn(&score_args(
        &s.table,
        &out,
        Some(&s.d),
        1,
        &["--sampling", "demo"],
    ));
    let (oa, ob) = (
        a.wait(std::time::Duration::from_secs(600)),
        b.wait(std::time::Duration::from_secs(600)),
    );
    let ok: Vec<bool> = [&oa, &ob].iter().map(|o| o.status.success()).collect();
    assert_eq!(
        ok.iter().filter(|x| **x).count(),
        1,
        "exactly one command owns the run: {}\n---\n{}",
        stderr(&oa),
        stderr(&ob)
    );
    // The directory is one complete run that its owner's command accepts again.
    let winner = if ok[0] {
        &[][..]
    } else {
        &["--sampling", "demo"][..]
    };
    let again = run_ok(&score_args(&s.table, &out, Some(&s.d), 1, winner));
    assert!(
        scored_shards(&again).is_empty(),
        "nothing left to score: {again}"
    );
    let o = viclip()
        .args(["report", out.to_str().expect("utf-8")])
        .output()
        .expect("report");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_span_past_the_end_of_its_video_carries_a_warning() {
    let s = setup();
    let table = s.d.join("long.csv");
    std::fs::write(
        &table,
        "path,caption,start,end\nvidA.mp4,all of it,0,36000\nvidA.mp4,inside,0,1.5\nvidA.mp4,to the end,1,3\n",
    )
    .expect("write");
    let out = s.d.join("out");
    run_ok(&score_args(&table, &out, None, 8, &[]));
    let b = read_shards(&out);
    let statuses = strings(&b, "status");
    let warnings = strings(&b, "warning");
    assert!(
        statuses.iter().all(|s| s.as_deref() == Some("ok")),
        "{statuses:?}"
    );
    let w = warnings[0].as_deref().unwrap_or_default();
    assert!(
        w.contains("36000.000 s") && w.contains("after the video's last frame"),
        "{warnings:?}"
    );
    // A span inside the video, and one ending where the 3 s video ends, carry none.
    assert_eq!(warnings[1], None, "{warnings:?}");
    assert_eq!(warnings[2], None, "{warnings:?}");
}
