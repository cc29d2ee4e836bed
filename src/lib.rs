//! influence-gen-bridge: a daemon beside Odoo 18 and 19 that connects it to
//! an N8N workflow generating images with AI. N8N posts results to the bridge;
//! the bridge stores them in Odoo, the system of record.
//!
//! The modules, one concept each (docs/architecture.md adds the data flow
//! callback → auth → spool → pipeline → Odoo, and the invariants):
//!
//! | module | owns |
//! |---|---|
//! | [`cli`] | the command line and its dispatch |
//! | [`config`] | TOML, environment and credential files, validated once |
//! | [`odoo`] | Odoo's external API (`/jsonrpc` or `/json/2`): session, typed errors, typed records, the companion addon's detection |
//! | [`n8n`] | the webhook client toward N8N and its payload |
//! | [`parameters`] | Odoo's system parameters as the fallback of `[n8n]` |
//! | [`image`] | a callback's image as verified bytes: base64 or guarded download, format, size, SHA-256 |
//! | [`server`] | the hyper server, routes and answers; connection limits, TLS |
//! | [`metrics`] | Prometheus metrics |
//! | [`readiness`] | the `/readyz` verdict |
//! | [`reload`] | what a SIGHUP reload changes, and what needs a restart |
//! | [`auth`] | callback authentication: the shared token, Standard Webhooks signatures |
//! | [`callback`] | the inbound contract: parsing and validation |
//! | [`pipeline`] | applying a result to Odoo: idempotent steps, failure handling, both protocols |
//! | [`initiation`] | sending queued requests to N8N: trigger route, sweeper, watchdog, `initiate` |
//! | [`locks`] | one lock per Odoo request, shared by the pipeline and the initiation |
//! | [`retry`] | exponential backoff with jitter |
//! | [`spool`] | durable storage of accepted callbacks, the worker, dead letters, the `spool` CLI |
//! | [`daemon`] | what `serve` runs, and its orderly stop |
//! | [`app`] | the state shared by the running daemon |
//! | [`check`] | the `check` command's report |
//! | [`telemetry`] | logging setup |
//! | [`tls`] | the process's TLS crypto provider |
//! | [`allocator`] | large buffers returned to the kernel once freed |
//! | [`systemd`] | readiness, status and watchdog notifications |

pub mod allocator;
pub mod app;
pub mod auth;
pub mod callback;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod image;
pub mod metrics;
pub mod odoo;
pub mod pipeline;
pub mod readiness;
pub mod reload;
pub mod retry;
pub mod server;
pub mod spool;
pub mod systemd;
pub mod telemetry;
pub mod tls;

pub mod initiation;
pub mod locks;
pub mod n8n;
pub mod parameters;
