//! The spool on disk: a directory per entry, moved between states by
//! atomic renames.
//!
//! ```text
//! <spool dir>/
//!   serve.lock       flock of the one `serve` process (holds its pid)
//!   admin.lock       flock of a changing `spool` command while it runs
//!   tmp/<id>/        being written by `serve`; emptied at its start
//!   pending/<id>/    accepted: meta.json, image.bin (an inline image), inflight
//!   dead/<id>/       can never apply; kept for an admin
//! ```
//!
//! An entry is written whole under `tmp/` and fsynced (files, then its
//! directory), then one rename into `pending/`, fsynced too, makes it
//! appear: after [`Store::put`] returns it survives `kill -9` and power
//! loss. Metadata is replaced by the rename of a file fsynced first, never
//! left empty by a power cut. Removal unlinks `meta.json` first, so the
//! entry ends at once; a directory without it is debris. Only `serve`
//! deletes in `tmp/` and `pending/`; the `spool` commands change `dead/`
//! and move whole entries into `pending/` by one rename. All calls block.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::UNIX_EPOCH;

use bytes::Bytes;

use super::entry::{DeadLetter, EntryId, Meta, now_ms};

const META: &str = "meta.json";
const IMAGE: &str = "image.bin";
/// Marks an attempt that creates Odoo records: after a crash Odoo may still
/// be executing it, so the entry waits, counted from the marker's mtime.
/// Never the metadata, and not fsynced: a power cut only shortens the wait.
const IN_FLIGHT: &str = "inflight";
/// Entries held at most: bounds inodes and the daemon's index (~200 bytes
/// an entry) as `spool.max_bytes` bounds the disk.
pub const MAX_ENTRIES: u64 = 100_000;

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Dead,
}

impl State {
    /// `pending` or `dead`, also its directory's name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Dead => "dead",
        }
    }
}

/// Why the spool could not do something.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    #[error("spool I/O failed: {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("the spool is full ({0})")]
    Full(String),
    #[error("spool entry {id} is damaged: {reason}")]
    Corrupt { id: String, reason: String },
    #[error("no {} spool entry {id}", state.label())]
    NotFound { state: State, id: String },
    #[error(
        "the spool {} is in use by another `influence-gen-bridge serve`{}; one spool serves one daemon (give each its own spool.dir)",
        path.display(),
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Busy { path: PathBuf, holder: Option<u32> },
    #[error("{0}")]
    Refused(String),
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SpoolError {
    move |source| {
        let path = path.to_owned();
        SpoolError::Io {
            action,
            path,
            source,
        }
    }
}

/// Entries and bytes on disk: the one place they are counted. This
/// process's changes add up; [`Store::scan`] counts again (for the CLI's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub pending: u64,
    pub dead: u64,
    pub bytes: u64,
}

impl Usage {
    fn add(&mut self, state: State, entries: i64, bytes: i64) {
        let count = match state {
            State::Pending => &mut self.pending,
            State::Dead => &mut self.dead,
        };
        *count = count.saturating_add_signed(entries);
        self.bytes = self.bytes.saturating_add_signed(bytes);
    }
}

/// The spool directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    fsync: bool,
    max_bytes: u64,
    usage: Mutex<Usage>,
    _lock: Option<File>,
}

