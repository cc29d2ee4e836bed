//! Accepted means durable: callbacks are written to local disk first, then
//! applied to Odoo by a worker that retries until Odoo takes them. Plain
//! directories and renames ([`store`]), not an embedded database: the
//! `spool` CLI reads it while the daemon runs, a large image is written
//! once, and `ls` shows it. [`queue`] indexes the pending entries, [`worker`]
//! applies them, [`admin`] is the `spool` command line.

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
