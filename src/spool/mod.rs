//! Accepted means durable: callbacks are written to a spool on local disk
//! before anything else, then applied to Odoo by a worker that retries until
//! Odoo takes them, so nothing accepted is lost to an Odoo restart, an N8N
//! that retries only three times, or a `kill -9` of the bridge.
//!
//! The spool is a directory per entry with atomic renames ([`store`]), not
//! an embedded database, because the `spool` CLI must list, retry and purge
//! entries **while the daemon runs** (embedded stores such as redb or sled
//! lock their file for one process); because payloads reach tens of MB,
//! each written once into its own file while the small metadata beside it
//! is replaced on each attempt, and start-up reads only names and metadata;
//! and because durability is the POSIX recipe (write, fsync file, fsync
//! directory, rename, fsync parent) that admins can inspect with `ls`.
//!
//! [`queue`] is the daemon's in-memory index of pending entries and the
//! waiters of callbacks answered in-line; [`worker`] applies entries;
//! [`admin`] is the `spool` command line.

pub mod admin;
pub mod entry;
pub mod queue;
pub mod store;
pub mod worker;

pub use entry::{EntryId, Meta};
pub use queue::{Final, Gauges, Queue, RequestKey};
pub use store::{SpoolError, State, Store, Usage};

/// Opens the spool of `config` for `serve`, which then has it alone.
pub fn open(config: &crate::config::SpoolConfig) -> Result<Store, SpoolError> {
    Store::open(&config.dir, config.fsync, config.max_bytes)
}
