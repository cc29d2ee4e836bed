//! Integration tests: the real daemon on loopback, Odoo played by the
//! emulator of `influence-gen-testkit`.

mod callback;
mod check;
mod hermetic;
mod initiation;
mod live;
mod live_companion;
mod newcomer;
mod odoo_client;
mod odoo_client_json2;
mod odoo_contract;
mod odoo_contract_json2;
mod odoo_refusal;
mod ops;
mod orphans;
mod races;
mod scenarios;
mod security;
mod serve;
mod spool;
mod support;
