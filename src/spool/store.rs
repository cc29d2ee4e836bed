//! The spool on disk: a directory per entry, moved between state
//! directories by atomic renames.
//!
//! ```text
//! <spool dir>/
//!   serve.lock       flock of the one `serve` process (holds its pid)
//!   admin.lock       flock of a changing `spool` command while it runs
//!   tmp/<id>/        being written by `serve`; emptied at its start
//!   pending/<id>/    accepted, not yet applied: meta.json, image.bin (an
//!                    inline image, written once), inflight (see IN_FLIGHT)
//!   dead/<id>/       can never apply; kept for an admin
//! ```
//!
//! An entry is written whole under `tmp/` and fsynced (files, then its
//! directory), then one rename makes it appear in `pending/`, which is
//! fsynced: after [`Store::put`] returns, the entry survives `kill -9` and
//! power loss. Metadata is replaced by the rename of a file fsynced first,
//! so a power cut leaves the old metadata or the new, never an empty file.
//! Removal unlinks `meta.json` first: the entry ends atomically, and a
//! directory without it is debris, cleared at the next start of `serve`.
//!
//! [`Store::open`] is for `serve`, which has the spool alone (a second
//! `serve` is refused; the kernel drops the lock even on `kill -9`) and is
//! the only one to delete in `tmp/` and `pending/`. [`Store::inspect`] is
//! for `spool list` and `show`: no lock, no write. [`Store::administer`] is
//! for `spool retry` and `purge`, one at a time: they change only `dead/`
//! and move whole entries into `pending/` by one rename, which the daemon
//! takes as it finds it, so they need not wait for it. Every call is
//! blocking file I/O.

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
/// Present while an attempt that creates Odoo records runs: after a crash
/// it says Odoo may still be executing that call, so the entry waits before
/// resuming. Written without fsync, and never the metadata: a power cut can
/// lose or empty it, which only shortens that wait, but cannot damage the
/// only copy of an accepted callback. It holds the attempt's start (ms); an
/// unreadable one counts from its mtime.
const IN_FLIGHT: &str = "inflight";
/// Metadata documents are small; anything larger is damaged.
const MAX_META_BYTES: u64 = 1024 * 1024;
/// Entries held at most, pending and dead: a bound on inodes and on the
/// daemon's index (~200 bytes an entry); `spool.max_bytes` bounds the disk.
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

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Entries and bytes on disk, pending and dead: the one place they are
/// counted. Each write and move of this process changes them; [`Store::scan`]
/// counts them again (the `spool` commands change the spool too).
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
    /// `serve.lock` or `admin.lock`, held as long as the store.
    _lock: Option<File>,
}

