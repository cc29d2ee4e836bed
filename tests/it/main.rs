//! Integration tests: the real daemon on loopback, Odoo played by the
//! emulator of `influence-gen-testkit`.

mod callback;
mod check;
mod initiation;
mod odoo_contract;
mod serve;
mod support;
