//! The sweeper, and every way in racing on one request.

use std::time::Duration;

use influence_gen_testkit::Reply;
use serde_json::json;

use super::{
    REQUESTS, TRIGGER_PREFIX, TRIGGER_SECRET, http, initiate, request, sent_ids, setup, status,
};
use crate::support::bridge::BridgeProcess;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_sweeper_sends_a_queued_request_that_had_no_trigger() {
    let (odoo, n8n, config) = setup(&[
        ("initiation", "sweep_interval = \"100ms\""),
        ("initiation", "sweep_grace = \"0s\""),
    ])
    .await;
    let bridge = BridgeProcess::start(&config).await;
    bridge.wait_for_log("sweeper enabled", WAIT).await;
    let id = request(&odoo);
    assert!(n8n.wait_for(1, WAIT).await);
    bridge.wait_for_log("initiation done", WAIT).await;
    assert_eq!(sent_ids(&n8n), [id.to_string()]);
    assert_eq!(status(&odoo, id), "processing");
    let line = bridge.wait_for_log("\"via\":\"sweeper\"", WAIT).await;
    assert!(
        line.contains(&format!("\"ai_generation_request_id\":{id}")),
        "{line}"
    );
}

#[tokio::test]
async fn the_sweeper_leaves_young_requests_and_takes_the_oldest_first() {
    let (odoo, n8n, config) = setup(&[
        ("initiation", "sweep_interval = \"100ms\""),
        ("initiation", "sweep_grace = \"1h\""),
    ])
    .await;
    // Ids and ages in opposite orders: the oldest has the highest id.
    let young = request(&odoo);
    let older =
        odoo.seed_request(json!({ "prompt": "older", "create_date": "2024-05-01 10:00:00" }));
    let oldest =
        odoo.seed_request(json!({ "prompt": "oldest", "create_date": "2024-01-01 10:00:00" }));
    let done = odoo.seed_request(json!({ "prompt": "done", "create_date": "2023-01-01 10:00:00" }));
    odoo.update(REQUESTS, done, json!({ "status": "completed" }));
    let bridge = BridgeProcess::start(&config).await;
    assert!(n8n.wait_for(2, WAIT).await);
    // Let a few more sweeps pass: each searches the request model once.
    let searches = odoo.count(REQUESTS, "search");
    assert!(
        odoo.wait_for_count(REQUESTS, "search", searches + 3, WAIT)
            .await
    );
    assert_eq!(sent_ids(&n8n), [oldest.to_string(), older.to_string()]);
    assert_eq!(status(&odoo, young), "queued");
    assert_eq!(status(&odoo, done), "completed");
    drop(bridge);
}

#[tokio::test]
async fn an_unconfigured_sweeper_leaves_requests_queued() {
    let (odoo, n8n, config) = setup(&[
        ("initiation", "sweep_interval = \"100ms\""),
        ("initiation", "sweep_grace = \"0s\""),
    ])
    .await;
    let config = crate::support::config::TestConfig {
        webhook_url: None,
        ..config
    };
    let id = request(&odoo);
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("sweeper: no N8N webhook URL or API key is configured", WAIT)
        .await;
    let reads = odoo.count("ir.config_parameter", "search_read");
    odoo.wait_for_count("ir.config_parameter", "search_read", reads + 1, WAIT)
        .await;
    assert_eq!(status(&odoo, id), "queued");
    assert!(n8n.received().is_empty());
    let said = bridge
        .logs()
        .iter()
        .filter(|l| l.contains("sweeper: no N8N webhook URL"))
        .count();
    assert_eq!(said, 1, "said once");
}

#[tokio::test]
async fn trigger_sweeper_and_command_racing_on_one_request_send_it_once() {
    let (odoo, n8n, config) = setup(&[
        ("initiation", "sweep_interval = \"20ms\""),
        ("initiation", "sweep_grace = \"0s\""),
    ])
    .await;
    // N8N takes its time, so the others arrive while the first send runs.
    n8n.set_default(Reply::Delayed(
        Duration::from_millis(700),
        Box::new(Reply::started()),
    ));
    let bridge = BridgeProcess::start(&config).await;
    bridge.wait_for_log("sweeper enabled", WAIT).await;
    let id = request(&odoo);
    let url = bridge.url(&format!("{TRIGGER_PREFIX}{TRIGGER_SECRET}"));
    let client = http();
    let triggers = (0..4).map(|_| {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body(json!({ "id": id }).to_string())
            .send()
    });
    let answers = futures_util::future::join_all(triggers).await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|r| r.status() == 202))
    );
    // The daemon (trigger or sweeper) is sending it; the command, another
    // process, finds it claimed.
    assert!(n8n.wait_for(1, WAIT).await);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("its status is processing"), "{stdout}");
    bridge.wait_for_log("initiation done", WAIT).await;
    // More sweeps and triggers after the send change nothing.
    let searches = odoo.count(REQUESTS, "search");
    odoo.wait_for_count(REQUESTS, "search", searches + 3, WAIT)
        .await;
    assert_eq!(n8n.received().len(), 1, "sent exactly once");
    assert_eq!(status(&odoo, id), "processing");
}

#[tokio::test]
async fn a_command_mid_send_keeps_the_daemon_away() {
    let (odoo, n8n, config) = setup(&[]).await;
    n8n.set_default(Reply::Delayed(
        Duration::from_millis(1500),
        Box::new(Reply::started()),
    ));
    let bridge = BridgeProcess::start(&config).await;
    let id = request(&odoo);
    let command = {
        let config = config.clone();
        tokio::spawn(async move { initiate(&config, &[&id.to_string()]).await })
    };
    assert!(n8n.wait_for(1, WAIT).await);
    let response = http()
        .post(bridge.url(&format!("{TRIGGER_PREFIX}{TRIGGER_SECRET}")))
        .body(json!({ "id": id }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    bridge.wait_for_log("nothing to send", WAIT).await;
    let (output, stdout) = command.await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(n8n.received().len(), 1);
    assert_eq!(status(&odoo, id), "processing");
}
