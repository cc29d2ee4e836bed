//! Accepted means durable: callbacks are written to a spool on local disk
//! before anything else, then applied to Odoo by a worker that retries until
//! Odoo takes them, so nothing accepted is lost to an Odoo restart, an N8N
//! that retries only three times, or a `kill -9` of the bridge.
//!
//! # Why a directory of files
//! The spool is a directory per entry with atomic renames ([`store`]), not an
//! embedded database, because:
//! * the `spool` CLI must list, retry and purge entries **while the daemon
//!   runs**; embedded stores such as redb or sled lock their file for one
//!   process, plain directories do not;
//! * payloads reach tens of MB: each image is written once into its own
//!   file and never rewritten, while the small metadata next to it is
//!   replaced on each attempt; nothing ever rewrites the whole spool, and
//!   start-up reads only names and metadata, never payloads;
//! * durability is the POSIX recipe (write, fsync file, fsync directory,
//!   rename, fsync parent) that admins can inspect with `ls`.
//!
//! [`queue`] is the daemon's in-memory index of pending entries and the
//! waiters of callbacks answered in-line; [`worker`] applies entries;
//! [`admin`] is the `spool` command line.

pub mod admin;
pub mod entry;
mod group_sync;
pub mod queue;
pub mod store;
pub mod worker;

pub use entry::{EntryId, Meta};
pub use queue::{Final, Gauges, Queue, RequestKey};
pub use store::{Limits, SpoolError, State, Store, Usage};

use crate::config::SpoolConfig;

/// Entries on disk at most (pending and dead): far more than an outage
/// leaves, before `spool.max_bytes` is near.
const MAX_ENTRIES: u64 = 100_000;

/// Opens the spool of `config` for `serve`, which then has it alone (see
/// [`Store::open`]; the `spool` commands use [`Store::inspect`] and
/// [`Store::administer`]).
pub fn open(config: &SpoolConfig) -> Result<Store, SpoolError> {
    Store::open(
        &config.dir,
        config.fsync,
        Limits {
            max_bytes: config.max_bytes,
            max_entries: MAX_ENTRIES,
        },
    )
}
