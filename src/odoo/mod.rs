//! Odoo over its external API: the only way the bridge touches Odoo.
//!
//! [`OdooClient`] (the session) speaks `/jsonrpc` or `/json/2` ([`api`])
//! over one HTTP [`transport`]; callers never see which. [`OdooError`]
//! sorts failures the same for both; [`records`] and [`value`] decode what
//! Odoo returns; [`protocol`] tells whether Odoo has the companion addon.

pub mod api;
mod client;
mod error;
pub mod json2;
pub mod protocol;
pub mod records;
mod standing;
pub mod transport;
pub mod value;

pub use api::{Api, ServerVersion};
pub use client::{AccessOperation, FieldInfo, OdooClient, SearchOptions};
pub use error::{OdooError, Refusal, ServerErrorKind};
pub use protocol::Protocol;
