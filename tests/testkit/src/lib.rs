//! Test support for influence-gen-bridge. Never part of the production binary.
//!
//! The main piece is [`OdooEmulator`], a faithful emulator of Odoo 18's external JSON-RPC API
//! (`POST /jsonrpc`) on a real HTTP/1.1 server bound to `127.0.0.1:0`, built from the recorded
//! transcripts in `tests/fixtures/odoo18/` and Odoo 18's source: same services, same answers,
//! same error envelopes and texts, plus fault injection and a call log for tests. Started with
//! [`Series::Odoo19`] it also speaks Odoo 19's `/json/2` ([`json2`]: bearer API keys, keyword
//! arguments, bare results, real HTTP statuses) and answers `GET /web/version`, as the
//! transcripts in `tests/fixtures/odoo19/json2/` show (held by `tests/it/odoo_contract_json2.rs`).
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
//! envelopes), [`json2`] (Odoo 19's `/json/2`), [`dispatch`] (services), [`methods`] (model methods), [`orm`] (create/read/
//! write/search/unlink), [`domain`], [`schema`] and [`catalog`] (models and fields), [`access`]
//! (ACL and record rules), [`attachments`], [`mail`] (chatter), [`faults`], [`recording`],
//! [`client`] (a small HTTP client for tests), [`companion`] (the companion addon's methods, off
//! unless [`EmulatorConfig::with_companion_addon`]).
//!
//! Besides Odoo: [`n8n`] (a recording N8N webhook), [`image_server`] (an image host for
//! `image_url` tests), [`images`] (real PNG/JPEG bytes), on the shared [`http_fake`] server.

//! # What is emulated, and what is not
//!
//! Faithful (checked by `tests/it/odoo_contract.rs` against the recordings): the protocol errors
//! (400 pages), the error envelope (5 `data` keys, HTTP 200, Python-style traceback), no `result`
//! key for `None`, `common`/`db`/`object` services, CRUD, `fields_get` of both influence_gen
//! models, access rights of `admin` and the read-only `viewer` with Odoo's exact messages,
//! attachments (SHA-1 checksum, `store_fname`, base64), chatter messages and tracking, and the
//! error texts of unknown models/fields/methods/services, missing records, bad selections,
//! NOT NULL and UNIQUE violations.
//!
//! The companion addon `influence_gen_bridge` (off unless asked for): its five `bridge_*` methods
//! with the real addon's answers and texts, held to a recording of the real addon
//! (`tests/fixtures/odoo18/companion_scenarios.json`), the bridge group, and row locks that a
//! stalled call keeps (see [`companion`]).
//!
//! Simplified: one database; no sessions, `/web/*` routes or XML-RPC; groups are reduced to
//! [`UserAccess`] levels; no multi-company; domains have no hierarchy (`child_of` = `in`);
//! many2one sort by display name; `mail.tracking.value` has no `field_id`; URLs in posted
//! bodies are not linkified; images: only PNG/JPEG content is decoded and PNG output is not
//! palette-quantised (see [`attachments`]); `read_group`, `web_search_read`, `copy` and other
//! ORM methods are absent (they answer "does not exist"); no password hashing delay (the real
//! first login costs ~430 ms).
//!
//! Faults (see [`faults`]): per-call rules (`OdooError`, `Http`, `Stall`, `AnswerLate`, `CloseConnection`,
//! `FailAfterApplying`, `CloseAfterApplying`) plus global switches: `set_down` (port really
//! closed, reopened on the same port), `set_latency`, `set_http_error`,
//! `set_max_content_length` (Werkzeug 3's 413), `set_keep_alive`, `hide_record_for`
//! (uncommitted create), `remove_field`, `remove_method`.

pub mod access;
pub mod attachments;
pub mod catalog;
pub mod client;
pub mod companion;
pub mod dispatch;
pub mod domain;
pub mod emulator;
pub mod errors;
pub mod faults;
pub mod http_fake;
pub mod image_server;
pub mod images;
pub mod json;
pub mod json2;
pub mod mail;
pub mod methods;
pub mod n8n;
pub mod orm;
pub mod protocol;
pub mod pyargs;
pub mod recording;
pub mod schema;
pub mod server;
pub mod store;
pub mod time;

pub use access::UserAccess;
pub use client::{RawResponse, RpcClient, RpcError, post, send};
pub use emulator::{EmulatorConfig, OdooEmulator};
pub use errors::OdooError;
pub use faults::{CallMatcher, Fault, FaultRule};
pub use image_server::{ImageServer, Route};
pub use n8n::{N8nFake, Received, Reply};
pub use recording::{Outcome, RecordedCall};
pub use store::Series;
