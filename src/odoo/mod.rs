//! Odoo over its external JSON-RPC API: the only way the bridge touches Odoo.
//!
//! [`OdooClient`] is the session (login, uid cache, bounded concurrency, ORM
//! methods) over a jsonrpsee [`transport`]; [`OdooError`] sorts failures into
//! the kinds callers branch on; [`records`] and [`value`] decode what Odoo
//! returns (`false` for unset, `[id, name]` for many2one) without panicking;
//! [`protocol`] tells whether Odoo has the companion addon.

mod client;
mod error;
pub mod protocol;
pub mod records;
pub mod transport;
pub mod value;

pub use client::{AccessOperation, FieldInfo, OdooClient, SearchOptions, ServerVersion, Uid};
pub use error::{OdooError, ServerErrorKind};
pub use protocol::Protocol;
