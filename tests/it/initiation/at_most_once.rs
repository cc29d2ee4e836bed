//! Issue 15, item 4: a request is sent to N8N at most once. Only what N8N
//! surely did not start is retried; an unknown outcome (a timeout or a
//! broken connection after the body went out, a proxy's 502/504) keeps the
//! request `processing`, says so in the log and the chatter, and is never
//! sent again, not even after a stop and a restart.

use std::time::Duration;

use influence_gen_testkit::{OdooEmulator, Reply};
use serde_json::Value;

use super::{REQUESTS, initiate, record, request, sent_ids, setup, status};
use crate::support::bridge::{BridgeProcess, ConfigFile};

const WAIT: Duration = Duration::from_secs(10);

/// The chatter notes of request `id`.
pub(super) fn notes(odoo: &OdooEmulator, id: i64) -> Vec<String> {
    odoo.records("mail.message")
        .into_iter()
        .filter(|m| m["model"] == REQUESTS && m["res_id"] == id)
        .map(|m| m["body"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Sends request `id` with `initiate` against an N8N answering `reply`, and
/// checks the unknown outcome: one POST, `processing`, exit 1, a note.
async fn assert_unknown_outcome(reply: Reply, overrides: &[(&'static str, &str)], says: &str) {
    let (odoo, n8n, config) = setup(overrides).await;
    n8n.set_default(reply);
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "request {id}: sent to N8N, outcome unknown: {says}"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("status processing"), "{stdout}");
    assert_eq!(n8n.received().len(), 1, "never sent twice");
    assert_eq!(status(&odoo, id), "processing");
    assert_eq!(record(&odoo, id)["error_details"], Value::Bool(false));
    let notes = notes(&odoo, id);
    assert!(
        notes.iter().any(|n| n.contains("the outcome is unknown")
            && n.contains(says)
            && n.contains("may or may not have started")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_timeout_after_the_body_was_sent_is_not_retried_and_stays_processing() {
    assert_unknown_outcome(
        Reply::Delayed(Duration::from_secs(5), Box::new(Reply::started())),
        &[("initiation", "attempts = 3"), ("n8n", "timeout = \"1s\"")],
        "N8N did not answer within 1s (n8n.timeout)",
    )
    .await;
}

#[tokio::test]
async fn a_connection_broken_after_the_body_was_sent_is_not_retried() {
    assert_unknown_outcome(
        Reply::Disconnect,
        &[("initiation", "attempts = 3")],
        "the call to N8N at 127.0.0.1:",
    )
    .await;
}

#[tokio::test]
async fn a_proxys_gateway_timeout_is_an_unknown_outcome() {
    assert_unknown_outcome(
        Reply::Status(504, "<html>Gateway Timeout</html>".into()),
        &[("initiation", "attempts = 3")],
        "N8N answered HTTP 504",
    )
    .await;
}

#[tokio::test]
async fn an_error_n8n_answers_before_starting_is_retried() {
    let (odoo, n8n, config) = setup(&[("initiation", "attempts = 3")]).await;
    n8n.script([
        Reply::Status(
            500,
            r#"{"message":"Workflow could not be started!"}"#.into(),
        ),
        Reply::Status(503, "Service Unavailable".into()),
    ]);
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("after 3 attempts"), "{stdout}");
    assert_eq!(status(&odoo, id), "processing");
}

#[tokio::test]
async fn a_stop_during_an_attempt_is_bounded_and_never_queues_the_request_again() {
    let (odoo, n8n, config) = setup(&[
        ("initiation", "sweep_interval = \"100ms\""),
        ("initiation", "sweep_grace = \"0s\""),
        ("n8n", "timeout = \"30s\""),
        ("server", "shutdown_grace = \"1s\""),
    ])
    .await;
    n8n.set_default(Reply::Hang);
    let file = ConfigFile::write(&config);
    let mut bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let id = request(&odoo);
    assert!(n8n.wait_for(1, WAIT).await);
    assert_eq!(status(&odoo, id), "processing");
    bridge.signal("TERM");
    let exited = bridge.wait_exit(Duration::from_secs(5)).await;
    assert!(
        exited.is_some(),
        "the stop waited for N8N:\n{}",
        bridge.log_text()
    );
    assert_eq!(
        status(&odoo, id),
        "processing",
        "it may have reached N8N: never queued again"
    );
    // After a restart the sweeper finds nothing to send.
    n8n.set_default(Reply::started());
    let restarted = BridgeProcess::start_with_file(&file.path, &[]).await;
    let searches = odoo.count(REQUESTS, "search");
    assert!(
        odoo.wait_for_count(REQUESTS, "search", searches + 3, WAIT)
            .await
    );
    assert_eq!(sent_ids(&n8n), [id.to_string()], "sent once");
    drop(restarted);
}
