//! Which share a process takes, from flags and scheduler variables given as an injected
//! environment, under the run record `OUT/table.json` that the first process writes: contiguous and
//! strided arrays, resubmissions alone or sparse (`--array=1,3`), Kubernetes Indexed Jobs, srun
//! steps, and the errors that name what to fix.

use std::path::Path;

use viclip_data::score::{
    read_record, Scheduler, ShardSelection, ShareRequest, SPLIT_FILE, TABLE_FILE,
};

type Vars = Vec<(&'static str, String)>;

fn req(index: Option<u64>, count: Option<u64>, vars: &Vars) -> viclip_data::Result<ShareRequest> {
    ShareRequest::from_env(index, count, |k| {
        vars.iter().find(|v| v.0 == k).map(|v| v.1.clone())
    })
}

/// The variables Slurm sets in a task of `sbatch --array=SPEC` (min, max, step, count as measured
/// on slurm-wlm 22.05: `--array=1,3` gives MIN=1 MAX=3 STEP=1 COUNT=2).
fn array(job: u64, id: u64, min: u64, max: u64, step: u64, count: u64) -> Vars {
    vec![
        ("SLURM_ARRAY_JOB_ID", job.to_string()),
        ("SLURM_ARRAY_TASK_ID", id.to_string()),
        ("SLURM_ARRAY_TASK_MIN", min.to_string()),
        ("SLURM_ARRAY_TASK_MAX", max.to_string()),
        ("SLURM_ARRAY_TASK_STEP", step.to_string()),
        ("SLURM_ARRAY_TASK_COUNT", count.to_string()),
        ("SLURM_PROCID", "0".into()),
    ]
}

fn share(out: &Path, r: &ShareRequest, rows: u64) -> viclip_data::Result<ShardSelection> {
    r.assign(out, rows, 10, "table.jsonl").map(|a| a.selection)
}

fn sel(index: u64, count: u64) -> ShardSelection {
    ShardSelection { index, count }
}

#[test]
fn a_sparse_resubmission_takes_the_original_tasks_shares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    // First submission --array=0-3: task 2 starts first and records 4 shares.
    let first = req(None, None, &array(7, 2, 0, 3, 1, 4)).expect("env");
    let a = first.assign(out, 200, 10, "table.jsonl").expect("assign");
    assert_eq!(a.selection, sel(2, 4));
    assert!(a.wrote_table && a.wrote_split);
    let rec = read_record(out).expect("read").expect("record");
    assert_eq!((rec.shares, rec.first_task, rec.task_step), (4, 0, 1));
    assert_eq!(
        (rec.table_rows, rec.shard_size, rec.table_shards),
        (200, 10, 20)
    );
    // Resubmitted as --array=1,3: MIN=1, COUNT=2, yet each task keeps its own share of 4.
    for t in [1, 3] {
        let r = req(None, None, &array(9, t, 1, 3, 1, 2)).expect("env");
        assert_eq!(share(out, &r, 200).expect("share"), sel(t, 4), "task {t}");
    }
    // Resubmitted alone: --array=2 is share 2 of 4, not "index 0 of 1".
    let r = req(None, None, &array(10, 2, 2, 2, 1, 1)).expect("env");
    let a = r.assign(out, 200, 10, "table.jsonl").expect("assign");
    assert_eq!(a.selection, sel(2, 4));
    assert!(!a.wrote_table && !a.wrote_split);
    // A task id outside the run's array is refused, naming the record.
    let r = req(None, None, &array(11, 4, 4, 4, 1, 1)).expect("env");
    let e = share(out, &r, 200).expect_err("outside").to_string();
    assert!(e.contains("4 shares") && e.contains(SPLIT_FILE), "{e}");
    // Another table size or --num-shards than recorded is refused.
    let e = share(out, &first, 201).expect_err("rows").to_string();
    assert!(e.contains("200 rows"), "{e}");
    let r = req(None, Some(8), &array(12, 1, 1, 1, 1, 1)).expect("env");
    let e = share(out, &r, 200).expect_err("count").to_string();
    assert!(
        e.contains("the number of shares asked for is 8") && e.contains("4 shares"),
        "{e}"
    );
    // A lone process (no split) takes the whole table whatever the record says.
    let r = req(None, None, &vec![]).expect("env");
    assert_eq!(share(out, &r, 200).expect("whole"), sel(0, 1));
}

#[test]
fn a_strided_array_maps_task_ids_through_min_and_step() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    // --array=0-6:2 gives tasks 0, 2, 4, 6 with STEP=2, COUNT=4.
    let r = req(None, None, &array(3, 4, 0, 6, 2, 4)).expect("env");
    assert_eq!(share(out, &r, 100).expect("share"), sel(2, 4));
    // --array=6 resubmitted alone.
    let r = req(None, None, &array(5, 6, 6, 6, 1, 1)).expect("env");
    assert_eq!(share(out, &r, 100).expect("share"), sel(3, 4));
    // Task 3 was never in the array.
    let r = req(None, None, &array(5, 3, 3, 3, 1, 1)).expect("env");
    let e = share(out, &r, 100).expect_err("odd id").to_string();
    assert!(e.contains("0-6:2"), "{e}");
    // --array=1-4 (first task 1): task 4 is share 3.
    let dir = tempfile::tempdir().expect("tempdir");
    let r = req(None, None, &array(3, 4, 1, 4, 1, 4)).expect("env");
    assert_eq!(share(dir.path(), &r, 100).expect("share"), sel(3, 4));
}

