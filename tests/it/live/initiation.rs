//! Initiation against the real Odoo, through a stand-in N8N (the testkit's
//! recording webhook): the `initiate` command, the trigger route with the
//! body Odoo's automation rule sends, and the sweeper. Each request ends
//! `processing` in Odoo, and a callback from "N8N" then completes it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use influence_gen_testkit::{N8nFake, images};
use serde_json::{Value, json};

use super::{Live, LiveScenario};
use crate::scenarios::REQUESTS;
use crate::support::bridge::{self, BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, post, success_inline};
use crate::support::config::{API_KEY, TestConfig, assert_no_secret};

const WEBHOOK_PATH: &str = "/webhook/influence-gen";
const TRIGGER_SECRET: &str = "live-trigger-secret-3f9d0a7e";
const WAIT: Duration = Duration::from_secs(20);

pub fn scenarios() -> Vec<LiveScenario> {
    vec![
        LiveScenario::new("initiation: the initiate command", |live| {
            by_the_initiate_command(live).boxed()
        }),
        LiveScenario::new("initiation: the trigger route", |live| {
            by_the_trigger_route(live).boxed()
        }),
        LiveScenario::new("initiation: the sweeper", |live| {
            by_the_sweeper(live).boxed()
        }),
    ]
}

/// A stand-in N8N requiring the API key, and the bridge's configuration
/// pointing at it, with `initiation` lines.
async fn stand_in(live: &Live, initiation: &[&str]) -> (N8nFake, TestConfig) {
    let n8n = N8nFake::start().await;
    n8n.require_api_key("X-N8N-Api-Key", API_KEY);
    let mut config = TestConfig {
        webhook_url: Some(n8n.url(WEBHOOK_PATH)),
        ..live.target.config.clone()
    }
    .with("n8n", "timeout = \"5s\"")
    .with(
        "initiation",
        format!("trigger_secret = \"{TRIGGER_SECRET}\""),
    );
    for line in initiation {
        config = config.with("initiation", *line);
    }
    (n8n, config)
}

async fn request(live: &Live, prompt: &str) -> i64 {
    live.target.request(json!({ "prompt": prompt })).await
}

/// Waits until N8N received `request` and returns what it received.
async fn received(n8n: &N8nFake, request: i64) -> Value {
    let id = request.to_string();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let found = n8n
            .received()
            .iter()
            .map(|r| r.json())
            .find(|body| body["ai_generation_request_id"] == id.as_str());
        if let Some(body) = found {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "N8N did not receive request {request}"
        );
        n8n.wait_for(n8n.received().len() + 1, Duration::from_millis(500))
            .await;
    }
}

/// N8N's answer: a callback with an image; the request completes.
async fn call_back(live: &Live, bridge: &BridgeProcess, request: i64) {
    let body = success_inline(request.to_string(), &images::png(24, 24));
    let (status, answer) = post(&client(), &bridge.url(""), &body)
        .await
        .expect("the bridge answers");
    assert_eq!(status, 200, "{answer}");
    live.wait_for_status(&[request], "completed", WAIT).await;
}

async fn by_the_initiate_command(live: Arc<Live>) {
    let (n8n, config) = stand_in(&live, &["sweep_interval = \"0s\""]).await;
    let id = request(&live, "initiate command").await;
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["initiate", &id.to_string()], &[]).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_no_secret(&text, &config.secrets(), "initiate");
    assert!(output.status.success(), "{text}");
    let body = received(&n8n, id).await;
    assert_eq!(body["params"]["prompt"], "initiate command", "{body}");
    assert_eq!(live.statuses(&[id]).await, ["processing"]);
    let bridge = BridgeProcess::start(&config).await;
    call_back(&live, &bridge, id).await;
}

async fn by_the_trigger_route(live: Arc<Live>) {
    let (n8n, config) = stand_in(&live, &["sweep_interval = \"0s\""]).await;
    let bridge = BridgeProcess::start(&config).await;
    let id = request(&live, "trigger route").await;
    let record: Vec<Value> = live
        .admin()
        .read(REQUESTS, &[id], &["uuid", "prompt", "create_date"])
        .await
        .expect("read the request");
    // What Odoo 18's "Send Webhook Notification" posts (tests/fixtures/odoo18/webhook/).
    let notification = json!({
        "_action": "Send Webhook Notification(#1)", "_id": id, "_model": REQUESTS,
        "id": id, "prompt": record[0]["prompt"], "status": "queued",
        "uuid": record[0]["uuid"], "create_date": record[0]["create_date"],
    });
    let response = client()
        .post(bridge.url(&format!("/influence_gen/trigger/{TRIGGER_SECRET}")))
        .header("content-type", "application/json")
        .body(notification.to_string())
        .send()
        .await
        .expect("the bridge answers");
    assert_eq!(response.status().as_u16(), 202);
    received(&n8n, id).await;
    live.wait_for_status(&[id], "processing", WAIT).await;
    call_back(&live, &bridge, id).await;
}

async fn by_the_sweeper(live: Arc<Live>) {
    let (n8n, config) = stand_in(
        &live,
        &["sweep_interval = \"200ms\"", "sweep_grace = \"0s\""],
    )
    .await;
    let id = request(&live, "sweeper").await;
    let bridge = BridgeProcess::start(&config).await;
    received(&n8n, id).await;
    live.wait_for_status(&[id], "processing", WAIT).await;
    call_back(&live, &bridge, id).await;
}
