//! Issue 14, claims in companion mode: with the companion addon, a claim is
//! one atomic Odoo call (`bridge_claim`, `bridge_claim_queued`), a finished
//! initiation one more (`bridge_finish_initiation`), and any number of
//! bridges send each queued request exactly once.

use std::collections::HashSet;
use std::time::Duration;

use influence_gen_testkit::{OdooEmulator, Reply};
use serde_json::json;

use super::at_most_once::notes;
use super::{REQUESTS, initiate, record, request, sent_ids, setup, status};
use crate::support::bridge::BridgeProcess;
use crate::support::config::{ODOO_LOGIN, TestConfig};

const WAIT: Duration = Duration::from_secs(30);

/// [`setup`] with the companion addon installed, the bridge's user in its
/// group, and `odoo.protocol = "companion"`.
async fn companion(
    overrides: &[(&'static str, &str)],
) -> (OdooEmulator, influence_gen_testkit::N8nFake, TestConfig) {
    let (odoo, n8n, config) = setup(overrides).await;
    odoo.install_companion_addon();
    let uid = odoo
        .records("res.users")
        .into_iter()
        .find(|user| user["login"] == ODOO_LOGIN)
        .and_then(|user| user["id"].as_i64())
        .expect("the bridge's user");
    odoo.set_in_bridge_group(uid, true);
    (odoo, n8n, config.with("odoo", "protocol = \"companion\""))
}

/// Calls of the request model's generic methods that a claim must not need
/// (the watchdog's periodic `search` aside).
fn generic_calls(odoo: &OdooEmulator) -> usize {
    ["read", "write", "search_read"]
        .iter()
        .map(|method| odoo.count(REQUESTS, method))
        .sum()
}

#[tokio::test]
async fn a_companion_claim_is_one_odoo_call_and_a_sent_request_needs_no_other() {
    let (odoo, n8n, config) = companion(&[]).await;
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_eq!(sent_ids(&n8n), [id.to_string()]);
    assert_eq!(status(&odoo, id), "processing");
    assert_eq!(odoo.count(REQUESTS, "bridge_claim"), 1);
    assert_eq!(odoo.count(REQUESTS, "bridge_finish_initiation"), 0);
    assert_eq!(generic_calls(&odoo), 0, "{:?}", odoo.calls());

    // Not queued any more: the claim says so, nothing is sent.
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("its status is processing"), "{stdout}");
    assert_eq!(odoo.count(REQUESTS, "bridge_claim"), 2);
    assert_eq!(n8n.received().len(), 1);
}

#[tokio::test]
async fn a_companion_failure_is_recorded_in_one_more_call() {
    let (odoo, n8n, config) = companion(&[("initiation", "attempts = 1")]).await;
    n8n.set_default(Reply::Status(404, "webhook not registered".into()));
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(status(&odoo, id), "initiation_failed");
    assert_eq!(
        record(&odoo, id)["error_details"],
        "N8N answered HTTP 404: webhook not registered"
    );
    assert_eq!(odoo.count(REQUESTS, "bridge_claim"), 1);
    assert_eq!(odoo.count(REQUESTS, "bridge_finish_initiation"), 1);
    assert_eq!(generic_calls(&odoo), 0, "{:?}", odoo.calls());
}

#[tokio::test]
async fn a_companion_unknown_outcome_stays_processing_with_the_addons_note() {
    let (odoo, n8n, config) = companion(&[("initiation", "attempts = 3")]).await;
    n8n.set_default(Reply::Disconnect);
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("outcome unknown"), "{stdout}");
    assert_eq!(n8n.received().len(), 1, "never sent twice");
    assert_eq!(status(&odoo, id), "processing");
    assert_eq!(odoo.count(REQUESTS, "bridge_finish_initiation"), 1);
    let notes = notes(&odoo, id);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("may or may not have started")
                && n.contains("Sent to N8N, but the outcome is unknown")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn the_companion_watchdog_gives_up_through_the_addon() {
    let (odoo, _n8n, config) = companion(&[
        ("initiation", "result_timeout = \"10s\""),
        ("initiation", "attempts = 1"),
        ("n8n", "timeout = \"1s\""),
    ])
    .await;
    let id = request(&odoo);
    odoo.update(
        REQUESTS,
        id,
        json!({ "status": "processing", "write_date": "2020-01-01 00:00:00" }),
    );
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("watchdog: no result in time", WAIT)
        .await;
    assert_eq!(status(&odoo, id), "initiation_failed");
    let details = record(&odoo, id)["error_details"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(details.starts_with("No result within 10s"), "{details}");
    assert_eq!(odoo.count(REQUESTS, "bridge_finish_initiation"), 1);
}

#[tokio::test]
async fn two_bridges_sweeping_100_queued_requests_send_each_exactly_once() {
    let (odoo, n8n, config) = companion(&[
        ("initiation", "sweep_interval = \"20ms\""),
        ("initiation", "sweep_grace = \"0s\""),
    ])
    .await;
    // A little latency at N8N, so both sweepers are at work at once.
    n8n.set_default(Reply::Delayed(
        Duration::from_millis(20),
        Box::new(Reply::started()),
    ));
    let ids: Vec<i64> = (0..100).map(|_| request(&odoo)).collect();
    let first = BridgeProcess::start(&config).await;
    let second = BridgeProcess::start(&config).await;
    assert!(n8n.wait_for(100, WAIT).await, "{}", n8n.received().len());
    // Let both sweep a few more times: nothing more is sent.
    let claims = odoo.count(REQUESTS, "bridge_claim_queued");
    assert!(
        odoo.wait_for_count(REQUESTS, "bridge_claim_queued", claims + 6, WAIT)
            .await
    );
    let sent = sent_ids(&n8n);
    let unique: HashSet<&String> = sent.iter().collect();
    assert_eq!(sent.len(), 100, "each sent exactly once");
    assert_eq!(unique.len(), 100);
    for id in &ids {
        assert_eq!(status(&odoo, *id), "processing");
    }
    let done = |bridge: &BridgeProcess| {
        bridge
            .logs()
            .iter()
            .filter(|l| l.contains("initiation done"))
            .count()
    };
    assert_eq!(done(&first) + done(&second), 100);
    assert_eq!(generic_calls(&odoo), 0, "claims need no read or write");
}