#[test]
fn a_first_array_that_is_not_a_range_needs_num_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    let r = req(None, None, &array(3, 3, 1, 3, 1, 2)).expect("env");
    let e = share(out, &r, 100).expect_err("sparse first").to_string();
    assert!(
        e.contains("give the number of shares") && e.contains("not a range"),
        "{e}"
    );
    assert!(
        !out.join(TABLE_FILE).exists() && !out.join(SPLIT_FILE).exists(),
        "nothing recorded on error"
    );
    // With --num-shards, task ids are the shares.
    let r = req(None, Some(4), &array(3, 3, 1, 3, 1, 2)).expect("env");
    assert_eq!(share(out, &r, 100).expect("share"), sel(3, 4));
    let r = req(None, None, &array(4, 0, 0, 0, 1, 1)).expect("env");
    assert_eq!(share(out, &r, 100).expect("share"), sel(0, 4));
}

#[test]
fn kubernetes_srun_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let k8s = |i: &str| vec![("JOB_COMPLETION_INDEX", i.to_string())];
    let e = share(dir.path(), &req(None, None, &k8s("2")).expect("env"), 50)
        .expect_err("no count")
        .to_string();
    assert!(e.contains("without a number of shares"), "{e}");
    let r = req(None, Some(5), &k8s("2")).expect("env");
    assert_eq!(r.scheduler, Scheduler::Kubernetes { index: 2 });
    assert_eq!(share(dir.path(), &r, 50).expect("share"), sel(2, 5));
    // Once recorded, a pod restarted without the flag still knows the count.
    let r = req(None, None, &k8s("4")).expect("env");
    assert_eq!(share(dir.path(), &r, 50).expect("share"), sel(4, 5));

    // srun tasks: SLURM_PROCID of SLURM_STEP_NUM_TASKS, only inside a step.
    let srun = |procid: &str| {
        vec![
            ("SLURM_JOB_ID", "9".to_string()),
            ("SLURM_STEP_ID", "0".into()),
            ("SLURM_PROCID", procid.into()),
            ("SLURM_NTASKS", "4".into()),
            ("SLURM_STEP_NUM_TASKS", "4".into()),
        ]
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let r = req(None, None, &srun("3")).expect("env");
    assert_eq!(share(dir.path(), &r, 50).expect("share"), sel(3, 4));
    // The batch script itself (no step): one process, the whole table.
    let batch = vec![
        ("SLURM_PROCID", "0".to_string()),
        ("SLURM_NTASKS", "4".into()),
    ];
    let r = req(None, None, &batch).expect("env");
    assert_eq!(r.scheduler, Scheduler::None);
    // Several srun tasks inside one array task would all take the same share.
    let mut both = array(3, 1, 0, 3, 1, 4);
    both.extend(srun("1"));
    assert!(req(None, None, &both).is_err());

    // Flags win over every variable.
    let dir = tempfile::tempdir().expect("tempdir");
    let r = req(Some(1), Some(3), &array(3, 0, 0, 3, 1, 4)).expect("env");
    assert_eq!(share(dir.path(), &r, 50).expect("share"), sel(1, 3));
    let r = req(Some(2), None, &vec![]).expect("env");
    assert_eq!(share(dir.path(), &r, 50).expect("share"), sel(2, 3));
    let r = req(Some(3), None, &vec![]).expect("env");
    assert!(share(dir.path(), &r, 50).is_err(), "share 3 of 3");
    assert!(req(None, Some(0), &vec![]).is_err());
    let bad = vec![("SLURM_ARRAY_TASK_ID", "x".to_string())];
    assert!(req(None, None, &bad).is_err());
}

