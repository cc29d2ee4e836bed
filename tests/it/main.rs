//! Integration tests: the real daemon on loopback, Odoo played by the
//! emulator of `influence-gen-testkit`.

mod callback;
mod check;
mod initiation;
mod live;
mod live_companion;
mod live_companion_bridge;
mod newcomer;
mod odoo_client;
mod odoo_contract;
mod odoo_refusal;
mod ops;
mod orphans;
mod protocols;
mod races;
mod security;
mod serve;
mod spool;
mod support;
