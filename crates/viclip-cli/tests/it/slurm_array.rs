//! `viclip score` as a job array on a real single-node Slurm, through the job script the docs give
//! (`scripts/slurm/score.sbatch`): a plain `--array=0-3`; one task cancelled mid-run and resubmitted
//! alone; `scontrol requeue` of a running task; two failed tasks resubmitted as `--array=1,3`. Each
//! ends with every row scored once and the output equal, byte for byte, to one process's.
//!
//! "Mid-run" is made deterministic by a wrapper around the binary: for a chosen task it waits until
//! the task's first shard is complete, stops the process (SIGSTOP) and leaves a marker; the test
//! acts on the marker. Needs root and slurm-wlm + munge (scripts/setup-debian.sh); without them the
//! test says so on stderr (past the harness's capture) and is skipped, or fails when
//! `VICLIP_REQUIRE_SLURM` is set.

use crate::score_common;
use crate::slurm_common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use score_common::{read_shards, video};
use slurm_common::{Cluster, Skip};

const ROWS: usize = 240;
const SHARD: u64 = 12;
const TASKS: u64 = 4;
const LIMIT: Duration = Duration::from_secs(120);

const WRAPPER: &str = r#"#!/bin/bash
# Test hooks around viclip: a task with a fail-ID marker exits 3 at once; a task with a stop-ID marker
# (holding a file name) runs, is stopped once that file exists, and renames the marker to stopped-ID
# (so a resubmitted task runs through). Stopping happens only on a task's first attempt.
t=${SLURM_ARRAY_TASK_ID:-x}
ctl=$VICLIP_TEST_CTL
if [ -e "$ctl/fail-$t" ]; then echo "test: task $t fails by request" >&2; exit 3; fi
if [ -e "$ctl/stop-$t" ] && [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then
  "$VICLIP_TEST_REAL" "$@" & pid=$!
  first=$(cat "$ctl/stop-$t")
  while [ ! -e "$first" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
  kill -STOP "$pid"
  echo "test: task $t stopped once $first existed" >&2
  mv "$ctl/stop-$t" "$ctl/stopped-$t"
  wait "$pid"
  exit $?
fi
exec "$VICLIP_TEST_REAL" "$@"
"#;

struct Fixture {
    dir: PathBuf,
    table: PathBuf,
    reference: PathBuf,
    wrapper: PathBuf,
}

fn repo(p: &str) -> String {
    format!("{}/{p}", concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn model_args() -> String {
    format!(
        "--weights {} --config {} --device cpu --dtype f32 --batch-size 4",
        repo("tests/fixtures/tiny_a/model.safetensors"),
        repo("tests/fixtures/tiny_a/config.json")
    )
}

const SCORE_ARGS: &str = "--shard-size 12 --embeddings --log-every 1000";

/// An InternVid-style table of `ROWS` rows over four generated videos, and one process's output.
fn fixture(dir: &Path) -> Fixture {
    let names = ["testsrc2", "smptebars", "testsrc", "rgbtestsrc"];
    for (i, pattern) in names.iter().enumerate() {
        video(dir, &format!("v{i}.mp4"), pattern);
    }
    let mut text = String::new();
    for r in 0..ROWS {
        let start = (r * 7 % 20) as f64 / 10.0;
        let end = start + 0.8 + (r % 5) as f64 / 10.0;
        text.push_str(&format!(
            "{{\"YoutubeID\": \"v{}\", \"Start_timestamp\": \"00:00:0{start:.3}\", \
             \"End_timestamp\": \"00:00:0{end:.3}\", \"Caption\": \"clip {r} of pattern {}\"}}\n",
            r % 4,
            names[r % 4]
        ));
    }
    let table = dir.join("table.jsonl");
    std::fs::write(&table, text).expect("table");
    let wrapper = dir.join("viclip-test-wrapper.sh");
    std::fs::write(&wrapper, WRAPPER).expect("wrapper");
    Command::new("chmod")
        .arg("+x")
        .arg(&wrapper)
        .status()
        .expect("chmod");
    let reference = dir.join("reference");
    let mut c = Command::new(env!("CARGO_BIN_EXE_viclip"));
    c.args(["score", "--input"]).arg(&table);
    c.arg("--video-root").arg(dir).arg("--out").arg(&reference);
    c.args(model_args().split(' ')).args(SCORE_ARGS.split(' '));
    c.args(["--workers", "1"]);
    let o = c.output().expect("viclip");
    assert!(
        o.status.success(),
        "reference run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Fixture {
        dir: dir.to_path_buf(),
        table,
        reference,
        wrapper,
    }
}

/// One scenario's output directory, control directory (markers) and log directory.
struct Scenario<'a> {
    c: &'a Cluster,
    f: &'a Fixture,
    out: PathBuf,
    ctl: PathBuf,
    logs: PathBuf,
}

impl<'a> Scenario<'a> {
    fn new(c: &'a Cluster, f: &'a Fixture, name: &str) -> Self {
        let s = Scenario {
            c,
            f,
            out: f.dir.join(name).join("out"),
            ctl: f.dir.join(name).join("ctl"),
            logs: f.dir.join(name).join("logs"),
        };
        for d in [&s.ctl, &s.logs] {
            std::fs::create_dir_all(d).expect("mkdir"); // Slurm does not create --output dirs
        }
        s
    }

    /// `sbatch --array=SPEC scripts/slurm/score.sbatch` with this scenario's settings.
    fn submit(&self, spec: &str) -> u64 {
        let array = format!("--array={spec}");
        let output = format!("--output={}/%A_%a.out", self.logs.display());
        let script = repo("scripts/slurm/score.sbatch");
        let env = vec![
            ("VICLIP", self.f.wrapper.display().to_string()),
            ("VICLIP_TEST_REAL", env!("CARGO_BIN_EXE_viclip").to_string()),
            ("VICLIP_TEST_CTL", self.ctl.display().to_string()),
            ("VICLIP_INPUT", self.f.table.display().to_string()),
            ("VICLIP_VIDEO_ROOT", self.f.dir.display().to_string()),
            ("VICLIP_OUT", self.out.display().to_string()),
            ("VICLIP_MODEL_ARGS", model_args()),
            ("VICLIP_SCORE_ARGS", SCORE_ARGS.to_string()),
        ];
        let args = [
            array.as_str(),
            output.as_str(),
            "--gres=none",
            "--cpus-per-task=1",
            "--time=10",
            script.as_str(),
        ];
        self.c.sbatch(&args, &env)
    }

    fn log(&self, job: u64, task: u64) -> String {
        std::fs::read_to_string(self.logs.join(format!("{job}_{task}.out"))).unwrap_or_default()
    }

    /// Stops task `t` of the next array once its first shard (shard `t`) is complete.
    fn stop_after_first_shard(&self, t: u64) {
        let first = self.out.join(format!("{t:05}_stats.json"));
        std::fs::write(
            self.ctl.join(format!("stop-{t}")),
            first.display().to_string(),
        )
        .expect("marker");
    }

    fn wait_stopped(&self, t: u64) {
        let m = self.ctl.join(format!("stopped-{t}"));
        self.c.wait_for(&format!("task {t} to stop"), || m.exists());
    }

    /// `viclip status OUT --missing-tasks`.
    fn missing_tasks(&self) -> String {
        let o = Command::new(env!("CARGO_BIN_EXE_viclip"))
            .args(["status", "--missing-tasks"])
            .arg(&self.out)
            .output()
            .expect("viclip status");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Rows in = rows out, and every output file equals the single process's byte for byte.
    fn check_output(&self) {
        let rows: usize = read_shards(&self.out).iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, ROWS, "rows in = rows out");
        let files = |root: &Path| -> Vec<PathBuf> {
            let mut v = Vec::new();
            for sub in ["", "video_emb", "text_emb", "metadata"] {
                for e in std::fs::read_dir(root.join(sub)).expect("dir") {
                    let p = e.expect("entry").path();
                    if p.extension().is_some_and(|x| x == "parquet" || x == "npy") {
                        v.push(p.strip_prefix(root).expect("prefix").to_path_buf());
                    }
                }
            }
            v.sort();
            v
        };
        let (mine, theirs) = (files(&self.out), files(&self.f.reference));
        assert_eq!(mine, theirs, "the same files");
        assert_eq!(mine.len() as u64, 4 * (ROWS as u64).div_ceil(SHARD));
        for p in &mine {
            let a = std::fs::read(self.out.join(p)).expect("read");
            let b = std::fs::read(self.f.reference.join(p)).expect("read");
            assert!(
                a == b,
                "{} differs from the single-process run",
                p.display()
            );
        }
        assert_eq!(self.missing_tasks(), "");
    }
}

fn states(m: &std::collections::BTreeMap<u64, (String, String)>) -> Vec<&str> {
    m.values().map(|v| v.0.as_str()).collect()
}

fn plain_array(c: &Cluster, f: &Fixture) {
    let s = Scenario::new(c, f, "plain");
    let job = s.submit("0-3");
    let done = c.wait_done(job, &[0, 1, 2, 3], LIMIT);
    assert_eq!(states(&done), ["COMPLETED"; 4], "{done:?}");
    for t in 0..TASKS {
        let log = s.log(job, t);
        let want = format!("task id {t} = share {t} of 4");
        assert!(log.contains(&want), "task {t}: {want:?} not in\n{log}");
    }
    s.check_output();
}

fn cancel_and_resubmit(c: &Cluster, f: &Fixture) {
    let s = Scenario::new(c, f, "cancel");
    s.stop_after_first_shard(2);
    let job = s.submit("0-3");
    s.wait_stopped(2);
    c.run("scancel", &[&format!("{job}_2")]);
    let done = c.wait_done(job, &[0, 1, 2, 3], LIMIT);
    assert_eq!(
        states(&done),
        ["COMPLETED", "COMPLETED", "CANCELLED", "COMPLETED"]
    );
    assert!(s.out.join("00002_stats.json").exists() && !s.out.join("00018_stats.json").exists());
    assert_eq!(
        s.missing_tasks(),
        "2",
        "only the cancelled task has missing shards"
    );
    let again = s.submit(&s.missing_tasks());
    let done = c.wait_done(again, &[2], LIMIT);
    assert_eq!(states(&done), ["COMPLETED"]);
    let log = s.log(again, 2);
    assert!(
        log.contains("share 2 of 4") && log.contains("1 complete, 4 to score"),
        "{log}"
    );
    s.check_output();
}

fn requeue_running_task(c: &Cluster, f: &Fixture) {
    let s = Scenario::new(c, f, "requeue");
    s.stop_after_first_shard(1);
    let job = s.submit("0-3");
    s.wait_stopped(1);
    let task = format!("{job}_1");
    c.run("scontrol", &["requeue", &task]);
    // A requeued task waits ~2 minutes before it may start again; release it now.
    c.wait_for("the requeued task to be pending", || {
        c.state(&task) == "PENDING"
    });
    c.run(
        "scontrol",
        &["update", &format!("JobId={task}"), "StartTime=now"],
    );
    let done = c.wait_done(job, &[0, 1, 2, 3], LIMIT);
    let log = s.log(job, 1);
    assert_eq!(
        states(&done),
        ["COMPLETED"; 4],
        "{done:?}\ntask 1's log:\n{log}"
    );
    assert!(
        log.contains("restart 1") && log.contains("SLURM_RESTART_COUNT=1"),
        "{log}"
    );
    assert!(
        log.contains("share 1 of 4") && log.contains("1 complete, 4 to score"),
        "{log}"
    );
    s.check_output();
}

fn failed_tasks_resubmitted_sparse(c: &Cluster, f: &Fixture) {
    let s = Scenario::new(c, f, "sparse");
    for t in [1, 3] {
        std::fs::write(s.ctl.join(format!("fail-{t}")), b"").expect("marker");
    }
    let job = s.submit("0-3");
    let done = c.wait_done(job, &[0, 1, 2, 3], LIMIT);
    assert_eq!(
        states(&done),
        ["COMPLETED", "FAILED", "COMPLETED", "FAILED"]
    );
    assert_eq!(s.missing_tasks(), "1,3");
    for t in [1, 3] {
        std::fs::remove_file(s.ctl.join(format!("fail-{t}"))).expect("rm");
    }
    // SLURM_ARRAY_TASK_MIN=1 and COUNT=2 here: the recorded split still makes 3 share 3 of 4.
    let again = s.submit(&s.missing_tasks());
    let done = c.wait_done(again, &[1, 3], LIMIT);
    assert_eq!(states(&done), ["COMPLETED", "COMPLETED"], "{done:?}");
    for t in [1, 3] {
        let log = s.log(again, t);
        let want = format!("share {t} of 4");
        assert!(
            log.contains(&want) && log.contains("0 complete, 5 to score"),
            "{log}"
        );
    }
    s.check_output();
}

#[test]
fn job_arrays_on_a_real_slurm() {
    let t0 = Instant::now();
    // Sixteen CPUs declared (config_overrides) so that each array's tasks run at once.
    let cluster = match Cluster::start(16) {
        Ok(c) => c,
        Err(Skip(why)) => {
            let msg = format!("job_arrays_on_a_real_slurm cannot start Slurm: {why}");
            if std::env::var_os("VICLIP_REQUIRE_SLURM").is_some() {
                panic!("{msg} (VICLIP_REQUIRE_SLURM is set)");
            }
            // Written to the process's stderr directly: eprintln! output of a passing test is
            // captured by the test harness, and a skip must not pass silently.
            let _ = writeln!(std::io::stderr(), "\n!!! SKIPPED {msg} !!!\n");
            return;
        }
    };
    eprintln!("slurm up in {:.1} s", t0.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Instant::now();
    let f = fixture(dir.path());
    eprintln!(
        "fixture and single-process reference: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    type Case = fn(&Cluster, &Fixture);
    let cases: [(&str, Case); 4] = [
        ("plain --array=0-3", plain_array),
        (
            "scancel one task mid-run, resubmit --array=2",
            cancel_and_resubmit,
        ),
        ("scontrol requeue a running task", requeue_running_task),
        (
            "two tasks fail, resubmit --array=1,3",
            failed_tasks_resubmitted_sparse,
        ),
    ];
    for (name, case) in cases {
        let t = Instant::now();
        case(&cluster, &f);
        eprintln!("scenario {name}: {:.1} s", t.elapsed().as_secs_f64());
    }
    eprintln!("total {:.1} s", t0.elapsed().as_secs_f64());
}
