//! Quarantine: a pending entry that can never be applied as it is on disk
//! (metadata that is empty, not JSON or of another format version; an image
//! file of the wrong size) goes to `dead/` once, with the reason, instead of
//! being skipped at every poll.
//!
//! When its metadata can be read, the reason is written into it as for any
//! dead letter. When it cannot, the metadata is left exactly as found (an
//! admin may repair it, or a bridge of its version may read it) and the
//! reason is kept beside it in `dead/<id>.reason`. `spool list` and `show`
//! print it; `purge` removes it with the entry; `retry` refuses an entry
//! whose metadata still cannot be read.

use std::fs;
use std::path::PathBuf;

use super::{REASON_SUFFIX, SpoolError, State, Store, io_error};
use crate::spool::entry::{DeadLetter, EntryId, now_ms};

impl Store {
    fn reason_path(&self, id: &EntryId) -> PathBuf {
        self.root
            .join(State::Dead.dir())
            .join(format!("{id}{REASON_SUFFIX}"))
    }

    /// Moves pending entry `id`, which cannot be applied, to the dead
    /// letters with `reason`.
    pub fn quarantine(&self, id: &EntryId, reason: &str) -> Result<(), SpoolError> {
        let dead = DeadLetter {
            reason: reason.to_owned(),
            at_ms: now_ms(),
        };
        match self.meta(State::Pending, id) {
            Ok(mut meta) => {
                meta.dead = Some(dead);
                return self.transfer(State::Pending, &meta);
            }
            Err(SpoolError::Corrupt { .. }) => {}
            Err(error) => return Err(error),
        }
        let layout = self
            .locate(State::Pending, id)
            .ok_or_else(|| SpoolError::NotFound {
                state: State::Pending,
                id: id.to_string(),
            })?;
        let source = self.entry_path(State::Pending, id, layout);
        let target = self.entry_path(State::Dead, id, layout);
        fs::rename(&source, &target).map_err(io_error("move", &source))?;
        self.adjust_usage(0, 0, 1);
        let _ = self.clear_in_flight(id);
        self.write_reason(id, &dead)?;
        self.sync_dir(&self.root.join(State::Dead.dir()))?;
        self.sync_dir(&self.root.join(State::Pending.dir()))
    }

    /// Writes the reason file by a rename, so it is whole or absent.
    fn write_reason(&self, id: &EntryId, dead: &DeadLetter) -> Result<(), SpoolError> {
        let bytes = serde_json::to_vec(dead).map_err(|e| SpoolError::Corrupt {
            id: id.to_string(),
            reason: e.to_string(),
        })?;
        let staging = self.root.join("tmp").join(format!("{id}{REASON_SUFFIX}"));
        let _ = fs::remove_file(&staging);
        self.write_file(&staging, &bytes)?;
        let target = self.reason_path(id);
        fs::rename(&staging, &target).map_err(io_error("move", &target))
    }

    /// Why dead letter `id` was quarantined, when its metadata cannot say.
    pub fn quarantine_reason(&self, id: &EntryId) -> Option<DeadLetter> {
        let bytes = fs::read(self.reason_path(id)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Forgets the quarantine reason of `id` (purged, or retried).
    pub(super) fn remove_reason(&self, id: &EntryId) {
        let _ = fs::remove_file(self.reason_path(id));
    }
}
