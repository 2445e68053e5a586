//! Processes sharing one `--out` through the real binary: two and three processes started together
//! on the same shards (a requeued Slurm task while the old one still runs), table and webdataset
//! input, and two processes of one Slurm task, give the output of one process bit for bit, every
//! shard scored exactly once; SIGTERM and SIGINT mid-run leave no temporary file, exit 143 / 130,
//! and a rerun completes identically.

use crate::score_common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use score_common::bin::*;
use score_common::videos;

const LIMIT: Duration = Duration::from_secs(600);

/// Starts `n` processes with the same flags at once, waits for all; every shard of the output must
/// be reported scored by exactly one of them, and the output must equal `reference`'s.
fn race(n: usize, args: &[String], out: &Path, reference: &Path, shards: u64) {
    let procs: Vec<Guard> = (0..n).map(|_| Guard::spawn(args)).collect();
    let mut scored_by: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, p) in procs.into_iter().enumerate() {
        let o = p.wait(LIMIT);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "process {i} failed: {err}");
        for k in scored_shards(&err) {
            scored_by.entry(k).or_default().push(i);
        }
        eprintln!("process {i} of {n}: scored {:?}", scored_shards(&err).len());
    }
    assert_eq!(
        scored_by.keys().copied().collect::<Vec<_>>(),
        (0..shards).collect::<Vec<_>>(),
        "every shard scored"
    );
    for (k, who) in &scored_by {
        assert_eq!(who.len(), 1, "shard {k} scored by processes {who:?}");
    }
    assert_eq!(stats_count(out), shards as usize);
    assert!(leftovers(out).is_empty(), "{:?}", leftovers(out));
    assert_same_output(out, reference);
}

#[test]
fn two_and_three_processes_on_one_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let table = d.join("internvid.jsonl");
    let rows = write_internvid_times(&table, 2) as u64;
    let reference = d.join("reference");
    run_ok(&score_args(&table, &reference, Some(d), 2, &[]));
    for n in [2, 3] {
        let out = d.join(format!("out{n}"));
        race(
            n,
            &score_args(&table, &out, Some(d), 2, &[]),
            &out,
            &reference,
            rows.div_ceil(2),
        );
    }
    // A requeued Slurm task next to the one still running: two processes of task 1 of 2, then
    // task 0; every shard once, the same output.
    let out = d.join("slurm");
    let task = |i: &str| {
        let sel = ["--shard-index", i, "--num-shards", "2"];
        score_args(&table, &out, Some(d), 2, &sel)
    };
    let procs: Vec<Guard> = (0..2).map(|_| Guard::spawn(&task("1"))).collect();
    let mut scored: Vec<u64> = Vec::new();
    for p in procs {
        let o = p.wait(LIMIT);
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{err}");
        scored.extend(scored_shards(&err));
    }
    scored.extend(scored_shards(&run_ok(&task("0"))));
    scored.sort_unstable();
    assert_eq!(scored, (0..rows.div_ceil(2)).collect::<Vec<_>>());
    assert_same_output(&out, &reference);
}

#[test]
fn two_and_three_processes_on_one_webdataset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let tar = d.join("00000.tar");
    write_good_tar(&tar, d, 30);
    let reference = d.join("reference");
    run_ok(&score_args(&tar, &reference, None, 3, &[]));
    let statuses = score_common::strings(&score_common::read_shards(&reference), "status");
    assert_eq!(statuses.len(), 30);
    assert!(
        statuses.iter().all(|s| s.as_deref() == Some("ok")),
        "{statuses:?}"
    );
    for n in [2, 3] {
        let out = d.join(format!("out{n}"));
        race(
            n,
            &score_args(&tar, &out, None, 3, &[]),
            &out,
            &reference,
            10,
        );
    }
}

/// Sends `signal` to a run of 30 one-row shards once a shard is on disk, while it is stopped (so
/// the count of finished shards seen is the count when the signal lands); returns the exit code, or
/// `None` when the run had already finished every shard (the caller tries again).
fn interrupt(args: &[String], out: &Path, signal: i32) -> Option<i32> {
    let mut p = Guard::spawn(args);
    let t = Instant::now();
    while stats_count(out) == 0 && p.child().try_wait().expect("wait").is_none() {
        assert!(t.elapsed() < LIMIT, "no shard finished");
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: plain kill(2) on our own child's pid; the guard keeps the child unreaped until here.
    unsafe { libc::kill(p.pid(), libc::SIGSTOP) };
    let done = stats_count(out);
    if done < 30 {
        unsafe { libc::kill(p.pid(), signal) };
    }
    unsafe { libc::kill(p.pid(), libc::SIGCONT) };
    let o = p.wait(LIMIT);
    let code = o.status.code();
    eprintln!(
        "signal {signal} with {done} of 30 shards done: exit {code:?}; {}",
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or_default()
    );
    (done < 30).then(|| code.unwrap_or(-1))
}

#[test]
fn sigterm_and_sigint_clean_up_and_a_rerun_completes_identically() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    videos(d);
    let tar = d.join("00000.tar");
    write_good_tar(&tar, d, 30);
    let reference = d.join("reference");
    run_ok(&score_args(&tar, &reference, None, 1, &[]));
    for (signal, expected) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let mut landed = false;
        for attempt in 0..3 {
            let out = d.join(format!("out{signal}-{attempt}"));
            let args = score_args(&tar, &out, None, 1, &[]);
            let Some(code) = interrupt(&args, &out, signal) else {
                continue;
            };
            landed = true;
            assert_eq!(code, expected, "exit code after signal {signal}");
            assert!(leftovers(&out).is_empty(), "{:?}", leftovers(&out));
            assert!(
                !out.join(".tmp").exists(),
                "the temporary directory is removed"
            );
            run_ok(&args);
            assert_same_output(&out, &reference);
            break;
        }
        assert!(landed, "signal {signal} never landed inside a run");
    }
}
