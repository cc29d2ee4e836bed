//! influence-gen-bridge: a daemon beside Odoo 18 and 19 that connects it to
//! an N8N workflow generating images with AI. N8N posts results to the bridge;
//! the bridge stores them in Odoo, the system of record.
//!
//! One concept per module; docs/architecture.md has the module map and the
//! data flow (callback → auth → spool → pipeline → Odoo).

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
