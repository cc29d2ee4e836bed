//! `POST /influence_gen/trigger/<secret>` on the running daemon.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use influence_gen_testkit::{N8nFake, OdooEmulator};
use serde_json::{Value, json};

use super::{REQUESTS, TRIGGER_PREFIX, TRIGGER_SECRET, http, request, sent_ids, setup};
use crate::support::bridge::BridgeProcess;
use crate::support::config::{TestConfig, assert_no_secret};

const WAIT: Duration = Duration::from_secs(10);
/// The bridge's bound on triggers waiting or running at once.
const MAX_PENDING_TRIGGERS: i64 = 256;

async fn post(bridge: &BridgeProcess, secret: &str, body: &Value) -> (u16, Value) {
    let response = http()
        .post(bridge.url(&format!("{TRIGGER_PREFIX}{secret}")))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("the bridge answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The body Odoo 18's "Send Webhook Notification" sends for request `id`
/// (the recorded shape: keys sorted, `_action`, `_id`, `_model`, …).
fn odoo_body(odoo: &OdooEmulator, id: i64) -> Value {
    let record = odoo.record(REQUESTS, id).unwrap();
    json!({
        "_action": "Send Webhook Notification(#183)",
        "_id": id,
        "_model": REQUESTS,
        "cfg_scale": 0.0,
        "create_date": "2026-11-29 12:43:50.173097",
        "generated_image_id": false,
        "id": id,
        "intended_use": "personal",
        "model_id": false,
        "prompt": record["prompt"],
        "resolution": false,
        "seed": 0,
        "status": "queued",
        "user_id": 2,
        "uuid": record["uuid"],
    })
}

async fn start(
    overrides: &[(&'static str, &str)],
) -> (OdooEmulator, N8nFake, TestConfig, BridgeProcess) {
    let (odoo, n8n, config) = setup(overrides).await;
    let bridge = BridgeProcess::start(&config).await;
    (odoo, n8n, config, bridge)
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_nothing_is_sent() {
    let (odoo, n8n, config, bridge) = start(&[]).await;
    let refused = request(&odoo);
    let wrong = "wrong-secret-0123456789abcdef";
    for secret in [wrong, "", "test-trigger-secret-6a0e4c2"] {
        let (status, body) = post(&bridge, secret, &json!({ "id": refused })).await;
        assert_eq!(
            (status, body),
            (
                401,
                json!({ "status": "error", "message": "authentication failed" })
            ),
            "secret {secret:?}"
        );
    }
    // A good trigger for another request: once it is sent, the refused ones
    // would have been too.
    let accepted = request(&odoo);
    let (status, body) = post(&bridge, TRIGGER_SECRET, &json!({ "id": accepted })).await;
    assert_eq!((status, body), (202, json!({ "status": "accepted" })));
    assert!(n8n.wait_for(1, WAIT).await);
    bridge.wait_for_log("initiation done", WAIT).await;
    assert_eq!(sent_ids(&n8n), [accepted.to_string()]);
    assert_eq!(super::status(&odoo, refused), "queued");
    let logs = bridge.log_text();
    assert!(
        logs.contains("trigger refused: the secret in the path is wrong"),
        "{logs}"
    );
    let mut secrets = config.secrets();
    secrets.extend([TRIGGER_SECRET.to_owned(), wrong.to_owned()]);
    assert_no_secret(&logs, &secrets, "bridge logs");
}

#[tokio::test]
async fn without_a_secret_the_route_does_not_exist() {
    let (odoo, n8n, config) = setup(&[]).await;
    // setup() adds the secret last; a config without it:
    let config = TestConfig {
        extra: config
            .extra
            .into_iter()
            .filter(|(_, line)| !line.starts_with("trigger_secret"))
            .collect(),
        ..config
    };
    let bridge = BridgeProcess::start(&config).await;
    let id = request(&odoo);
    let (status, body) = post(&bridge, TRIGGER_SECRET, &json!({ "id": id })).await;
    assert_eq!((status, &body["message"]), (404, &json!("no such route")));
    bridge.wait_for_log("trigger route disabled", WAIT).await;
    assert!(n8n.received().is_empty());
}

#[tokio::test]
async fn a_trigger_before_the_commit_is_answered_at_once_and_sent_once_visible() {
    let (odoo, n8n, _config, bridge) = start(&[]).await;
    let id = request(&odoo);
    let hidden_for = Duration::from_millis(1500);
    let hidden_at = Instant::now();
    odoo.hide_record_for(REQUESTS, id, hidden_for);

    let (status, body) = post(&bridge, TRIGGER_SECRET, &odoo_body(&odoo, id)).await;
    let answered_after = hidden_at.elapsed();
    assert_eq!((status, body), (202, json!({ "status": "accepted" })));
    assert!(
        answered_after < hidden_for,
        "the answer waited on Odoo: {answered_after:?}"
    );
    assert!(
        n8n.received().is_empty(),
        "nothing is sent while the record is invisible"
    );

    assert!(n8n.wait_for(1, WAIT).await, "sent once visible");
    assert!(hidden_at.elapsed() >= hidden_for);
    assert_eq!(sent_ids(&n8n), [id.to_string()]);
    bridge.wait_for_log("initiation done", WAIT).await;
    assert_eq!(super::status(&odoo, id), "processing");
    // It kept looking while the record was hidden.
    assert!(odoo.count(REQUESTS, "search") >= 2);
}

#[tokio::test]
async fn the_recorded_odoo_body_is_accepted() {
    let (odoo, n8n, _config, bridge) = start(&[]).await;
    // The body Odoo 18 really sent, for request 8.
    let fixture: Value = serde_json::from_str(include_str!(
        "../../fixtures/odoo18/webhook/base_automation_on_create.json"
    ))
    .unwrap();
    let raw = fixture["webhook_call"]["body_raw"].as_str().unwrap();
    odoo.set_next_id(REQUESTS, 8);
    let id = odoo.seed_request(json!({ "prompt": "Webhook test: a red bicycle" }));
    assert_eq!(id, 8);
    let response = http()
        .post(bridge.url(&format!("{TRIGGER_PREFIX}{TRIGGER_SECRET}")))
        .header("content-type", "application/json")
        .body(raw.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(n8n.wait_for(1, WAIT).await);
    assert_eq!(sent_ids(&n8n), ["8"]);
}

#[tokio::test]
async fn malformed_triggers_are_400() {
    let (odoo, n8n, _config, bridge) = start(&[]).await;
    let id = request(&odoo);
    for (body, message) in [
        (json!({ "_id": id, "_model": "res.partner" }), "res.partner"),
        (json!({ "prompt": "no id" }), "names no request"),
        (json!([id]), "JSON object"),
    ] {
        let (status, answer) = post(&bridge, TRIGGER_SECRET, &body).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            answer["message"].as_str().unwrap().contains(message),
            "{answer}"
        );
    }
    let response = http()
        .get(bridge.url(&format!("{TRIGGER_PREFIX}{TRIGGER_SECRET}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(n8n.received().is_empty());
}

#[tokio::test]
async fn a_trigger_for_a_record_that_never_appears_is_dropped() {
    let (_odoo, n8n, _config, bridge) = start(&[]).await;
    let (status, _) = post(&bridge, TRIGGER_SECRET, &json!({ "id": 999 })).await;
    assert_eq!(status, 202);
    // It is looked for during the visibility timeout (30 s).
    let line = bridge
        .wait_for_log(
            "did not become readable in time",
            Duration::from_secs(30) + WAIT,
        )
        .await;
    assert!(line.contains("999"), "{line}");
    assert!(n8n.received().is_empty());
}

#[tokio::test]
async fn repeated_triggers_send_once_and_a_full_queue_is_503() {
    let (odoo, n8n, _config, bridge) = start(&[]).await;
    let first = request(&odoo);
    let second = request(&odoo);
    // Triggers for records that never appear hold 255 of the slots for the
    // visibility timeout (30 s).
    let ghosts: Vec<Value> = (1..MAX_PENDING_TRIGGERS)
        .map(|ghost| json!({ "id": 100_000 + ghost }))
        .collect();
    // A few at a time: the bridge takes 64 connections at once.
    let answers: Vec<(u16, Value)> = futures_util::stream::iter(ghosts.iter())
        .map(|body| post(&bridge, TRIGGER_SECRET, body))
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(answers.iter().all(|(status, _)| *status == 202));
    // The same request again and again takes the last slot once…
    odoo.hide_record_for(REQUESTS, first, Duration::from_secs(3));
    let body = json!({ "id": first });
    let answers =
        futures_util::future::join_all((0..5).map(|_| post(&bridge, TRIGGER_SECRET, &body))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 202),
        "{answers:?}"
    );
    // …while another one finds every slot taken.
    let (status, body) = post(&bridge, TRIGGER_SECRET, &json!({ "id": second })).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("sweeper"),
        "{body}"
    );

    assert!(n8n.wait_for(1, WAIT).await);
    bridge.wait_for_log("initiation done", WAIT).await;
    // A later trigger for the sent request finds it processing.
    let (status, _) = post(&bridge, TRIGGER_SECRET, &json!({ "id": first })).await;
    assert_eq!(status, 202);
    bridge.wait_for_log("nothing to send", WAIT).await;
    assert_eq!(sent_ids(&n8n), [first.to_string()]);
    assert_eq!(super::status(&odoo, second), "queued");
}
