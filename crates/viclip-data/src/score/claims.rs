//! The shard claims of one process: a shard's lock (`super::lock`) taken as the input stream
//! reaches the shard, and its state checked again under the lock.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

use super::lock::{self, shard_lock_path, FileLock};
use super::runfile;
use super::verify::{shard_state, ShardState};
use crate::Result;

/// The shards this process holds, and the notes of its claims (`for_each_shard`'s `wanted` is a
/// plain `Fn`, so the state sits in cells).
pub(crate) struct Claims<'a> {
    out: &'a Path,
    identity: &'a serde_json::Value,
    /// `Some`: the lock of a shard this process scores; `None`: decided against (or done).
    held: RefCell<BTreeMap<u64, Option<FileLock>>>,
    notes: RefCell<Vec<String>>,
}

impl<'a> Claims<'a> {
    pub(crate) fn new(out: &'a Path, identity: &'a serde_json::Value) -> Self {
        Claims {
            out,
            identity,
            held: RefCell::new(BTreeMap::new()),
            notes: RefCell::new(Vec::new()),
        }
    }

    /// Whether this process scores shard `k`: it takes the shard's lock, and checks again (under
    /// the lock) that no other process finished it since the run started. Decided once per shard.
    pub(crate) fn claim(&self, k: u64) -> Result<bool> {
        if let Some(h) = self.held.borrow().get(&k) {
            return Ok(h.is_some());
        }
        let note = |n: String| self.notes.borrow_mut().push(n);
        let lock = match lock::claim(&shard_lock_path(self.out, k))? {
            None => {
                note(format!(
                    "shard {k:05}: another process holds it (its lock file is held); skipped"
                ));
                None
            }
            Some(l) => match shard_state(self.out, k, self.identity, true)? {
                ShardState::Complete => {
                    note(format!(
                        "shard {k:05}: completed by another process; skipped"
                    ));
                    None
                }
                ShardState::Foreign(lines) => {
                    return Err(runfile::foreign(self.out, &format!("shard {k:05}"), &lines))
                }
                ShardState::Missing | ShardState::Damaged(_) => Some(l),
            },
        };
        let mine = lock.is_some();
        self.held.borrow_mut().insert(k, lock);
        Ok(mine)
    }

    pub(crate) fn release(&self, k: u64) {
        self.held.borrow_mut().insert(k, None);
    }

    pub(crate) fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.notes.borrow_mut())
    }
}
