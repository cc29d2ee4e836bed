//! The spool on disk: an entry per file (or per directory when it carries
//! an image), moved between state directories by atomic renames.
//!
//! ```text
//! <spool dir>/
//!   serve.lock              held by the one `serve` process
//!   admin.lock              held by a changing `spool` command while it runs
//!   tmp/                    being written by `serve`; emptied at its start
//!   pending/<id>.json       accepted, not yet applied (no image: failures, image URLs)
//!   pending/<id>/           the same with an inline image: meta.json + image.bin
//!   pending/<id>.inflight   beside an entry while an attempt runs
//!   dead/…                  can never apply; kept for an admin, same layout
//!   dead/<id>.reason        why, for an entry whose metadata cannot be read
//! ```
//!
//! An entry is written whole under `tmp/` and fsynced (for a directory, its
//! files and the directory itself), then one `rename` makes it appear in
//! `pending/`, and `pending/` itself is fsynced — one fsync shared by every
//! writer of the moment ([`GroupSync`]). After [`Store::put`] returns, the
//! entry survives `kill -9` and power loss; a crash before that leaves only
//! debris in `tmp/`. Metadata is replaced by the rename of a new file that
//! was fsynced first (with `spool.fsync`), so a power cut leaves the old
//! metadata or the new, never an empty file; the image file, written once,
//! is never rewritten. Removal unlinks the metadata first, so the entry ends
//! atomically (a directory left without it is debris, cleared at the next
//! start of `serve`). Every call is blocking file I/O: async callers run it
//! on the blocking pool. [`Store::open`], [`Store::inspect`] and
//! [`Store::administer`] say who may open the spool, and how; [`lock`] who
//! may change it; [`Store::mark_in_flight`] and [`Store::quarantine`] what
//! the marker and reason files are for.

mod in_flight;
pub mod lock;
mod open;
mod quarantine;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;

use super::entry::{EntryId, Meta};
use super::group_sync::GroupSync;

const META_FILE: &str = "meta.json";
const IMAGE_FILE: &str = "image.bin";
/// The name of an entry without an image: `<id>.json`.
const FILE_SUFFIX: &str = ".json";
/// The extension of metadata being replaced (`….json.new` / `meta.json.new`).
const NEW_EXTENSION: &str = "json.new";
/// The end of the name of metadata being replaced.
const NEW_SUFFIX: &str = ".json.new";
/// The end of an in-flight marker's name: `pending/<id>.inflight`.
const IN_FLIGHT_SUFFIX: &str = ".inflight";
/// The end of a quarantine reason's name: `dead/<id>.reason`.
const REASON_SUFFIX: &str = ".reason";

/// How an entry is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `<id>.json`: metadata only.
    File,
    /// `<id>/meta.json` and `<id>/image.bin`.
    Dir,
}

/// Metadata documents are small; anything larger is damaged.
const MAX_META_BYTES: u64 = 1024 * 1024;

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Dead,
}

impl State {
    fn dir(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Dead => "dead",
        }
    }

    /// `pending` or `dead`.
    pub fn label(self) -> &'static str {
        self.dir()
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
    #[error("the spool is full ({reason})")]
    Full { reason: String },
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

/// Bounds on what the spool holds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_entries: u64,
}

/// Bytes and entries on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Pending and dead together.
    pub bytes: u64,
    /// Pending and dead together.
    pub entries: u64,
    /// Of which dead letters.
    pub dead: u64,
}

impl Usage {
    /// Entries in `pending/`.
    pub fn pending(&self) -> u64 {
        self.entries.saturating_sub(self.dead)
    }
}

