//! `OUT/run.json`: the identity of the run an output directory holds. The first process of a run
//! writes it (created only when absent, so concurrent first processes agree on one); every process
//! compares its own identity with it before any work, under `OUT/.locks/run-start.lock` so that no
//! two processes decide at once, and again before it commits each shard ([`recheck`]). Every
//! scoring process holds `OUT/.locks/run.lock` shared while it runs; a recorded run without a
//! finished shard is replaced only when that lock can be taken exclusively, that is when no process
//! is scoring it, so a command started with other settings beside a running one is refused instead
//! of taking the directory over. Unlike the per-shard stats, it also catches a
//! process that would only write shards nobody has written yet (another `--shard-index`, another
//! checkpoint), which would otherwise mix two runs shard by shard.

use std::path::Path;

use super::compare::diff;
use super::lock::{self, RunLock};
use crate::{Error, Result};

/// The refusal of a command whose identity differs from a run's: one line per differing key.
pub(crate) fn foreign(out: &Path, what: &str, lines: &[String]) -> Error {
    Error::OtherSettings {
        path: out.to_path_buf(),
        what: what.to_string(),
        differences: lines.to_vec(),
    }
}

/// Whether `out` holds a stats file of any shard.
fn any_shard(out: &Path) -> bool {
    std::fs::read_dir(out).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with("_stats.json"))
    })
}

/// Shards with stats at or beyond `table_shards` (left by an earlier run of a longer input).
pub(crate) fn stray_shards(out: &Path, table_shards: u64) -> Result<Vec<u64>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(k) = name
            .strip_suffix("_stats.json")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|&k| k >= table_shards)
        {
            v.push(k);
        }
    }
    v.sort_unstable();
    Ok(v)
}

/// Makes `identity` the run of `out`, or refuses it when `out` holds another run with shards or
/// one that another process is scoring. A recorded identity without any finished shard and
/// without a live process is replaced: there is nothing to mix with. `temp` is this process's
/// temporary directory. The returned lock is held shared while this process scores.
pub(crate) fn adopt(out: &Path, identity: &serde_json::Value, temp: &Path) -> Result<RunLock> {
    let path = out.join("run.json");
    let text = serde_json::to_string_pretty(identity)
        .map_err(|e| Error::Internal(format!("{} as JSON: {e}", path.display())))?;
    let tmp = temp.join("run.json");
    std::fs::write(&tmp, &text).map_err(|e| Error::output(&tmp, e))?;
    let locks = out.join(".locks");
    let _gate = lock::lock_waiting(&locks.join("run-start.lock"))?;
    let member = RunLock::open(&locks.join("run.lock"))?;
    let share = |member: RunLock| -> Result<RunLock> {
        // Only a process holding the gate takes the lock exclusively, and this one holds it.
        if member.try_shared()? {
            Ok(member)
        } else {
            Err(Error::conflict(
                &path,
                "another process is replacing this directory's run; rerun",
            ))
        }
    };
    match std::fs::read_to_string(&path) {
        Ok(recorded) => {
            let lines = match serde_json::from_str::<serde_json::Value>(&recorded) {
                Ok(r) => diff(identity, &r),
                Err(e) => vec![format!("run.json: does not parse ({e})")],
            };
            if lines.is_empty() {
                return share(member);
            }
            if any_shard(out) {
                return Err(foreign(out, "this directory's run", &lines));
            }
            if !member.try_exclusive()? {
                return Err(foreign(
                    out,
                    "the run that another process is scoring in this directory now",
                    &lines,
                ));
            }
            std::fs::rename(&tmp, &path).map_err(|e| Error::output(&path, e))?;
            share(member)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::rename(&tmp, &path).map_err(|e| Error::output(&path, e))?;
            share(member)
        }
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Checks, before a shard is committed, that `out/run.json` still records `identity`: a process
/// of another run (or a person) that replaced it must not get this process's shards mixed into its
/// run.
pub(crate) fn recheck(out: &Path, identity: &serde_json::Value) -> Result<()> {
    let path = out.join("run.json");
    let recorded = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let lines = match serde_json::from_str::<serde_json::Value>(&recorded) {
        Ok(r) => diff(identity, &r),
        Err(e) => vec![format!("run.json: does not parse ({e})")],
    };
    if lines.is_empty() {
        return Ok(());
    }
    Err(foreign(
        out,
        "the run recorded in run.json since this process started",
        &lines,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(model: &str) -> serde_json::Value {
        serde_json::json!({"version": "0.1.0", "model": model, "shard_size": 2})
    }

    #[test]
    fn a_run_in_progress_is_never_replaced_and_a_replaced_record_is_caught() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path();
        let (ta, tb) = (out.join("ta"), out.join("tb"));
        std::fs::create_dir_all(&ta).expect("mkdir");
        std::fs::create_dir_all(&tb).expect("mkdir");
        let a = adopt(out, &id("a"), &ta).expect("the first command records its run");
        // A second command with other settings while the first scores: refused, record kept.
        let e = adopt(out, &id("b"), &tb).expect_err("refused while a is scoring");
        assert!(e.to_string().contains("another process is scoring"), "{e}");
        recheck(out, &id("a")).expect("a's record is intact");
        // The same settings join the run.
        let a2 = adopt(out, &id("a"), &tb).expect("the same run joins");
        drop((a, a2));
        // Nobody scores and no shard is finished: the other settings may take the directory.
        let b = adopt(out, &id("b"), &tb).expect("replaced when idle and empty");
        let e = recheck(out, &id("a")).expect_err("a process of run a must not commit now");
        assert!(e.to_string().contains("since this process started"), "{e}");
        drop(b);
    }
}
