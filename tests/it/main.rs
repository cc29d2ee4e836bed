//! Integration tests: the real daemon on loopback, Odoo played by the
//! emulator of `influence-gen-testkit`.

mod callback;
mod check;
mod initiation;
mod live;
mod live_companion;
mod live_companion_bridge;
mod live_initiation;
mod newcomer;
mod odoo_client;
mod odoo_contract;
mod ops;
mod protocols;
mod security;
mod serve;
mod spool;
mod support;
