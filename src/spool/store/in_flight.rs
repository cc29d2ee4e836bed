//! The in-flight marker: `pending/<id>.inflight`, present while an attempt
//! that creates Odoo records runs.
//!
//! After a crash it says Odoo may still be executing that attempt's call, so
//! the entry waits before resuming. It is a file of its own, written without
//! fsync on every such attempt, and never the entry's metadata: a power cut
//! can lose or empty the marker, which only shortens that wait, but can
//! never damage the only copy of an accepted callback (replacing the
//! metadata by the rename of an unsynced file could, on XFS or ext4 with
//! `noauto_da_alloc`, leave it empty). The marker holds the attempt's start
//! in ms since the epoch; an unreadable one counts from its mtime.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use super::{IN_FLIGHT_SUFFIX, SpoolError, State, Store, io_error};
use crate::spool::entry::EntryId;

impl Store {
    fn in_flight_path(&self, id: &EntryId) -> PathBuf {
        self.root
            .join(State::Pending.dir())
            .join(format!("{id}{IN_FLIGHT_SUFFIX}"))
    }

    /// Marks pending entry `id` as being applied since `since_ms` (not
    /// fsynced: see the module docs).
    pub fn mark_in_flight(&self, id: &EntryId, since_ms: u64) -> Result<(), SpoolError> {
        let path = self.in_flight_path(id);
        fs::write(&path, since_ms.to_string()).map_err(io_error("write", &path))
    }

    /// The attempt on `id` ended: removes its marker, if any.
    pub fn clear_in_flight(&self, id: &EntryId) -> Result<(), SpoolError> {
        let path = self.in_flight_path(id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("remove", &path)(e)),
        }
    }

    /// Since when pending entry `id` has been in flight, if it is marked.
    pub fn in_flight_since(&self, id: &EntryId) -> Option<u64> {
        let path = self.in_flight_path(id);
        let text = fs::read_to_string(&path).ok();
        if let Some(ms) = text.and_then(|t| t.trim().parse().ok()) {
            return Some(ms);
        }
        // Emptied by a power cut, or half-written: its mtime says when.
        let modified = fs::metadata(&path).ok()?.modified().ok()?;
        let ms = modified.duration_since(UNIX_EPOCH).ok()?.as_millis();
        Some(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}
