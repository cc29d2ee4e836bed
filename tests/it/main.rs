//! Integration tests: the real daemon on loopback, Odoo played by the
//! emulator of `influence-gen-testkit`; `live` runs the daemon against a real
//! Odoo too when `IG_LIVE_ODOO_URL` names one (`.ci/run` starts one), and
//! `scenarios` are shared by both.

mod callback;
mod check;
mod hermetic;
mod initiation;
mod live;
mod live_companion;
mod live_companion_bridge;
mod live_initiation;
mod newcomer;
mod odoo_client;
mod odoo_client_json2;
mod odoo_contract;
mod odoo_contract_json2;
mod odoo_refusal;
mod ops;
mod orphans;
mod protocols;
mod races;
mod scenarios;
mod security;
mod serve;
mod spool;
mod support;