impl Store {
    /// Opens the spool for `serve`, creating it if needed: refuses with
    /// [`SpoolError::Busy`] while another `serve` has it (the kernel drops
    /// the lock even on `kill -9`), then clears what a crash left.
    pub fn open(root: &Path, fsync: bool, max_bytes: u64) -> Result<Self, SpoolError> {
        for dir in ["", "tmp", "pending", "dead"] {
            let path = root.join(dir);
            let mut builder = fs::DirBuilder::new();
            let created = builder.recursive(true).mode(0o700).create(&path);
            created.map_err(io_error("create", &path))?;
        }
        let path = root.join("serve.lock");
        let mut file = lock_file(&path)?;
        match file.try_lock() {
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let (path, holder) = (root.to_owned(), pid.trim().parse().ok());
                return Err(SpoolError::Busy { path, holder });
            }
            locked => locked.map_err(|e| io_error("lock", &path)(e.into()))?,
        }
        let pid = std::process::id();
        let written = file.set_len(0).and_then(|()| write!(file, "{pid}"));
        written.map_err(io_error("write", &path))?;
        for name in ["tmp", "pending", "dead"] {
            for entry in list(&root.join(name))? {
                let (path, file_name) = (entry.path(), entry.file_name());
                let old = file_name.to_str().and_then(|n| n.strip_suffix(".json"));
                if let Some(id) = old.and_then(EntryId::parse) {
                    return Err(SpoolError::Refused(format!(
                        "{} is a spool entry in the layout of an earlier build: run \
                         `mkdir {id} && mv {id}.json {id}/{META}` in {name}/, then start again",
                        path.display()
                    )));
                }
                // Half written, or half removed (no metadata: no entry).
                // Harmless where it stays: every reader skips it.
                if name == "tmp" || (path.is_dir() && !path.join(META).exists()) {
                    let _ = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
                }
            }
        }
        Self::start(root, fsync, max_bytes, Some(file))
    }

    /// Opens an existing spool to read it.
    pub fn inspect(root: &Path) -> Result<Self, SpoolError> {
        Self::start(root, false, u64::MAX, None)
    }

    /// Opens an existing spool for `spool retry` or `purge`, once no other
    /// one runs (the lock file is only read: any user's will do).
    pub fn administer(root: &Path, fsync: bool) -> Result<Self, SpoolError> {
        Self::inspect(root)?;
        let path = root.join("admin.lock");
        let file = File::open(&path).or_else(|_| lock_file(&path))?;
        file.lock().map_err(io_error("lock", &path))?;
        Self::start(root, fsync, u64::MAX, Some(file))
    }

    fn start(root: &Path, fsync: bool, max: u64, lock: Option<File>) -> Result<Self, SpoolError> {
        let store = Self {
            root: root.to_owned(),
            fsync,
            max_bytes: max,
            usage: Mutex::default(),
            _lock: lock,
        };
        store.scan()?;
        Ok(store)
    }

    fn dir(&self, state: State, id: &EntryId) -> PathBuf {
        self.root.join(state.label()).join(id.as_str())
    }

    fn account(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn usage(&self) -> Usage {
        *self.account()
    }

    /// The pending ids, oldest first, counting every entry on the way.
    pub fn scan(&self) -> Result<Vec<EntryId>, SpoolError> {
        let mut usage = Usage::default();
        let mut pending = Vec::new();
        for state in [State::Pending, State::Dead] {
            for id in self.ids(state)? {
                let Some(bytes) = size(&self.dir(state, &id)) else {
                    continue;
                };
                usage.add(state, 1, bytes as i64);
                pending.extend((state == State::Pending).then_some(id));
            }
        }
        *self.account() = usage;
        Ok(pending)
    }

    /// The ids in `state`, oldest first.
    pub fn ids(&self, state: State) -> Result<Vec<EntryId>, SpoolError> {
        let entries = list(&self.root.join(state.label()))?;
        let names = entries.iter().map(fs::DirEntry::file_name);
        let mut ids: Vec<EntryId> = names.filter_map(|n| EntryId::parse(n.to_str()?)).collect();
        ids.sort();
        Ok(ids)
    }

    /// Writes a new pending entry durably, or nothing ([`SpoolError::Full`]
    /// beyond the limits).
    ///
    /// Each entry fsyncs `pending/` itself: a group-committed fsync shared by
    /// concurrent writers measured no gain on ext4 (32 writers: 4,571–5,244
    /// against 4,769–5,299 entries/s; BENCHMARKS.md, "Group-committed fsync").
    pub fn put(&self, meta: &Meta, image: Option<&[u8]>) -> Result<(), SpoolError> {
        let bytes = to_json(meta)?;
        let size = bytes.len() as u64 + image.map_or(0, |image| image.len() as u64);
        let mut usage = self.account();
        let (entries, used) = (usage.pending + usage.dead, usage.bytes);
        if entries >= MAX_ENTRIES || used.saturating_add(size) > self.max_bytes {
            let max = self.max_bytes;
            return Err(SpoolError::Full(format!(
                "{entries} entries, {used} + {size} bytes; it holds {MAX_ENTRIES} entries and spool.max_bytes = {max}"
            )));
        }
        usage.add(State::Pending, 1, size as i64);
        drop(usage);
        let staging = self.root.join("tmp").join(meta.id.as_str());
        let target = self.dir(State::Pending, &meta.id);
        let written = (|| {
            let mut builder = fs::DirBuilder::new();
            let created = builder.mode(0o700).create(&staging);
            created.map_err(io_error("create", &staging))?;
            if let Some(image) = image {
                self.write(&staging.join(IMAGE), image)?;
            }
            self.write(&staging.join(META), &bytes)?;
            self.sync(&staging)?;
            fs::rename(&staging, &target).map_err(io_error("move into pending", &target))?;
            // Group commit of this fsync measured no gain (ext4 commits
            // concurrent fsyncs together): 8 writers, 2,500–2,900 entries/s
            // either way (BENCHMARKS.md, "Group-committed fsync").
            let synced = self.sync(&self.root.join(State::Pending.label()));
            if synced.is_err() {
                // Not durable, so not accepted: take it back out.
                let _ = fs::rename(&target, &staging);
            }
            synced
        })();
        if written.is_err() {
            let _ = fs::remove_dir_all(&staging);
            self.account().add(State::Pending, -1, -(size as i64));
        }
        written
    }

    /// The metadata of an entry, checked against its image file's size.
    pub fn meta(&self, state: State, id: &EntryId) -> Result<Meta, SpoolError> {
        let meta = self.document(state, id)?;
        let image = fs::metadata(self.dir(state, id).join(IMAGE)).map(|m| m.len());
        match (meta.image_bytes, image) {
            (Some(expected), Ok(len)) if len != expected => {
                Err(corrupt(id, "image.bin has the wrong size".into()))
            }
            (Some(_), Err(_)) => Err(corrupt(id, "image.bin is missing".into())),
            _ => Ok(meta),
        }
    }

    fn document(&self, state: State, id: &EntryId) -> Result<Meta, SpoolError> {
        let path = self.dir(state, id).join(META);
        let bytes = fs::read(&path).map_err(missing_or(state, id, "read", &path))?;
        Meta::from_json(&bytes).map_err(|reason| corrupt(id, reason))
    }

    /// The metadata and image bytes of an entry.
    pub fn load(&self, state: State, id: &EntryId) -> Result<(Meta, Option<Bytes>), SpoolError> {
        let meta = self.meta(state, id)?;
        if meta.image_bytes.is_none() {
            return Ok((meta, None));
        }
        let path = self.dir(state, id).join(IMAGE);
        let image = fs::read(&path).map_err(io_error("read", &path))?;
        Ok((meta, Some(Bytes::from(image))))
    }

    /// Replaces the metadata of an entry in `state`, durably; an attempt in
    /// flight is over.
    pub fn update(&self, state: State, meta: &Meta) -> Result<(), SpoolError> {
        let dir = self.dir(state, &meta.id);
        let target = dir.join(META);
        fs::metadata(&target).map_err(missing_or(state, &meta.id, "read", &target))?;
        let staging = dir.join("meta.json.new");
        let _ = fs::remove_file(&staging);
        self.write(&staging, &to_json(meta)?)?;
        fs::rename(&staging, &target).map_err(io_error("replace", &target))?;
        let _ = fs::remove_file(dir.join(IN_FLIGHT));
        self.sync(&dir)
    }

    /// Removes an entry for good (applied, or purged by an admin). Not
    /// fsynced: a removal lost in a crash only means applying the entry
    /// again, which is idempotent.
    pub fn remove(&self, state: State, id: &EntryId) -> Result<(), SpoolError> {
        let dir = self.dir(state, id);
        let (bytes, meta) = (size(&dir).unwrap_or(0), dir.join(META));
        fs::remove_file(&meta).map_err(missing_or(state, id, "remove", &meta))?;
        let _ = fs::remove_dir_all(&dir);
        self.account().add(state, -1, -(bytes as i64));
        Ok(())
    }

    /// Moves an entry from `from` to the other state, writing `meta` first
    /// if given.
    pub fn transfer(
        &self,
        from: State,
        meta: Option<&Meta>,
        id: &EntryId,
    ) -> Result<(), SpoolError> {
        if let Some(meta) = meta {
            self.update(from, meta)?;
        }
        let to = match from {
            State::Pending => State::Dead,
            State::Dead => State::Pending,
        };
        let (source, target) = (self.dir(from, id), self.dir(to, id));
        fs::rename(&source, &target).map_err(missing_or(from, id, "move", &source))?;
        let mut usage = self.account();
        usage.add(from, -1, 0);
        usage.add(to, 1, 0);
        drop(usage);
        self.sync(&self.root.join(to.label()))?;
        self.sync(&self.root.join(from.label()))
    }

    /// Moves a pending entry that cannot be applied as it is on disk to the
    /// dead letters with `reason`, or, if its metadata cannot be read, as
    /// found (to repair, or for a bridge of its version; reading says why).
    pub fn quarantine(&self, id: &EntryId, reason: &str) -> Result<(), SpoolError> {
        match self.document(State::Pending, id) {
            Ok(mut meta) => {
                let (reason, at_ms) = (reason.to_owned(), now_ms());
                meta.dead = Some(DeadLetter { reason, at_ms });
                self.transfer(State::Pending, Some(&meta), id)
            }
            Err(SpoolError::Corrupt { .. }) => self.transfer(State::Pending, None, id),
            Err(error) => Err(error),
        }?;
        tracing::warn!(entry = %id, %reason, "spool entry cannot be applied; moved to the dead letters");
        Ok(())
    }

    /// Marks pending entry `id` as being applied from now on.
    pub fn mark_in_flight(&self, id: &EntryId) -> Result<(), SpoolError> {
        let path = self.dir(State::Pending, id).join(IN_FLIGHT);
        fs::write(&path, b"").map_err(io_error("write", &path))
    }

    /// Since when pending entry `id` has been in flight, if marked.
    pub fn in_flight_since(&self, id: &EntryId) -> Option<u64> {
        let path = self.dir(State::Pending, id).join(IN_FLIGHT);
        let modified = fs::metadata(&path).ok()?.modified().ok()?;
        u64::try_from(modified.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()
    }

    /// Readiness: a file can be created and synced in the spool.
    pub fn probe_writable(&self) -> Result<(), SpoolError> {
        let path = self
            .root
            .join(format!("tmp/probe-{:08x}", fastrand::u32(..)));
        let result = self.write(&path, b"probe");
        let _ = fs::remove_file(&path);
        result
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
        let mut options = OpenOptions::new();
        let opened = options.write(true).create_new(true).mode(0o600).open(path);
        let mut file = opened.map_err(io_error("create", path))?;
        file.write_all(bytes).map_err(io_error("write", path))?;
        if self.fsync {
            file.sync_all().map_err(io_error("fsync", path))?;
        }
        Ok(())
    }

    fn sync(&self, dir: &Path) -> Result<(), SpoolError> {
        let synced = match self.fsync {
            true => File::open(dir).and_then(|dir| dir.sync_all()),
            false => Ok(()),
        };
        synced.map_err(io_error("fsync", dir))
    }
}

fn list(dir: &Path) -> Result<Vec<fs::DirEntry>, SpoolError> {
    let entries = fs::read_dir(dir).map_err(io_error("list", dir))?;
    Ok(entries.flatten().collect())
}

fn lock_file(path: &Path) -> Result<File, SpoolError> {
    let mut options = OpenOptions::new();
    let options = options.read(true).write(true).create(true).truncate(false);
    options
        .mode(0o600)
        .open(path)
        .map_err(io_error("open", path))
}

/// Bytes an entry takes; `None` without metadata.
fn size(dir: &Path) -> Option<u64> {
    let len = |name| fs::metadata(dir.join(name)).map(|m| m.len());
    Some(len(META).ok()? + len(IMAGE).unwrap_or(0))
}

fn to_json(meta: &Meta) -> Result<Vec<u8>, SpoolError> {
    serde_json::to_vec(meta).map_err(|e| corrupt(&meta.id, e.to_string()))
}

fn corrupt(id: &EntryId, reason: String) -> SpoolError {
    let id = id.to_string();
    SpoolError::Corrupt { id, reason }
}

/// [`SpoolError::NotFound`] when the entry is missing, else the I/O error.
fn missing_or(
    state: State,
    id: &EntryId,
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> SpoolError {
    move |error| match error.kind() {
        io::ErrorKind::NotFound => {
            let id = id.to_string();
            SpoolError::NotFound { state, id }
        }
        _ => io_error(action, path)(error),
    }
}

#[cfg(test)]
mod tests;
