//! The three ways to open the spool.
//!
//! * [`Store::open`], for `serve`: creates the directories, takes the spool
//!   for this process alone ([`lock::serve`]), then clears what a crash of
//!   an earlier `serve` left in `tmp/` and `pending/`. Only the process
//!   holding that lock ever deletes anything there.
//! * [`Store::inspect`], for `spool list` and `spool show`: creates, locks,
//!   cleans and writes nothing, so it is harmless beside a running daemon.
//! * [`Store::administer`], for `spool retry` and `spool purge`: waits for
//!   [`lock::admin`], then clears what an interrupted command left in
//!   `dead/`. These commands change only `dead/` (and move whole entries
//!   into `pending/`), so they are safe beside a running daemon.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::sync::Mutex;

use super::{
    FILE_SUFFIX, GroupSync, IN_FLIGHT_SUFFIX, Limits, META_FILE, NEW_SUFFIX, REASON_SUFFIX,
    SpoolError, State, Store, Usage, io_error, lock,
};
use crate::spool::entry::EntryId;

/// No bounds: the `spool` commands never add entries.
const UNBOUNDED: Limits = Limits {
    max_bytes: u64::MAX,
    max_entries: u64::MAX,
};

impl Store {
    fn new(root: &Path, fsync: bool, limits: Limits, lock: Option<lock::Held>) -> Self {
        Self {
            root: root.to_owned(),
            fsync,
            limits,
            usage: Mutex::new(Usage::default()),
            pending_sync: GroupSync::new(&root.join(State::Pending.dir())),
            _lock: lock,
        }
    }

    /// Opens the spool at `root` for `serve` (creating it if needed): takes
    /// it for this process, refusing with [`SpoolError::Busy`] when another
    /// has it, clears debris and measures what is stored.
    pub fn open(root: &Path, fsync: bool, limits: Limits) -> Result<Self, SpoolError> {
        for dir in ["", "tmp", "pending", "dead"] {
            let path = root.join(dir);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(io_error("create", &path))?;
        }
        let store = Self::new(root, fsync, limits, Some(lock::serve(root)?));
        store.clear_tmp()?;
        store.clear_pending_debris()?;
        store.refresh_usage()?;
        Ok(store)
    }

    /// Opens an existing spool to read it, changing nothing.
    pub fn inspect(root: &Path) -> Result<Self, SpoolError> {
        must_exist(root)?;
        let store = Self::new(root, false, UNBOUNDED, None);
        store.refresh_usage()?;
        Ok(store)
    }

    /// Opens an existing spool for a changing `spool` command: one at a
    /// time, beside the daemon or not.
    pub fn administer(root: &Path, fsync: bool) -> Result<Self, SpoolError> {
        must_exist(root)?;
        let store = Self::new(root, fsync, UNBOUNDED, Some(lock::admin(root)?));
        store.clear_dead_debris()?;
        store.refresh_usage()?;
        Ok(store)
    }

    /// `tmp/` holds only what a crashed `serve` was writing.
    fn clear_tmp(&self) -> Result<(), SpoolError> {
        let tmp = self.root.join("tmp");
        for entry in fs::read_dir(&tmp)
            .map_err(io_error("list", &tmp))?
            .flatten()
        {
            let path = entry.path();
            fs::remove_dir_all(&path)
                .or_else(|_| fs::remove_file(&path))
                .map_err(io_error("clean", &path))?;
        }
        Ok(())
    }

    /// In `pending/`: directories whose removal a crash interrupted (no
    /// meta.json: no entry), metadata half-replaced, and in-flight markers
    /// whose entry is gone.
    fn clear_pending_debris(&self) -> Result<(), SpoolError> {
        let dir = self.root.join(State::Pending.dir());
        for entry in fs::read_dir(&dir)
            .map_err(io_error("list", &dir))?
            .flatten()
        {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() && !path.join(META_FILE).exists() {
                fs::remove_dir_all(&path).map_err(io_error("clean", &path))?;
            } else if name.ends_with(NEW_SUFFIX)
                || self.orphan(State::Pending, &name, IN_FLIGHT_SUFFIX)
            {
                fs::remove_file(&path).map_err(io_error("clean", &path))?;
            }
        }
        Ok(())
    }

    /// In `dead/`: metadata half-replaced by an interrupted `spool retry`,
    /// and quarantine reasons whose entry is gone.
    fn clear_dead_debris(&self) -> Result<(), SpoolError> {
        let dir = self.root.join(State::Dead.dir());
        for entry in fs::read_dir(&dir)
            .map_err(io_error("list", &dir))?
            .flatten()
        {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(NEW_SUFFIX) || self.orphan(State::Dead, &name, REASON_SUFFIX) {
                let path = entry.path();
                fs::remove_file(&path).map_err(io_error("clean", &path))?;
            }
        }
        Ok(())
    }

    /// Whether `name` is `<id><suffix>` for an entry no longer in `state`.
    fn orphan(&self, state: State, name: &str, suffix: &str) -> bool {
        name.strip_suffix(suffix)
            .and_then(EntryId::parse)
            .is_some_and(|id| self.locate(state, &id).is_none())
    }
}

/// The `spool` commands never create a spool: a wrong `spool.dir` is an
/// error, not a new empty spool.
fn must_exist(root: &Path) -> Result<(), SpoolError> {
    for state in [State::Pending, State::Dead] {
        let path = root.join(state.dir());
        fs::read_dir(&path).map_err(io_error("open", &path))?;
    }
    Ok(())
}

/// `<id>.json` names an entry without an image.
pub(super) fn id_of(name: &str) -> Option<EntryId> {
    EntryId::parse(name.strip_suffix(FILE_SUFFIX).unwrap_or(name))
}
