//! Support for the integration tests: configuration files, the real bridge
//! binary as a child process, and small loopback helpers.

pub mod api_key;
pub mod bridge;
pub mod callbacks;
pub mod config;

use influence_gen_testkit::{EmulatorConfig, OdooEmulator, Series, UserAccess};

/// Which API the emulator suite speaks: `IG_TEST_ODOO_API=json2` runs it
/// against the emulator playing Odoo 19 over `/json/2`; anything else (the
/// default) against Odoo 18 over `/jsonrpc`. `.ci/run` runs the suite once
/// per API.
pub const API_ENV: &str = "IG_TEST_ODOO_API";

/// The API of this run of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestApi {
    JsonRpc,
    Json2,
}

impl TestApi {
    /// The API chosen by [`API_ENV`].
    pub fn of_run() -> Self {
        match std::env::var(API_ENV).as_deref() {
            Ok("json2") => Self::Json2,
            _ => Self::JsonRpc,
        }
    }
}

/// An Odoo emulator with the bridge's user ([`config::ODOO_LOGIN`]) as a
/// full-rights user, and a [`config::TestConfig`] pointing at it, for the
/// API of this run ([`API_ENV`]).
pub async fn odoo() -> (OdooEmulator, config::TestConfig) {
    odoo_for(TestApi::of_run()).await
}

/// Like [`odoo`], for `api` whatever the run: Odoo 18 over `/jsonrpc` with
/// [`config::ODOO_PASSWORD`] as the password, or Odoo 19 over `/json/2`
/// with it as the user's API key (`odoo.api = "auto"` finds `/json/2`).
pub async fn odoo_for(api: TestApi) -> (OdooEmulator, config::TestConfig) {
    let series = match api {
        TestApi::JsonRpc => Series::Odoo18,
        TestApi::Json2 => Series::Odoo19,
    };
    let odoo = OdooEmulator::start_with(EmulatorConfig {
        series,
        ..EmulatorConfig::default()
    })
    .await;
    match api {
        TestApi::JsonRpc => {
            odoo.add_user(config::ODOO_LOGIN, config::ODOO_PASSWORD, UserAccess::Admin);
        }
        TestApi::Json2 => {
            let uid = odoo.add_user(
                config::ODOO_LOGIN,
                "a-password-json2-never-takes-4e1",
                UserAccess::Admin,
            );
            odoo.add_api_key(uid, config::ODOO_PASSWORD);
        }
    }
    let config = config::TestConfig::new(&odoo.url());
    (odoo, config)
}

/// Adds a user whose `secret` works as `odoo.password` for the emulator's
/// API: its password, and on Odoo 19 also an API key (`/json/2` takes no
/// password). Returns the uid.
pub fn add_user(odoo: &OdooEmulator, login: &str, secret: &str, access: UserAccess) -> i64 {
    let uid = odoo.add_user(login, secret, access);
    if odoo.series() == Series::Odoo19 {
        odoo.add_api_key(uid, secret);
    }
    uid
}

/// The logins that reached `odoo`: `common.authenticate` over `/jsonrpc`,
/// `res.users.context_get` (the API key check) over `/json/2`.
pub fn logins(odoo: &OdooEmulator) -> usize {
    odoo.calls()
        .iter()
        .filter(|call| {
            call.method == "authenticate" || call.model_method.as_deref() == Some("context_get")
        })
        .count()
}

/// A TCP port on loopback where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
