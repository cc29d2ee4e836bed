//! One list of scenarios for both Odoos: the emulator of `tests/testkit`
//! and, when one is configured, a real Odoo (`live`).
//!
//! A scenario drives the real daemon against a [`Target`] (an Odoo reached
//! over JSON-RPC only, as an admin for setup and as the bridge's user for
//! the daemon), asserts what it must on the way, and returns a
//! [`snapshot`] of the Odoo state it ended in: records, statuses, hashes,
//! counts and answers, with ids replaced by labels. Plain `cargo test` runs
//! every scenario against the emulator; the real-Odoo suite runs each
//! against both and requires equal snapshots, so the emulator cannot drift
//! from the real thing unnoticed.

mod callbacks;
pub mod snapshot;

use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::odoo::OdooClient;
use influence_gen_testkit::OdooEmulator;
use serde_json::Value;

use crate::support::config::TestConfig;

pub const REQUESTS: &str = "influence_gen.ai_image_request";
pub const IMAGES: &str = "influence_gen.generated_image";
pub const ATTACHMENTS: &str = "ir.attachment";

/// An Odoo to run scenarios against.
pub struct Target {
    /// JSON-RPC as an administrator: creating requests, reading the state.
    pub admin: OdooClient,
    /// The daemon's configuration (the bridge's user), images from loopback allowed.
    pub config: TestConfig,
}

impl Target {
    /// A target for the Odoo `bridge` points at, with `admin` for setup.
    ///
    /// The admin logs in with a password, so its client speaks `/jsonrpc`
    /// (Odoo 16-19 have it; Odoo 19's `/json/2` takes only API keys); the
    /// daemon speaks whatever `bridge` says (`odoo.api = "auto"` by default).
    ///
    /// The bridge speaks the generic protocol on both sides: a real Odoo
    /// with the companion addon would otherwise be compared, in
    /// `odoo.protocol = "auto"`, with an emulator without it (the companion
    /// protocol has its own suites: `protocols/`, `live_companion*`).
    pub fn new(bridge: TestConfig, admin: &TestConfig) -> Self {
        Self {
            admin: client(&admin.clone().with("odoo", "api = \"jsonrpc\"")),
            config: bridge
                .with("images", "allow_private_networks = true")
                .with("images", "allowed_ports = []")
                .with("odoo", "protocol = \"generic\""),
        }
    }

    /// A fresh emulator (kept alive by the caller) and its target.
    pub async fn emulator() -> (OdooEmulator, Self) {
        let (odoo, bridge) = crate::support::odoo().await;
        let mut admin = TestConfig::new(&odoo.url());
        admin.login = "admin".into();
        admin.password = "admin".into();
        (odoo, Self::new(bridge, &admin))
    }

    /// A fresh emulator with the companion addon, the bridge's user in its
    /// group, and a target speaking the companion protocol.
    pub async fn emulator_with_companion() -> (OdooEmulator, Self) {
        let emulator = influence_gen_testkit::EmulatorConfig::default().with_companion_addon();
        let odoo = OdooEmulator::start_with(emulator).await;
        let uid = odoo.add_user(
            crate::support::config::ODOO_LOGIN,
            crate::support::config::ODOO_PASSWORD,
            influence_gen_testkit::UserAccess::Admin,
        );
        odoo.set_in_bridge_group(uid, true);
        let mut admin = TestConfig::new(&odoo.url());
        admin.login = "admin".into();
        admin.password = "admin".into();
        let target = Self::new(TestConfig::new(&odoo.url()), &admin).speaking("companion");
        (odoo, target)
    }

    /// The same Odoo, the bridge speaking `protocol` (`odoo.protocol`).
    pub fn speaking(self, protocol: &str) -> Self {
        Self {
            admin: self.admin,
            config: self
                .config
                .with("odoo", format!("protocol = \"{protocol}\"")),
        }
    }

    /// Creates a request with `vals` as the admin.
    pub async fn request(&self, vals: Value) -> i64 {
        self.admin
            .create(REQUESTS, &vals)
            .await
            .expect("create a request")
    }
}

/// An Odoo client from a test configuration.
pub fn client(config: &TestConfig) -> OdooClient {
    let parsed = Config::from_toml(
        &config.toml(),
        Path::new("scenario.toml"),
        Path::new("/tmp"),
        &Environment::default(),
    )
    .expect("a valid test configuration");
    influence_gen_bridge::tls::install_crypto_provider();
    OdooClient::new(&parsed.odoo).expect("an Odoo client")
}

/// A scenario: drives the daemon against a target, returns the end state.
pub type Run = fn(Arc<Target>) -> BoxFuture<'static, Value>;

/// A named scenario.
pub struct Scenario {
    pub name: &'static str,
    pub run: Run,
}

/// Every shared scenario, in the order they run.
pub fn all() -> Vec<Scenario> {
    callbacks::scenarios()
}

#[tokio::test]
async fn shared_scenarios_pass_against_the_emulator() {
    for scenario in all() {
        let (_odoo, target) = Target::emulator().await;
        let state = (scenario.run)(Arc::new(target)).await;
        assert!(state.is_object(), "{}: {state}", scenario.name);
    }
}
