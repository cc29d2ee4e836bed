//! Integration tests.
mod odoo_contract;
