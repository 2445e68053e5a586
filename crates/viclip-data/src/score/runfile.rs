//! `OUT/run.json`: the identity of the run an output directory holds. The first process of a run
//! writes it (created only when absent, so concurrent first processes agree on one); every process
//! compares its own identity with it before any work. Unlike the per-shard stats, it also catches a
//! process that would only write shards nobody has written yet (another `--shard-index`, another
//! checkpoint), which would otherwise mix two runs shard by shard.

use std::path::Path;

use super::identity::diff;
use viclip::{Error, Result};

/// The refusal of a command whose identity differs from a run's: one line per differing key.
pub(crate) fn foreign(out: &Path, what: &str, lines: &[String]) -> Error {
    Error::conflict(
        out,
        format!(
            "{what} was scored with other settings than this run's (a directory holds one run: \
             use a new ScoreOptions::out for other settings, or rerun with the run's); this run's \
             value, then the recorded one:\n  {}",
            lines.join("\n  ")
        ),
    )
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

/// Makes `identity` the run of `out`, or refuses it when `out` holds another run with shards.
/// A recorded identity without any finished shard is replaced: there is nothing to mix with.
/// `temp` is this process's temporary directory.
pub(crate) fn adopt(out: &Path, identity: &serde_json::Value, temp: &Path) -> Result<()> {
    let path = out.join("run.json");
    let text = serde_json::to_string_pretty(identity)
        .map_err(|e| Error::Internal(format!("{} as JSON: {e}", path.display())))?;
    let tmp = temp.join("run.json");
    std::fs::write(&tmp, &text).map_err(|e| Error::output(&tmp, e))?;
    // Two rounds: a concurrent first process may create the file between the read and the link.
    for _ in 0..2 {
        match std::fs::read_to_string(&path) {
            Ok(recorded) => {
                let lines = match serde_json::from_str::<serde_json::Value>(&recorded) {
                    Ok(r) => diff(identity, &r),
                    Err(e) => vec![format!("run.json: does not parse ({e})")],
                };
                if lines.is_empty() {
                    return Ok(());
                }
                if any_shard(out) {
                    return Err(foreign(out, "this directory's run", &lines));
                }
                return std::fs::rename(&tmp, &path).map_err(|e| Error::output(&path, e));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // A hard link fails when the name exists: created only when absent, whole.
                match std::fs::hard_link(&tmp, &path) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    // A filesystem without hard links: an exclusive create, written in place (a
                    // concurrent reader may then see it half written, and refuse; a rerun passes).
                    Err(_) => match create_new(&path, text.as_bytes()) {
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                        r => return r.map_err(|e| Error::output(&path, e)),
                    },
                }
            }
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::conflict(
        &path,
        "created and removed again by other processes while this one read it; rerun",
    ))
}

fn create_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