/// The spool directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    fsync: bool,
    limits: Limits,
    usage: Mutex<Usage>,
    /// fsyncs of `pending/`, shared by concurrent writers.
    pending_sync: GroupSync,
    /// [`lock::serve`] or [`lock::admin`], held as long as the store.
    _lock: Option<lock::Held>,
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SpoolError + 'a {
    move |source| SpoolError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// The spool directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn entry_dir(&self, state: State, id: &EntryId) -> PathBuf {
        self.root.join(state.dir()).join(id.as_str())
    }

    fn entry_file(&self, state: State, id: &EntryId) -> PathBuf {
        self.root
            .join(state.dir())
            .join(format!("{id}{FILE_SUFFIX}"))
    }

    /// Where entry `id` is in `state`, if it is there at all.
    fn locate(&self, state: State, id: &EntryId) -> Option<Layout> {
        if self.entry_file(state, id).is_file() {
            Some(Layout::File)
        } else if self.entry_dir(state, id).join(META_FILE).is_file() {
            Some(Layout::Dir)
        } else {
            None
        }
    }

    /// The path of the entry's metadata.
    fn meta_path(&self, state: State, id: &EntryId, layout: Layout) -> PathBuf {
        match layout {
            Layout::File => self.entry_file(state, id),
            Layout::Dir => self.entry_dir(state, id).join(META_FILE),
        }
    }

    /// The path that moves when the entry changes state.
    fn entry_path(&self, state: State, id: &EntryId, layout: Layout) -> PathBuf {
        match layout {
            Layout::File => self.entry_file(state, id),
            Layout::Dir => self.entry_dir(state, id),
        }
    }

    /// Bytes the entry takes on disk.
    fn entry_size(&self, state: State, id: &EntryId, layout: Layout) -> u64 {
        let size = |path: PathBuf| fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        match layout {
            Layout::File => size(self.entry_file(state, id)),
            Layout::Dir => {
                let dir = self.entry_dir(state, id);
                size(dir.join(META_FILE)) + size(dir.join(IMAGE_FILE))
            }
        }
    }

    /// Current usage (as of the last change or [`Store::refresh_usage`]).
    pub fn usage(&self) -> Usage {
        *self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Recounts what is on disk (other processes, such as the `spool` CLI,
    /// change it too).
    pub fn refresh_usage(&self) -> Result<Usage, SpoolError> {
        let mut usage = Usage::default();
        for state in [State::Pending, State::Dead] {
            for id in self.ids(state)? {
                if let Some(layout) = self.locate(state, &id) {
                    usage.entries += 1;
                    usage.dead += u64::from(state == State::Dead);
                    usage.bytes += self.entry_size(state, &id, layout);
                }
            }
        }
        *self.usage.lock().unwrap_or_else(|p| p.into_inner()) = usage;
        Ok(usage)
    }

    fn adjust_usage(&self, bytes: i64, entries: i64, dead: i64) {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        usage.bytes = usage.bytes.saturating_add_signed(bytes);
        usage.entries = usage.entries.saturating_add_signed(entries);
        usage.dead = usage.dead.saturating_add_signed(dead);
    }

    /// Writes a new pending entry durably. Refuses with [`SpoolError::Full`]
    /// beyond the limits; on any error nothing is left in `pending/`.
    pub fn put(&self, meta: &Meta, image: Option<&[u8]>) -> Result<(), SpoolError> {
        let meta_bytes = serde_json::to_vec(meta).map_err(|e| SpoolError::Corrupt {
            id: meta.id.to_string(),
            reason: e.to_string(),
        })?;
        let size = meta_bytes.len() as u64 + image.map_or(0, |i| i.len() as u64);
        self.reserve(size)?;
        let written = self.write_new(meta, &meta_bytes, image);
        if written.is_err() {
            self.adjust_usage(-(size as i64), -1, 0);
        }
        written
    }

    fn reserve(&self, size: u64) -> Result<(), SpoolError> {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        if usage.entries >= self.limits.max_entries {
            return Err(SpoolError::Full {
                reason: format!(
                    "{} entries, the most the spool holds is {}",
                    usage.entries, self.limits.max_entries
                ),
            });
        }
        if usage.bytes.saturating_add(size) > self.limits.max_bytes {
            return Err(SpoolError::Full {
                reason: format!(
                    "{} + {size} bytes would exceed spool.max_bytes = {}",
                    usage.bytes, self.limits.max_bytes
                ),
            });
        }
        usage.bytes += size;
        usage.entries += 1;
        Ok(())
    }

    fn write_new(
        &self,
        meta: &Meta,
        meta_bytes: &[u8],
        image: Option<&[u8]>,
    ) -> Result<(), SpoolError> {
        let layout = if image.is_some() {
            Layout::Dir
        } else {
            Layout::File
        };
        let name = match layout {
            Layout::File => format!("{}{FILE_SUFFIX}", meta.id),
            Layout::Dir => meta.id.to_string(),
        };
        let staging = self.root.join("tmp").join(&name);
        let result = (|| {
            match (layout, image) {
                (Layout::Dir, Some(image)) => {
                    fs::DirBuilder::new()
                        .mode(0o700)
                        .create(&staging)
                        .map_err(io_error("create", &staging))?;
                    self.write_file(&staging.join(IMAGE_FILE), image)?;
                    self.write_file(&staging.join(META_FILE), meta_bytes)?;
                    self.sync_dir(&staging)?;
                }
                _ => self.write_file(&staging, meta_bytes)?,
            }
            let target = self.entry_path(State::Pending, &meta.id, layout);
            fs::rename(&staging, &target).map_err(io_error("move into pending", &target))?;
            if self.fsync
                && let Err(source) = self.pending_sync.sync()
            {
                // Not durable, so not accepted: take it back out.
                let _ = fs::rename(&target, &staging);
                return Err(SpoolError::Io {
                    action: "fsync",
                    path: self.root.join(State::Pending.dir()),
                    source,
                });
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging).or_else(|_| fs::remove_file(&staging));
        }
        result
    }

    fn write_file(&self, path: &Path, bytes: &[u8]) -> Result<(), SpoolError> {
        write_file(path, bytes, self.fsync)
    }

    fn sync_dir(&self, path: &Path) -> Result<(), SpoolError> {
        if self.fsync {
            sync_dir(path)?;
        }
        Ok(())
    }

    /// The ids in `state`, oldest first.
    pub fn ids(&self, state: State) -> Result<Vec<EntryId>, SpoolError> {
        let dir = self.root.join(state.dir());
        let mut ids: Vec<EntryId> = fs::read_dir(&dir)
            .map_err(io_error("list", &dir))?
            .flatten()
            .filter_map(|entry| open::id_of(entry.file_name().to_str()?))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// The metadata of entry `id` in `state`.
    pub fn meta(&self, state: State, id: &EntryId) -> Result<Meta, SpoolError> {
        let not_found = || SpoolError::NotFound {
            state,
            id: id.to_string(),
        };
        let layout = self.locate(state, id).ok_or_else(not_found)?;
        let path = self.meta_path(state, id, layout);
        let length = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound {
                    state,
                    id: id.to_string(),
                });
            }
            Err(e) => return Err(io_error("read", &path)(e)),
        };
        if length > MAX_META_BYTES {
            return Err(SpoolError::Corrupt {
                id: id.to_string(),
                reason: "meta.json is too large".into(),
            });
        }
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        Meta::from_json(&bytes).map_err(|reason| SpoolError::Corrupt {
            id: id.to_string(),
            reason,
        })
    }

    /// The metadata and image bytes of pending entry `id`.
    pub fn load(&self, id: &EntryId) -> Result<(Meta, Option<Bytes>), SpoolError> {
        self.load_in(State::Pending, id)
    }

    /// The metadata and image bytes of entry `id` in `state`.
    pub fn load_in(&self, state: State, id: &EntryId) -> Result<(Meta, Option<Bytes>), SpoolError> {
        let meta = self.meta(state, id)?;
        if !meta.has_image_file() {
            return Ok((meta, None));
        }
        let path = self.entry_dir(state, id).join(IMAGE_FILE);
        let image = fs::read(&path).map_err(io_error("read", &path))?;
        if image.len() as u64 != meta.image_bytes() {
            return Err(SpoolError::Corrupt {
                id: id.to_string(),
                reason: "image.bin has the wrong size".into(),
            });
        }
        Ok((meta, Some(Bytes::from(image))))
    }

    /// Replaces the metadata of an entry in `state`, durably: the new file
    /// is fsynced before it is renamed over the old one, then the directory.
    pub fn update(&self, state: State, meta: &Meta) -> Result<(), SpoolError> {
        let layout = self
            .locate(state, &meta.id)
            .ok_or_else(|| SpoolError::NotFound {
                state,
                id: meta.id.to_string(),
            })?;
        let bytes = serde_json::to_vec(meta).map_err(|e| SpoolError::Corrupt {
            id: meta.id.to_string(),
            reason: e.to_string(),
        })?;
        let target = self.meta_path(state, &meta.id, layout);
        let staging = target.with_extension(NEW_EXTENSION);
        let _ = fs::remove_file(&staging);
        self.write_file(&staging, &bytes)?;
        fs::rename(&staging, &target).map_err(io_error("replace", &target))?;
        self.sync_dir(target.parent().unwrap_or(&self.root))
    }

    /// Removes an entry for good (applied, or purged by an admin).
    pub fn remove(&self, state: State, id: &EntryId) -> Result<(), SpoolError> {
        let layout = self.locate(state, id).ok_or_else(|| SpoolError::NotFound {
            state,
            id: id.to_string(),
        })?;
        let size = self.entry_size(state, id, layout);
        // Unlinking the metadata ends the entry at once: a directory without
        // it is debris, ignored by listings and cleared at the next open.
        let meta = self.meta_path(state, id, layout);
        match fs::remove_file(&meta) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SpoolError::NotFound {
                    state,
                    id: id.to_string(),
                });
            }
            Err(e) => return Err(io_error("remove", &meta)(e)),
        }
        // Not fsynced: if the removal is lost in a crash the entry is applied
        // again, and applying is idempotent.
        if layout == Layout::Dir {
            let dir = self.entry_dir(state, id);
            let _ = fs::remove_file(dir.join(IMAGE_FILE));
            let _ = fs::remove_file(meta.with_extension(NEW_EXTENSION));
            let _ = fs::remove_dir(&dir);
        }
        match state {
            State::Pending => {
                let _ = self.clear_in_flight(id);
            }
            State::Dead => self.remove_reason(id),
        }
        self.adjust_usage(-(size as i64), -1, -i64::from(state == State::Dead));
        Ok(())
    }

    /// Moves an entry from `from` to the other state, writing `meta` first.
    pub fn transfer(&self, from: State, meta: &Meta) -> Result<(), SpoolError> {
        let to = match from {
            State::Pending => State::Dead,
            State::Dead => State::Pending,
        };
        self.update(from, meta)?;
        let layout = self
            .locate(from, &meta.id)
            .ok_or_else(|| SpoolError::NotFound {
                state: from,
                id: meta.id.to_string(),
            })?;
        let source = self.entry_path(from, &meta.id, layout);
        let target = self.entry_path(to, &meta.id, layout);
        fs::rename(&source, &target).map_err(io_error("move", &source))?;
        match from {
            State::Pending => {
                self.adjust_usage(0, 0, 1);
                let _ = self.clear_in_flight(&meta.id);
            }
            State::Dead => {
                self.adjust_usage(0, 0, -1);
                self.remove_reason(&meta.id);
            }
        }
        self.sync_dir(&self.root.join(to.dir()))?;
        self.sync_dir(&self.root.join(from.dir()))
    }

    /// Checks that a file can be created and synced in the spool (readiness).
    pub fn probe_writable(&self) -> Result<(), SpoolError> {
        let path = self
            .root
            .join("tmp")
            .join(format!("probe-{:08x}", fastrand::u32(..)));
        let result = self.write_file(&path, b"probe");
        let _ = fs::remove_file(&path);
        result
    }
}

fn write_file(path: &Path, bytes: &[u8], durable: bool) -> Result<(), SpoolError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error("create", path))?;
    file.write_all(bytes).map_err(io_error("write", path))?;
    if durable {
        file.sync_all().map_err(io_error("fsync", path))?;
    }
    Ok(())
}

fn sync_dir(path: &Path) -> Result<(), SpoolError> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error("fsync", path))
}

#[cfg(test)]
mod tests;
