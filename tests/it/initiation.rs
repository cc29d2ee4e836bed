//! Initiation end to end: the real binary (`serve` and `initiate`), the Odoo
//! emulator and the N8N fake. What N8N receives, every status a request can
//! end in, the trigger route, the sweeper, Odoo's system parameters, and the
//! shipped examples.

mod at_most_once;
mod companion;
mod examples;
mod outcomes;
mod parameters;
mod payload;
mod sweeper;
mod trigger;
mod watchdog;

use std::process::Output;

use influence_gen_testkit::{N8nFake, OdooEmulator};
use serde_json::{Value, json};

use crate::support::bridge::{self, ConfigFile};
use crate::support::config::{API_KEY, TestConfig, assert_no_secret};
use crate::support::odoo;

const REQUESTS: &str = "influence_gen.ai_image_request";
const WEBHOOK_PATH: &str = "/webhook/influence-gen";
const TRIGGER_SECRET: &str = "test-trigger-secret-6a0e4c2b";
const TRIGGER_PREFIX: &str = "/influence_gen/trigger/";
const CALLBACK_URL: &str = "http://127.0.0.1:9/influence_gen/ai/callback/image_result";

/// Test settings each test may override by naming the key: the sweeper
/// off, a short N8N timeout.
const DEFAULTS: &[(&str, &str)] = &[
    ("initiation", "sweep_interval = \"0s\""),
    ("n8n", "timeout = \"2s\""),
];

/// The emulator, an N8N fake requiring [`API_KEY`], and a configuration
/// pointing at both with `overrides` ("key = value" lines per section).
async fn setup(overrides: &[(&'static str, &str)]) -> (OdooEmulator, N8nFake, TestConfig) {
    let (odoo, config) = odoo().await;
    let n8n = N8nFake::start().await;
    n8n.require_api_key("X-N8N-Api-Key", API_KEY);
    let config = TestConfig {
        webhook_url: Some(n8n.url(WEBHOOK_PATH)),
        ..config
    };
    let config = configure(config, overrides).with(
        "initiation",
        format!("trigger_secret = \"{TRIGGER_SECRET}\""),
    );
    (odoo, n8n, config)
}

/// `config` with `overrides`, and the [`DEFAULTS`] they do not name.
fn configure(mut config: TestConfig, overrides: &[(&'static str, &str)]) -> TestConfig {
    let key = |line: &str| line.split('=').next().unwrap_or_default().trim().to_owned();
    for (section, line) in DEFAULTS {
        if !overrides
            .iter()
            .any(|(s, l)| s == section && key(l) == key(line))
        {
            config = config.with(section, *line);
        }
    }
    for (section, line) in overrides {
        config = config.with(section, *line);
    }
    config
}

/// Runs `influence-gen-bridge initiate <args>`; returns the output and its
/// stdout, after checking no secret is in either stream.
async fn initiate(config: &TestConfig, args: &[&str]) -> (Output, String) {
    let file = ConfigFile::write(config);
    let mut all = vec!["initiate"];
    all.extend_from_slice(args);
    let output = bridge::run(&file.path, &all, &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_no_secret(
        &format!("{stdout}\n{stderr}"),
        &config.secrets(),
        "initiate",
    );
    (output, stdout)
}

/// A request with only a prompt.
fn request(odoo: &OdooEmulator) -> i64 {
    odoo.seed_request(json!({ "prompt": "a lighthouse at dusk" }))
}

fn record(odoo: &OdooEmulator, id: i64) -> Value {
    odoo.record(REQUESTS, id).expect("the request exists")
}

fn status(odoo: &OdooEmulator, id: i64) -> String {
    record(odoo, id)["status"].as_str().unwrap().to_owned()
}

/// The ids N8N received, in order.
fn sent_ids(n8n: &N8nFake) -> Vec<String> {
    n8n.received()
        .iter()
        .map(|r| {
            r.json()["ai_generation_request_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn http() -> reqwest::Client {
    influence_gen_bridge::tls::install_crypto_provider();
    reqwest::Client::new()
}
