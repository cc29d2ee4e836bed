//! Odoo's system parameters (docs/protocol.md#system-parameters) as the fallback of the `[n8n]` keys.

use std::time::Duration;

use influence_gen_testkit::UserAccess;
use serde_json::json;

use super::{
    TRIGGER_PREFIX, TRIGGER_SECRET, WEBHOOK_PATH, http, initiate, record, request, setup, status,
};
use crate::support::bridge::{self, BridgeProcess, ConfigFile};
use crate::support::closed_port;
use crate::support::config::{API_KEY, TestConfig, assert_no_secret};

const WAIT: Duration = Duration::from_secs(10);
const ODOO_API_KEY: &str = "odoo-param-api-key-3c9d";
const ODOO_OUTBOUND: &str = "odoo-param-outbound-token-8b1f";
const ODOO_CALLBACK: &str = "odoo-param-callback-token-4e7a";
const WEBHOOK_URL: &str = "influence_gen.n8n_webhook_url";
const API_KEY_PARAM: &str = "influence_gen.n8n_api_key";
const OUTBOUND_PARAM: &str = "influence_gen.odoo_to_n8n_secret_token";
const CALLBACK_PARAM: &str = "influence_gen.n8n_callback_token";

#[tokio::test]
async fn unset_toml_values_come_from_odoo() {
    let (odoo, n8n, config) = setup(&[]).await;
    let config = TestConfig {
        webhook_url: None,
        api_key: None,
        outbound_token: None,
        ..config
    };
    odoo.set_param(WEBHOOK_URL, &n8n.url(WEBHOOK_PATH));
    odoo.set_param(API_KEY_PARAM, ODOO_API_KEY);
    odoo.set_param(OUTBOUND_PARAM, ODOO_OUTBOUND);
    n8n.require_api_key("X-N8N-Api-Key", ODOO_API_KEY);
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert!(output.status.success(), "{stdout}");
    assert_no_secret(
        &stdout,
        &[ODOO_API_KEY.into(), ODOO_OUTBOUND.into()],
        "initiate",
    );
    let call = &n8n.received()[0];
    assert_eq!(call.headers["x-n8n-api-key"], ODOO_API_KEY);
    assert_eq!(call.json()["security_token"], ODOO_OUTBOUND);
    assert_eq!(status(&odoo, id), "processing");
}

#[tokio::test]
async fn the_toml_wins_over_odoo() {
    let (odoo, n8n, config) = setup(&[]).await;
    odoo.set_param(
        WEBHOOK_URL,
        &format!("http://127.0.0.1:{}/webhook/x", closed_port()),
    );
    odoo.set_param(API_KEY_PARAM, ODOO_API_KEY);
    odoo.set_param(OUTBOUND_PARAM, ODOO_OUTBOUND);
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert!(output.status.success(), "{stdout}");
    let call = &n8n.received()[0];
    assert_eq!(call.headers["x-n8n-api-key"], API_KEY);
    assert_eq!(
        call.json()["security_token"],
        crate::support::config::OUTBOUND_TOKEN
    );
}

#[tokio::test]
async fn placeholders_in_odoo_count_as_unset() {
    let (odoo, n8n, config) = setup(&[]).await;
    let config = TestConfig {
        webhook_url: None,
        ..config
    };
    odoo.set_param(
        WEBHOOK_URL,
        "PLACEHOLDER_YOUR_N8N_WEBHOOK_URL_FOR_AI_GENERATION",
    );
    let id = request(&odoo);
    let (output, _) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(status(&odoo, id), "initiation_failed");
    let details = record(&odoo, id)["error_details"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        details.contains("no N8N webhook URL is configured"),
        "{details}"
    );
    assert!(n8n.received().is_empty());
}

#[tokio::test]
async fn unreadable_parameters_are_said_once_and_the_toml_is_used() {
    let (odoo, n8n, config) = setup(&[]).await;
    crate::support::add_user(
        &odoo,
        "worker",
        "test-worker-password-1e4b",
        UserAccess::User,
    );
    // No outbound or callback token in the TOML: the bridge asks Odoo for
    // them, is refused, and goes on with the TOML.
    let config = TestConfig {
        login: "worker".into(),
        password: "test-worker-password-1e4b".into(),
        outbound_token: None,
        ..config
    };
    let bridge = BridgeProcess::start(&config).await;
    for _ in 0..2 {
        let id = request(&odoo);
        let response = http()
            .post(bridge.url(&format!("{TRIGGER_PREFIX}{TRIGGER_SECRET}")))
            .body(json!({ "id": id }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    assert!(n8n.wait_for(2, WAIT).await);
    let reads = odoo.count("ir.config_parameter", "search_read");
    assert!(reads >= 1, "{reads}");
    let warnings: Vec<String> = bridge
        .logs()
        .into_iter()
        .filter(|l| l.contains("may not read system parameters"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("\"level\":\"WARN\""),
        "{}",
        warnings[0]
    );
    for call in n8n.received() {
        assert_eq!(call.headers["x-n8n-api-key"], API_KEY);
        assert_eq!(call.json()["security_token"], "");
    }

    // check says it too, as a warning.
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["check"], &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("warn system parameters:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("`worker` may not read ir.config_parameter"),
        "{line}"
    );
}

#[tokio::test]
async fn a_callback_is_authenticated_with_the_token_stored_only_in_odoo() {
    let (odoo, _n8n, config) = setup(&[]).await;
    let config = TestConfig {
        callback_token: None,
        ..config
    };
    odoo.set_param(CALLBACK_PARAM, ODOO_CALLBACK);
    let id = request(&odoo);
    let bridge = BridgeProcess::start(&config).await;
    let callback = |token: &'static str| {
        http()
            .post(bridge.url("/influence_gen/ai/callback/image_result"))
            .header("content-type", "application/json")
            .header("X-N8N-Webhook-Token", token)
            .body(
                json!({
                    "ai_generation_request_id": id.to_string(),
                    "result_payload": { "status": "failure", "error_data": { "message": "no GPU" } }
                })
                .to_string(),
            )
            .send()
    };
    let refused = callback(crate::support::config::CALLBACK_TOKEN)
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let accepted = callback(ODOO_CALLBACK).await.unwrap();
    assert_eq!(accepted.status(), 200);
    assert_eq!(status(&odoo, id), "failed");
    assert_no_secret(&bridge.log_text(), &[ODOO_CALLBACK.into()], "bridge logs");

    // check names where the token and the webhook come from.
    odoo.set_param(WEBHOOK_URL, "http://127.0.0.1:9/webhook/from-odoo");
    let config = TestConfig {
        webhook_url: None,
        ..config
    };
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["check"], &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("warn callback token:")
            && l.contains("influence_gen.n8n_callback_token")),
        "{stdout}"
    );
    let webhook = stdout
        .lines()
        .find(|l| l.contains(" n8n webhook:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        webhook.contains("(from Odoo system parameter influence_gen.n8n_webhook_url)"),
        "{webhook}"
    );
    assert_no_secret(&stdout, &[ODOO_CALLBACK.into()], "check");
}
