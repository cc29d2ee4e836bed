//! Accepted means durable: callbacks are written to a spool on local disk
//! first, then applied to Odoo by a worker that retries until Odoo takes
//! them, so nothing accepted is lost to an Odoo restart, an N8N that retries
//! only three times, or a `kill -9` of the bridge. The spool is plain
//! directories and renames ([`store`]), not an embedded database: the
//! `spool` CLI works on it while the daemon runs (redb or sled lock their
//! file for one process), a payload of tens of MB is written once and
//! never rewritten, and admins can inspect it with `ls`. [`queue`] is the
//! daemon's index of pending entries, [`worker`] applies them, [`admin`] is
//! the `spool` command line.

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
