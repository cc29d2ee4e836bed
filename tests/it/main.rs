//! Integration tests: the real daemon on loopback, Odoo played by the
//! emulator of `influence-gen-testkit`.

mod callback;
mod check;
mod odoo_contract;
mod security;
mod serve;
mod support;