impl Store {
    /// Opens the spool at `root` for `serve` (creating it if needed): takes
    /// it for this process, refusing with [`SpoolError::Busy`] when another
    /// has it, clears what a crash left, and counts what is stored.
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
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = (&file).take(32).read_to_string(&mut pid);
                let holder = pid.trim().parse().ok();
                let path = root.to_owned();
                return Err(SpoolError::Busy { path, holder });
            }
            Err(TryLockError::Error(source)) => return Err(io_error("lock", &path)(source)),
        }
        file.set_len(0)
            .and_then(|()| write!(file, "{}", std::process::id()))
            .map_err(io_error("write", &path))?;
        let store = Self::new(root, fsync, max_bytes, Some(file));
        let tmp = root.join("tmp");
        for entry in fs::read_dir(&tmp)
            .map_err(io_error("list", &tmp))?
            .flatten()
        {
            let path = entry.path();
            let cleared = fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path));
            cleared.map_err(io_error("clean", &path))?;
        }
        for state in [State::Pending, State::Dead] {
            store.clear_debris(state)?;
        }
        store.scan()?;
        Ok(store)
    }

    /// Opens an existing spool to read it, changing nothing.
    pub fn inspect(root: &Path) -> Result<Self, SpoolError> {
        let store = Self::new(root, false, u64::MAX, None);
        store.scan()?;
        Ok(store)
    }

    /// Opens an existing spool for a changing `spool` command, once no
    /// other such command runs. The lock file is only read (flock needs no
    /// more), so one created by another user, such as root, is no obstacle.
    pub fn administer(root: &Path, fsync: bool) -> Result<Self, SpoolError> {
        // A wrong `spool.dir` is an error, not a new empty spool.
        Self::inspect(root)?;
        let path = root.join("admin.lock");
        let file = File::open(&path).or_else(|_| lock_file(&path))?;
        file.lock().map_err(io_error("lock", &path))?;
        let store = Self::new(root, fsync, u64::MAX, Some(file));
        store.scan()?;
        Ok(store)
    }

    fn new(root: &Path, fsync: bool, max_bytes: u64, lock: Option<File>) -> Self {
        let (root, usage) = (root.to_owned(), Mutex::default());
        Self {
            root,
            fsync,
            max_bytes,
            usage,
            _lock: lock,
        }
    }

    /// Removes the directories in `state` that a crash left without
    /// `meta.json` (no entry). An entry in the single-file layout of builds
    /// before 0.1.0 (`<id>.json`) stops the start with what to do: it is
    /// never taken for debris.
    fn clear_debris(&self, state: State) -> Result<(), SpoolError> {
        let dir = self.root.join(state.label());
        for entry in fs::read_dir(&dir)
            .map_err(io_error("list", &dir))?
            .flatten()
        {
            let (path, name) = (entry.path(), entry.file_name());
            let old = name.to_str().and_then(|n| n.strip_suffix(".json"));
            if let Some(id) = old.and_then(EntryId::parse) {
                return Err(SpoolError::Refused(format!(
                    "{} is a spool entry in the layout of an earlier build: in {}, run \
                     `mkdir {id} && mv {id}.json {id}/{META}`, then start again",
                    path.display(),
                    dir.display(),
                )));
            }
            if path.is_dir() && !path.join(META).exists() {
                // Harmless where it stays: every reader skips it.
                let _ = fs::remove_dir_all(&path);
            }
        }
        Ok(())
    }

    /// The spool directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, state: State, id: &EntryId) -> PathBuf {
        self.root.join(state.label()).join(id.as_str())
    }

    fn account(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Current usage (as of the last change or [`Store::scan`]).
    pub fn usage(&self) -> Usage {
        *self.account()
    }

    /// The pending ids, oldest first, counting every entry on the way.
    pub fn scan(&self) -> Result<Vec<EntryId>, SpoolError> {
        let mut usage = Usage::default();
        let mut pending = Vec::new();
        for state in [State::Pending, State::Dead] {
            for id in self.ids(state)? {
                if let Some(bytes) = size(&self.dir(state, &id)) {
                    usage.add(state, 1, bytes as i64);
                    if state == State::Pending {
                        pending.push(id);
                    }
                }
            }
        }
        *self.account() = usage;
        Ok(pending)
    }

    /// The ids in `state`, oldest first.
    pub fn ids(&self, state: State) -> Result<Vec<EntryId>, SpoolError> {
        let dir = self.root.join(state.label());
        let mut ids: Vec<EntryId> = fs::read_dir(&dir)
            .map_err(io_error("list", &dir))?
            .flatten()
            .filter_map(|entry| EntryId::parse(entry.file_name().to_str()?))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Writes a new pending entry durably. Refuses with [`SpoolError::Full`]
    /// beyond the limits; on any error nothing is left in `pending/`.
    pub fn put(&self, meta: &Meta, image: Option<&[u8]>) -> Result<(), SpoolError> {
        let bytes = to_json(&meta.id, meta)?;
        let size = (bytes.len() + image.map_or(0, <[u8]>::len)) as i64;
        {
            let mut usage = self.account();
            let entries = usage.pending + usage.dead;
            if entries >= MAX_ENTRIES {
                return Err(SpoolError::Full(format!(
                    "{entries} entries, the most it holds"
                )));
            }
            if usage.bytes.saturating_add(size as u64) > self.max_bytes {
                let (used, max) = (usage.bytes, self.max_bytes);
                let why = format!("{used} + {size} bytes would exceed spool.max_bytes = {max}");
                return Err(SpoolError::Full(why));
            }
            usage.add(State::Pending, 1, size);
        }
        let staging = self.root.join("tmp").join(meta.id.as_str());
        let target = self.dir(State::Pending, &meta.id);
        let written = (|| {
            let mut builder = fs::DirBuilder::new();
            builder
                .mode(0o700)
                .create(&staging)
                .map_err(io_error("create", &staging))?;
            if let Some(image) = image {
                self.write(&staging.join(IMAGE), image)?;
            }
            self.write(&staging.join(META), &bytes)?;
            self.sync(&staging)?;
            fs::rename(&staging, &target).map_err(io_error("move into pending", &target))?;
            // One fsync per entry: sharing it between concurrent writers
            // (group commit) measured no gain on ext4, whose journal commits
            // concurrent fsyncs together already: 8 writers, 2,500–2,900
            // entries/s either way (BENCHMARKS.md, "Group-committed fsync").
            let synced = self.sync(&self.root.join(State::Pending.label()));
            if synced.is_err() {
                // Not durable, so not accepted: take it back out.
                let _ = fs::rename(&target, &staging);
            }
            synced
        })();
        if written.is_err() {
            let _ = fs::remove_dir_all(&staging);
            self.account().add(State::Pending, -1, -size);
        }
        written
    }

    /// The metadata of entry `id` in `state`.
    pub fn meta(&self, state: State, id: &EntryId) -> Result<Meta, SpoolError> {
        let path = self.dir(state, id).join(META);
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|file| file.take(MAX_META_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|e| missing_or(e, state, id, "read", &path))?;
        if bytes.len() as u64 > MAX_META_BYTES {
            return Err(corrupt(id, "meta.json is too large".into()));
        }
        Meta::from_json(&bytes).map_err(|reason| corrupt(id, reason))
    }

    /// The metadata and image bytes of entry `id` in `state`.
    pub fn load(&self, state: State, id: &EntryId) -> Result<(Meta, Option<Bytes>), SpoolError> {
        let meta = self.meta(state, id)?;
        let Some(expected) = meta.image_bytes else {
            return Ok((meta, None));
        };
        let path = self.dir(state, id).join(IMAGE);
        match fs::read(&path) {
            Ok(image) if image.len() as u64 == expected => Ok((meta, Some(Bytes::from(image)))),
            Ok(_) => Err(corrupt(id, "image.bin has the wrong size".into())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(corrupt(id, "image.bin is missing".into()))
            }
            Err(e) => Err(io_error("read", &path)(e)),
        }
    }

    /// Replaces the metadata of an entry in `state`, durably: a new file,
    /// fsynced, renamed over the old one, then the directory fsynced.
    pub fn update(&self, state: State, meta: &Meta) -> Result<(), SpoolError> {
        let dir = self.dir(state, &meta.id);
        if !dir.join(META).is_file() {
            let id = meta.id.to_string();
            return Err(SpoolError::NotFound { state, id });
        }
        let (staging, target) = (dir.join("meta.json.new"), dir.join(META));
        let _ = fs::remove_file(&staging);
        self.write(&staging, &to_json(&meta.id, meta)?)?;
        fs::rename(&staging, &target).map_err(io_error("replace", &target))?;
        self.sync(&dir)
    }

    /// Removes an entry for good (applied, or purged by an admin).
    pub fn remove(&self, state: State, id: &EntryId) -> Result<(), SpoolError> {
        let dir = self.dir(state, id);
        let bytes = size(&dir).unwrap_or(0);
        // Not fsynced: if the removal is lost in a crash the entry is applied
        // again, and applying is idempotent.
        let meta = dir.join(META);
        fs::remove_file(&meta).map_err(|e| missing_or(e, state, id, "remove", &meta))?;
        let _ = fs::remove_dir_all(&dir);
        self.account().add(state, -1, -(bytes as i64));
        Ok(())
    }

    /// Moves an entry from `from` to the other state, writing `meta` first
    /// (when given); its in-flight marker stays behind.
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
        let _ = fs::remove_file(source.join(IN_FLIGHT));
        fs::rename(&source, &target).map_err(|e| missing_or(e, from, id, "move", &source))?;
        let mut usage = self.account();
        usage.add(from, -1, 0);
        usage.add(to, 1, 0);
        drop(usage);
        self.sync(&self.root.join(to.label()))?;
        self.sync(&self.root.join(from.label()))
    }

    /// Moves pending entry `id`, which cannot be applied as it is on disk,
    /// to the dead letters once, instead of skipping it at every poll.
    /// Readable metadata records `reason` as for any dead letter; unreadable
    /// metadata is kept exactly as found (an admin may repair it, or a
    /// bridge of its version read it), and reading it again says why.
    pub fn quarantine(&self, id: &EntryId, reason: &str) -> Result<(), SpoolError> {
        match self.meta(State::Pending, id) {
            Ok(mut meta) => {
                let (reason, at_ms) = (reason.to_owned(), now_ms());
                meta.dead = Some(DeadLetter { reason, at_ms });
                self.transfer(State::Pending, Some(&meta), id)
            }
            Err(SpoolError::Corrupt { .. }) => self.transfer(State::Pending, None, id),
            Err(error) => Err(error),
        }
    }

    /// Marks pending entry `id` as being applied since `since_ms`.
    pub fn mark_in_flight(&self, id: &EntryId, since_ms: u64) -> Result<(), SpoolError> {
        let path = self.dir(State::Pending, id).join(IN_FLIGHT);
        fs::write(&path, since_ms.to_string()).map_err(io_error("write", &path))
    }

    /// The attempt on `id` ended: removes its marker, if any (one left
    /// behind only makes a restart wait longer).
    pub fn clear_in_flight(&self, id: &EntryId) {
        let _ = fs::remove_file(self.dir(State::Pending, id).join(IN_FLIGHT));
    }

    /// Since when pending entry `id` has been in flight, if it is marked.
    pub fn in_flight_since(&self, id: &EntryId) -> Option<u64> {
        let path = self.dir(State::Pending, id).join(IN_FLIGHT);
        let text = fs::read_to_string(&path).ok()?;
        text.trim().parse().ok().or_else(|| {
            // Emptied by a power cut, or half-written: its mtime says when.
            let modified = fs::metadata(&path).ok()?.modified().ok()?;
            let ms = modified.duration_since(UNIX_EPOCH).ok()?.as_millis();
            u64::try_from(ms).ok()
        })
    }

    /// Checks that a file can be created and synced in the spool (readiness).
    pub fn probe_writable(&self) -> Result<(), SpoolError> {
        let name = format!("probe-{:08x}", fastrand::u32(..));
        let path = self.root.join("tmp").join(name);
        let result = self.write(&path, b"probe");
        let _ = fs::remove_file(&path);
        result
    }

    fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
        let mut options = OpenOptions::new();
        let mut file = (options.write(true).create_new(true).mode(0o600).open(path))
            .map_err(io_error("create", path))?;
        file.write_all(bytes).map_err(io_error("write", path))?;
        if self.fsync {
            file.sync_all().map_err(io_error("fsync", path))?;
        }
        Ok(())
    }

    fn sync(&self, dir: &Path) -> Result<(), SpoolError> {
        if self.fsync {
            let synced = File::open(dir).and_then(|dir| dir.sync_all());
            synced.map_err(io_error("fsync", dir))?;
        }
        Ok(())
    }
}

