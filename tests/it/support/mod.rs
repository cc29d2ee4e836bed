//! Support for the integration tests: configuration files, the real bridge
//! binary as a child process, and small loopback helpers.

pub mod bridge;
pub mod callbacks;
pub mod config;
pub mod live_queue;

use influence_gen_testkit::{OdooEmulator, UserAccess};

/// An Odoo emulator with the bridge's user ([`config::ODOO_LOGIN`]) as a
/// full-rights user, and a [`config::TestConfig`] pointing at it.
pub async fn odoo() -> (OdooEmulator, config::TestConfig) {
    let odoo = OdooEmulator::start().await;
    odoo.add_user(config::ODOO_LOGIN, config::ODOO_PASSWORD, UserAccess::Admin);
    let config = config::TestConfig::new(&odoo.url());
    (odoo, config)
}

/// A TCP port on loopback where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
