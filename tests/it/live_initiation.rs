//! Initiation against a real Odoo 18 with the companion addon, when one is
//! named in the environment: `IG_LIVE_ODOO_URL`, `IG_LIVE_ODOO_DB`,
//! `IG_LIVE_ODOO_LOGIN` / `IG_LIVE_ODOO_PASSWORD` (the bridge's user, in the
//! group InfluenceGen Bridge, with `influence_gen_bridge` installed) and
//! `IG_LIVE_ODOO_ADMIN_LOGIN` / `IG_LIVE_ODOO_ADMIN_PASSWORD` (who creates
//! and removes the test's requests). Without them every test here says it
//! is skipped and passes.
//!
//! The bridges here sweep every queued request of the database, not only
//! the test's own: the sweeping test holds [`crate::live::exclusive`], and the
//! database must be one no one else sends from.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::odoo::{OdooClient, Protocol};
use influence_gen_testkit::{N8nFake, Reply};
use serde_json::{Value, json};

use crate::support::bridge::{self, BridgeProcess, ConfigFile};
use crate::support::config::{API_KEY, TestConfig};

const REQUESTS: &str = "influence_gen.ai_image_request";
const WAIT: Duration = Duration::from_secs(180);

/// The bridge's configuration and the admin's, or `None` (and a message).
fn live(test: &str) -> Option<(TestConfig, TestConfig)> {
    let Ok(url) = std::env::var("IG_LIVE_ODOO_URL") else {
        eprintln!(
            "skipped {test}: set IG_LIVE_ODOO_URL (and _DB, _LOGIN, _PASSWORD, _ADMIN_LOGIN, _ADMIN_PASSWORD) \
             to run it against a real Odoo 18 with the companion addon"
        );
        return None;
    };
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("IG_LIVE_ODOO_URL is set but {name} is not"))
    };
    let mut config = TestConfig::new(&url);
    config.database = var("IG_LIVE_ODOO_DB");
    config.login = var("IG_LIVE_ODOO_LOGIN");
    config.password = var("IG_LIVE_ODOO_PASSWORD");
    let mut admin = config.clone();
    admin.login = var("IG_LIVE_ODOO_ADMIN_LOGIN");
    admin.password = var("IG_LIVE_ODOO_ADMIN_PASSWORD");
    let slow = |c: TestConfig| c.with("odoo", "timeout = \"30s\"");
    let bridge = slow(config).with("odoo", "protocol = \"companion\"");
    // The admin logs in with a password: over /jsonrpc (Odoo 19's /json/2 takes only keys).
    let admin = slow(admin)
        .with("odoo", "protocol = \"generic\"")
        .with("odoo", "api = \"jsonrpc\"");
    Some((bridge, admin))
}

fn odoo_client(config: &TestConfig) -> OdooClient {
    let parsed = Config::from_toml(
        &config.toml(),
        Path::new("live.toml"),
        Path::new("/tmp"),
        &Environment::default(),
    )
    .unwrap();
    influence_gen_bridge::tls::install_crypto_provider();
    OdooClient::new(&parsed.odoo).unwrap()
}

/// Fails with a useful message when the addon does not answer the bridge.
async fn assert_companion(config: &TestConfig) {
    let protocol = odoo_client(config).protocol().await;
    assert!(
        matches!(protocol, Ok(Protocol::Companion { .. })),
        "the companion addon must answer the bridge's user: install influence_gen_bridge and put \
         the user in the group InfluenceGen Bridge ({protocol:?})"
    );
}

/// `n` queued requests created by the admin.
async fn queued_requests(admin: &OdooClient, n: usize, prompt: &str) -> Vec<i64> {
    let vals: Vec<Value> = (0..n)
        .map(|i| json!({ "prompt": format!("{prompt} {i}") }))
        .collect();
    admin.create_many(REQUESTS, &vals).await.unwrap()
}

async fn remove(admin: &OdooClient, ids: &[i64]) {
    let removed: Result<Option<bool>, _> = admin
        .execute_kw(REQUESTS, "unlink", &(ids,), &json!({}))
        .await;
    if let Err(error) = removed {
        eprintln!("could not remove the test's requests {ids:?}: {error}");
    }
}