#[test]
fn concurrent_first_tasks_agree_on_one_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_path_buf();
    let created: Vec<(bool, bool, ShardSelection)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8u64)
            .map(|t| {
                let out = out.clone();
                s.spawn(move || {
                    let r = req(None, None, &array(1, t, 0, 7, 1, 8)).expect("env");
                    let a = r.assign(&out, 1000, 10, "t").expect("assign");
                    (a.wrote_table, a.wrote_split, a.selection)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(created.iter().filter(|c| c.0).count(), 1, "{created:?}");
    assert_eq!(created.iter().filter(|c| c.1).count(), 1, "{created:?}");
    for (t, c) in created.iter().enumerate() {
        assert_eq!(c.2, sel(t as u64, 8));
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [SPLIT_FILE, TABLE_FILE], "no temporary file left");
}

#[test]
fn a_lone_first_process_does_not_fix_the_split() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    // A first try on one machine: the whole table, the table recorded, no split.
    let lone = req(None, None, &vec![]).expect("env");
    let a = lone.assign(out, 200, 10, "t").expect("assign");
    assert_eq!(a.selection, sel(0, 1));
    assert!(a.wrote_table && !a.wrote_split);
    let rec = read_record(out).expect("read").expect("record");
    assert!(!rec.split_recorded);
    assert_eq!(rec.shares, 1);
    // Then the array: its first task records 4 shares, and every task takes its own.
    for t in [3, 0, 1] {
        let r = req(None, None, &array(5, t, 0, 3, 1, 4)).expect("env");
        assert_eq!(share(out, &r, 200).expect("share"), sel(t, 4));
    }
    let rec = read_record(out).expect("read").expect("record");
    assert!(rec.split_recorded);
    assert_eq!((rec.shares, rec.source.as_str()), (4, "slurm-array"));
    // A damaged record names itself.
    std::fs::write(out.join(SPLIT_FILE), "{\"shares\": 0}").expect("write");
    let e = read_record(out).expect_err("damaged").to_string();
    assert!(e.contains(SPLIT_FILE), "{e}");
}

#[test]
fn the_log_line_says_who_which_share_and_which_shards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut vars = array(77, 3, 0, 3, 1, 4);
    vars.push(("SLURM_RESTART_COUNT", "1".into()));
    let r = req(None, None, &vars).expect("env");
    let a = r.assign(dir.path(), 200, 10, "t").expect("assign");
    let line = a.log_line(&[7, 11, 15, 19], 1);
    for part in [
        "Slurm array job 77 task 3",
        "SLURM_RESTART_COUNT=1",
        "share 3 of 4",
        "shards 3-19:4 of 20",
        "1 complete, 4 to score [7,11,15,19]",
    ] {
        assert!(line.contains(part), "{part:?} not in {line:?}");
    }
    assert_eq!(sel(0, 1).describe(3), "0-2");
    assert_eq!(sel(2, 4).describe(3), "2");
    assert_eq!(sel(3, 4).describe(3), "none");
}

#[test]
fn shard_selection_resolve_keeps_its_meaning_without_a_record() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| vars.iter().find(|v| v.0 == k).map(|v| v.1.to_string())
    };
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
    assert_eq!(r, sel(4, 8));
    assert_eq!(
        ShardSelection::resolve_with(None, None, env(&[])).expect("whole"),
        sel(0, 1)
    );
}

#[test]
fn share_counts_beyond_the_shards_are_refused_before_anything_is_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    // 40 rows in shards of 10: 4 shards.
    let huge = [
        (
            Some(0),
            Some(u64::MAX),
            vec![("SLURM_PROCID", "0".to_string())],
        ),
        (None, None, array(9, 0, 0, 4294967295, 1, 4294967296)),
        (
            None,
            None,
            vec![
                ("SLURM_STEP_ID", "0".to_string()),
                ("SLURM_PROCID", "0".to_string()),
                ("SLURM_STEP_NUM_TASKS", "999999999999".to_string()),
            ],
        ),
        (Some(0), Some(5), vec![]),
    ];
    for (index, count, vars) in huge {
        let r = req(index, count, &vars).expect("env");
        let e = share(out, &r, 40)
            .expect_err("more shares than shards")
            .to_string();
        assert!(e.contains("at most one share per shard"), "{e}");
        assert!(
            std::fs::read_dir(out).expect("dir").next().is_none(),
            "nothing recorded"
        );
    }
    let r = req(Some(3), Some(4), &vec![]).expect("env");
    assert_eq!(share(out, &r, 40).expect("4 shares of 4 shards"), sel(3, 4));
}

#[test]
fn status_reads_a_record_of_an_unbounded_share_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    let r = req(Some(0), Some(2), &vec![]).expect("env");
    share(out, &r, 40).expect("assign");
    // What a version without the bound recorded for `--num-shards 18446744073709551615`.
    let split = std::fs::read_to_string(out.join(SPLIT_FILE)).expect("split");
    let mut v: serde_json::Value = serde_json::from_str(&split).expect("json");
    v["shares"] = serde_json::json!(u64::MAX);
    std::fs::write(out.join(SPLIT_FILE), v.to_string()).expect("write");
    let st = viclip_data::score::status::status(out).expect("status works");
    assert_eq!(st.missing, 4);
    assert_eq!(st.per_share.len(), 4, "only shares that own a shard");
}

#[test]
fn a_share_count_without_a_share_index_blames_no_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path();
    let r = req(None, Some(4), &vec![]).expect("env");
    let e = share(out, &r, 40).expect_err("no index").to_string();
    assert!(e.contains("without a share index"), "{e}");
    assert!(
        !e.contains(SPLIT_FILE),
        "names no file that does not exist: {e}"
    );
    assert!(std::fs::read_dir(out).expect("dir").next().is_none());
}