/// `serve.lock` or `admin.lock`, created if needed.
fn lock_file(path: &Path) -> Result<File, SpoolError> {
    let mut options = OpenOptions::new();
    let options = options.read(true).write(true).create(true).truncate(false);
    options
        .mode(0o600)
        .open(path)
        .map_err(io_error("open", path))
}

/// Bytes an entry takes (its metadata and image), `None` if it has no
/// metadata (being removed, or debris).
fn size(dir: &Path) -> Option<u64> {
    let len = |name| fs::metadata(dir.join(name)).map(|m| m.len());
    Some(len(META).ok()? + len(IMAGE).unwrap_or(0))
}

fn to_json(id: &EntryId, meta: &Meta) -> Result<Vec<u8>, SpoolError> {
    serde_json::to_vec(meta).map_err(|e| corrupt(id, e.to_string()))
}

fn corrupt(id: &EntryId, reason: String) -> SpoolError {
    let id = id.to_string();
    SpoolError::Corrupt { id, reason }
}

fn missing_or(
    error: io::Error,
    state: State,
    id: &EntryId,
    action: &'static str,
    path: &Path,
) -> SpoolError {
    match error.kind() {
        io::ErrorKind::NotFound => SpoolError::NotFound {
            state,
            id: id.to_string(),
        },
        _ => io_error(action, path)(error),
    }
}

#[cfg(test)]
mod tests;