async fn statuses(admin: &OdooClient, ids: &[i64]) -> Vec<Value> {
    admin
        .read::<Value>(REQUESTS, ids, &["status", "error_details"])
        .await
        .unwrap()
}

/// A bridge configuration sending to `n8n`, sweeping every `interval`.
fn sweeping(config: &TestConfig, n8n: &N8nFake, interval: &str) -> TestConfig {
    TestConfig {
        webhook_url: Some(n8n.url("/webhook/influence-gen")),
        ..config.clone()
    }
    .with("initiation", format!("sweep_interval = \"{interval}\""))
    .with("initiation", "sweep_grace = \"0s\"")
}

#[tokio::test]
async fn two_bridges_sweeping_100_queued_requests_against_the_live_odoo_send_each_once() {
    let Some((config, admin_config)) =
        live("two_bridges_sweeping_100_queued_requests_against_the_live_odoo_send_each_once")
    else {
        return;
    };
    assert_companion(&config).await;
    let _alone = crate::live::exclusive().await;
    let admin = odoo_client(&admin_config);
    let n8n = N8nFake::start().await;
    n8n.require_api_key("X-N8N-Api-Key", API_KEY);
    n8n.set_default(Reply::Delayed(
        Duration::from_millis(20),
        Box::new(Reply::started()),
    ));
    let ids = queued_requests(&admin, 100, "live sweep").await;
    let config = sweeping(&config, &n8n, "200ms");
    let (first_file, second_file) = (ConfigFile::write(&config), ConfigFile::write(&config));
    let first = BridgeProcess::start_with_file(&first_file.path, &[]).await;
    let second = BridgeProcess::start_with_file(&second_file.path, &[]).await;

    let deadline = tokio::time::Instant::now() + WAIT;
    let ours = |received: &HashMap<String, usize>| {
        ids.iter()
            .filter(|id| received.contains_key(&id.to_string()))
            .count()
    };
    let mut received = HashMap::new();
    while ours(&received) < ids.len() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        received = counts(&n8n);
    }
    // A few more sweeps by both: nothing more is sent.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = counts(&n8n);
    let states = statuses(&admin, &ids).await;
    let done = |bridge: &BridgeProcess| {
        bridge
            .logs()
            .iter()
            .filter(|l| l.contains("initiation done"))
            .count()
    };
    println!(
        "first bridge sent {}, second {}",
        done(&first),
        done(&second)
    );
    drop((first, second));
    remove(&admin, &ids).await;

    assert_eq!(ours(&received), 100, "every request reached N8N");
    let twice: Vec<_> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert!(
        states.iter().all(|s| s["status"] == "processing"),
        "{states:?}"
    );
}

#[tokio::test]
async fn an_unknown_outcome_against_the_live_odoo_stays_processing_with_a_note() {
    let Some((config, admin_config)) =
        live("an_unknown_outcome_against_the_live_odoo_stays_processing_with_a_note")
    else {
        return;
    };
    assert_companion(&config).await;
    let admin = odoo_client(&admin_config);
    let n8n = N8nFake::start().await;
    n8n.set_default(Reply::Disconnect);
    let ids = queued_requests(&admin, 1, "live unknown outcome").await;
    let config = TestConfig {
        webhook_url: Some(n8n.url("/webhook/influence-gen")),
        ..config
    };
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["initiate", &ids[0].to_string()], &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let states = statuses(&admin, &ids).await;
    let notes: Vec<Value> = admin
        .search_read(
            "mail.message",
            &json!([["model", "=", REQUESTS], ["res_id", "=", ids[0]]]),
            &["body"],
            &Default::default(),
        )
        .await
        .unwrap();
    remove(&admin, &ids).await;

    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("outcome unknown"), "{stdout}");
    assert_eq!(n8n.received().len(), 1, "never sent twice");
    assert_eq!(states[0]["status"], "processing", "{states:?}");
    assert!(
        notes.iter().any(|n| n["body"]
            .as_str()
            .unwrap_or_default()
            .contains("may or may not have started")),
        "{notes:?}"
    );
}

/// How often N8N received each `ai_generation_request_id`.
fn counts(n8n: &N8nFake) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for received in n8n.received() {
        let id = received.json()["ai_generation_request_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}
