//! Odoo over its external API: the only way the bridge touches Odoo.
//!
//! [`OdooClient`] is the session (API choice, login, uid cache, bounded
//! concurrency, ORM methods) over one HTTP [`transport`] that speaks
//! `/jsonrpc` (Odoo 16-19) or `/json/2` (Odoo 19+, arguments by name as
//! [`json2`] says), chosen as [`api`] says; callers never see which.
//! [`OdooError`] sorts failures into the kinds callers branch on, the same
//! for both wires; the standing (`standing.rs`) remembers whether Odoo
//! refuses the bridge itself right now; [`records`] and [`value`] decode
//! what Odoo returns (`false` for unset, `[id, name]` for many2one) without
//! panicking; [`protocol`] tells whether Odoo has the companion addon.

pub mod api;
mod client;
mod error;
pub mod json2;
pub mod protocol;
pub mod records;
mod standing;
pub mod transport;
pub mod value;

pub use api::Api;
pub use client::{AccessOperation, FieldInfo, OdooClient, SearchOptions, ServerVersion, Uid};
pub use error::{OdooError, Refusal, ServerErrorKind};
pub use protocol::Protocol;
