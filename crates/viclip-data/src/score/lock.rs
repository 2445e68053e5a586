//! Claims between processes that share one `--out`: a lock per shard and a temporary directory per
//! process.
//!
//! Shard `k` is claimed with an exclusive, non-blocking `flock` on `OUT/.locks/{k:05}.lock`, held
//! while the shard is scored and released once its files are final. The kernel releases the lock of
//! a process that dies, so a crashed claim never blocks a rerun; `viclip status` probes the same
//! files with a non-blocking try-lock. The lock files are never deleted: deleting a lock file while
//! another process waits on its inode would let two processes hold "the" lock at once.
//!
//! Temporary files of a process (webdataset members copied for FFmpeg, the hash cache being
//! rewritten) live in `OUT/.tmp/{pid}-{nonce}/`, itself locked by its owner; a directory there whose
//! lock can be taken belongs to a process that is gone and is removed by the next process to start.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::{Error, Result};

/// The lock file of shard `k`.
pub fn shard_lock_path(out: &Path, k: u64) -> PathBuf {
    out.join(".locks").join(format!("{k:05}.lock"))
}

/// An exclusive `flock`, released when dropped (or when the process dies).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

/// Takes `file`'s exclusive lock without waiting: `Ok(false)` when another process holds it.
fn try_flock(file: &File, path: &Path) -> Result<bool> {
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(Error::io(path, e.into())),
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::output(path, e))
}

/// Takes the lock at `path` (created when missing) without waiting; `None` when another process
/// holds it.
pub(crate) fn try_lock(path: &Path) -> Result<Option<FileLock>> {
    let file = open_lock_file(path)?;
    Ok(try_flock(&file, path)?.then_some(FileLock { _file: file }))
}

/// A lock on the run of an output directory (see [`super::runfile::adopt`]): shared while a
/// process scores, exclusive for the instant a process replaces a run that no process scores.
#[derive(Debug)]
pub(crate) struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Opens the lock file at `path` without taking any lock.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        Ok(RunLock {
            file: open_lock_file(path)?,
            path: path.to_path_buf(),
        })
    }

    /// Takes the lock shared without waiting: `Ok(false)` when a process holds it exclusively.
    pub(crate) fn try_shared(&self) -> Result<bool> {
        match flock(&self.file, FlockOperation::NonBlockingLockShared) {
            Ok(()) => Ok(true),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
            Err(e) => Err(Error::io(&self.path, e.into())),
        }
    }

    /// Takes the lock exclusively without waiting: `Ok(false)` when another process holds it.
    pub(crate) fn try_exclusive(&self) -> Result<bool> {
        try_flock(&self.file, &self.path)
    }
}

/// How long [`lock_waiting`] waits: the lock guards a critical section of a few file operations, so
/// only a stopped or hung process holds it longer.
const GATE_TRIES: u32 = 500;

/// Takes the exclusive lock at `path`, waiting up to about 10 s for the process holding it.
pub(crate) fn lock_waiting(path: &Path) -> Result<FileLock> {
    let file = open_lock_file(path)?;
    for attempt in 0..GATE_TRIES {
        if attempt > 0 {
            std::thread::sleep(CLAIM_PAUSE);
        }
        if try_flock(&file, path)? {
            return Ok(FileLock { _file: file });
        }
    }
    Err(Error::conflict(
        path,
        "held by another process for over 10 s while it starts a run in this output directory \
         (is it stopped?); rerun once it has started or ended",
    ))
}

/// Tries before a claim concludes that another process holds a shard, and the pause between them.
const CLAIM_TRIES: u32 = 5;
const CLAIM_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Claims the shard lock at `path`: [`try_lock`], retried a few times over about 100 ms.
///
/// [`is_locked`] (`viclip status`) probes by taking the lock for an instant, so a claim that lands
/// in that instant would otherwise take a free shard for another process's and skip it. Retrying
/// the claim was preferred to a probe that takes no lock: the only lock-free ways to see an flock
/// (`/proc/locks`, `F_OFD_GETLK` on flock locks) are not portable. A shard that a scoring process
/// holds stays held for the whole bounded interval, so the retries change only how soon a
/// process moves past it.
pub(crate) fn claim(path: &Path) -> Result<Option<FileLock>> {
    let file = open_lock_file(path)?;
    for attempt in 0..CLAIM_TRIES {
        if attempt > 0 {
            std::thread::sleep(CLAIM_PAUSE);
        }
        if try_flock(&file, path)? {
            return Ok(Some(FileLock { _file: file }));
        }
    }
    Ok(None)
}

