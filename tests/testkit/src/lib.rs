//! Test support for influence-gen-bridge. Never part of the production binary.
//!
//! The main piece is [`OdooEmulator`], a faithful emulator of Odoo 18's external JSON-RPC API
//! (`POST /jsonrpc`) on a real HTTP/1.1 server bound to `127.0.0.1:0`, built from the recorded
//! transcripts in `tests/fixtures/odoo18/` and Odoo 18's source: same services, same answers,
//! same error envelopes and texts, plus fault injection and a call log for tests.
//!
//! ```no_run
//! # async fn demo() {
//! use influence_gen_testkit::{OdooEmulator, FaultRule, CallMatcher, Fault};
//! let odoo = OdooEmulator::start().await;
//! let id = odoo.seed_request(serde_json::json!({"prompt": "a cat"}));
//! odoo.inject(FaultRule::once(
//!     CallMatcher::model_method("influence_gen.ai_image_request", "write"),
//!     Fault::Http(502),
//! ));
//! assert_eq!(odoo.record("influence_gen.ai_image_request", id).unwrap()["status"], "queued");
//! # }
//! ```
//!
//! Modules: [`server`] (HTTP, connections, faults in flight), [`protocol`] (request validation,
//! envelopes), [`dispatch`] (services), [`methods`] (model methods), [`orm`] (create/read/
//! write/search/unlink), [`domain`], [`schema`] and [`catalog`] (models and fields), [`access`]
//! (ACL and record rules), [`attachments`], [`mail`] (chatter), [`faults`], [`recording`],
//! [`client`] (a small HTTP client for tests).

pub mod access;
pub mod attachments;
pub mod catalog;
pub mod client;
pub mod dispatch;
pub mod domain;
pub mod emulator;
pub mod errors;
pub mod faults;
pub mod json;
pub mod mail;
pub mod methods;
pub mod orm;
pub mod protocol;
pub mod pyargs;
pub mod recording;
pub mod schema;
pub mod server;
pub mod store;
pub mod time;

pub use access::UserAccess;
pub use client::{RawResponse, RpcClient, RpcError, post};
pub use emulator::{EmulatorConfig, OdooEmulator};
pub use errors::OdooError;
pub use faults::{CallMatcher, Fault, FaultRule};
pub use recording::{Outcome, RecordedCall};