/// Whether another process holds the lock at `path` now (a missing file is not held). Takes the
/// lock for an instant when it is free (see `claim`).
pub fn is_locked(path: &Path) -> Result<bool> {
    match File::open(path) {
        Ok(f) => Ok(!try_flock(&f, path)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// This process's temporary directory `OUT/.tmp/{pid}-{nonce}/`, removed on drop.
#[derive(Debug)]
pub(crate) struct TempSpace {
    dir: PathBuf,
    _lock: File,
}

impl TempSpace {
    /// Checks `OUT/.tmp` (see [`check_temp_root`]), removes the directories of processes that are
    /// gone, then creates and locks this one's. Creating it is also the probe that `OUT` can be
    /// written to.
    pub(crate) fn create(out: &Path) -> Result<Self> {
        let root = out.join(".tmp");
        check_temp_root(&root)?;
        std::fs::create_dir_all(&root).map_err(|e| Error::output(&root, e))?;
        sweep(&root);
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let dir = root.join(format!("{pid}-{nanos:08x}{attempt:02}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                // Another process exiting removed the (then empty) `.tmp` meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    check_temp_root(&root)?;
                    std::fs::create_dir_all(&root).map_err(|e| Error::output(&root, e))?;
                    continue;
                }
                Err(e) => return Err(Error::output(&dir, e)),
            }
            let file = match File::open(&dir) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&dir, e)),
            };
            // Between `create_dir` and the lock another process's sweep may have taken the empty
            // directory for a dead one and removed it: the lock is only good if the path still
            // names the directory locked.
            if try_flock(&file, &dir)? && same_file(&file, &dir) {
                return Ok(TempSpace { dir, _lock: file });
            }
        }
        Err(Error::Resource {
            what: format!("a temporary directory in {}", root.display()),
            msg: "100 attempts collided with other processes' directories; retry, or remove the \
                  directories of processes that are gone"
                .into(),
        })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempSpace {
    fn drop(&mut self) {
        // Removed while the lock is held, so no sweep of another process races with it.
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(root) = self.dir.parent() {
            let _ = std::fs::remove_dir(root); // only when empty: other processes may be using it
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether `name` is an entry this module creates in `OUT/.tmp`: a process's directory
/// `{pid}-{hex nonce}`, or what earlier versions left there (`wds-NNNNN/` member copies,
/// `probe-{pid}` write probes). Nothing else there is ever removed.
fn is_own_entry(name: &str, is_dir: bool) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if is_dir {
        if let Some((pid, nonce)) = name.split_once('-') {
            if digits(pid) && !nonce.is_empty() && nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
                return true;
            }
        }
        name.strip_prefix("wds-").is_some_and(digits)
    } else {
        name.strip_prefix("probe-").is_some_and(digits)
    }
}

/// Refuses an `OUT/.tmp` that the run would not own: a symlink (sweeping it would empty the
/// directory it points to), something other than a directory, or a directory holding entries
/// this module never creates (a project's own `.tmp/` when `OUT` is the project). A missing one
/// is fine.
pub(crate) fn check_temp_root(root: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(root, e)),
    };
    let out = root.parent().unwrap_or(root);
    if meta.file_type().is_symlink() {
        return Err(Error::conflict(
            root,
            format!(
                "is a symbolic link; the run keeps its temporary files in {} and removes what \
                 it leaves there, so it must be a real directory of this output: remove the link, \
                 or choose another output directory than {}",
                root.display(),
                out.display()
            ),
        ));
    }
    if !meta.is_dir() {
        return Err(Error::conflict(
            root,
            format!(
                "is not a directory; the run keeps its temporary files there: move it away, or \
                 choose another output directory than {}",
                out.display()
            ),
        ));
    }
    let mut foreign = Vec::new();
    for e in std::fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let e = e.map_err(|e| Error::io(root, e))?;
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_own_entry(&name, is_dir) {
            foreign.push(name);
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let shown = foreign.len().min(5);
    let more = match foreign.len() - shown {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Err(Error::conflict(
        root,
        format!(
            "holds entries a score run does not create ({}{more}); the run keeps its temporary \
             files there and removes its own: move those entries away, or choose another output \
             directory than {}",
            foreign[..shown].join(", "),
            out.display()
        ),
    ))
}

/// Removes the entries of `root` that no live process holds: process directories whose lock can
/// be taken, and what earlier versions left ([`is_own_entry`]). Best effort; never follows a link.
fn sweep(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(t) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        if !is_own_entry(&name, t.is_dir()) {
            continue;
        }
        if t.is_dir() {
            let Ok(f) = File::open(&p) else { continue };
            if try_flock(&f, &p).unwrap_or(false) {
                let _ = std::fs::remove_dir_all(&p);
            }
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = shard_lock_path(dir.path(), 7);
        assert!(p.ends_with(".locks/00007.lock"));
        assert!(!is_locked(&p).expect("probe"), "no file: not held");
        let held = try_lock(&p).expect("lock").expect("free");
        // flock belongs to the open file, so a second open in this process is another holder.
        assert!(try_lock(&p).expect("lock").is_none());
        assert!(is_locked(&p).expect("probe"));
        drop(held);
        assert!(!is_locked(&p).expect("probe"));
        assert!(try_lock(&p).expect("lock").is_some());
    }

    #[test]
    fn a_claim_gives_up_on_a_lock_held_throughout_and_takes_a_free_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = shard_lock_path(dir.path(), 3);
        let held = try_lock(&p).expect("lock").expect("free");
        assert!(claim(&p).expect("claim").is_none());
        drop(held);
        let mine = claim(&p).expect("claim").expect("free now");
        assert!(is_locked(&p).expect("probe"));
        drop(mine);
    }

    #[test]
    fn temp_spaces_of_live_processes_survive_a_sweep_dead_ones_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stale = dir.path().join(".tmp/12345-dead/wds-00000");
        std::fs::create_dir_all(&stale).expect("mkdir");
        let a = TempSpace::create(dir.path()).expect("a");
        assert!(!stale.exists(), "an unlocked directory is swept");
        let b = TempSpace::create(dir.path()).expect("b");
        assert!(a.path().is_dir() && b.path().is_dir() && a.path() != b.path());
        let (pa, pb) = (a.path().to_path_buf(), b.path().to_path_buf());
        drop(a);
        assert!(!pa.exists() && pb.is_dir());
        drop(b);
        assert!(!dir.path().join(".tmp").exists());
    }

    #[test]
    fn a_symlinked_or_foreign_tmp_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).expect("mkdir");
        std::fs::write(elsewhere.join("precious.txt"), b"keep").expect("write");
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).expect("mkdir");
        std::os::unix::fs::symlink(&elsewhere, out.join(".tmp")).expect("symlink");
        let e = TempSpace::create(&out).expect_err("a symlinked .tmp is refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(elsewhere.join("precious.txt").is_file(), "nothing deleted");

        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join(".tmp/cache")).expect("mkdir");
        std::fs::write(project.join(".tmp/notes.txt"), b"mine").expect("write");
        std::fs::create_dir_all(project.join(".tmp/4242-dead")).expect("mkdir");
        let e = TempSpace::create(&project).expect_err("foreign entries are refused");
        let msg = e.to_string();
        assert!(msg.contains("cache") && msg.contains("notes.txt"), "{msg}");
        assert!(
            !msg.contains("4242-dead"),
            "own entries are not foreign: {msg}"
        );
        assert!(project.join(".tmp/notes.txt").is_file());
        assert!(project.join(".tmp/cache").is_dir());
        assert!(
            project.join(".tmp/4242-dead").is_dir(),
            "nothing swept before the check"
        );
    }
}
