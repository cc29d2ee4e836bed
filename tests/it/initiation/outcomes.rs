//! Every status an initiation can leave a request in, through the
//! `initiate` command (the daemon uses the same initiator).

use influence_gen_testkit::Reply;
use serde_json::json;

use super::{REQUESTS, initiate, record, request, setup, status};
use crate::support::closed_port;
use crate::support::config::{API_KEY, TestConfig};

fn error_details(odoo: &influence_gen_testkit::OdooEmulator, id: i64) -> String {
    record(odoo, id)["error_details"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_2xx_answer_makes_the_request_processing() {
    let (odoo, n8n, config) = setup(&[]).await;
    n8n.script([Reply::Status(200, "{}".into())]);
    let id = request(&odoo);
    odoo.update(REQUESTS, id, json!({ "error_details": "an old failure" }));
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("sent to N8N (HTTP 200)"), "{stdout}");
    assert_eq!(status(&odoo, id), "processing");
    assert_eq!(
        record(&odoo, id)["error_details"],
        false,
        "the old failure is cleared"
    );
}

#[tokio::test]
async fn a_refused_api_key_fails_at_once_and_says_so() {
    let (odoo, n8n, config) = setup(&[("initiation", "attempts = 3")]).await;
    n8n.require_api_key("X-N8N-Api-Key", "a-different-key-0000");
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(n8n.received().len(), 1, "a 403 is not retried");
    assert_eq!(status(&odoo, id), "initiation_failed");
    let details = error_details(&odoo, id);
    assert_eq!(
        details,
        "N8N refused the API key (HTTP 403): Authorization data is wrong!"
    );
    assert!(!details.contains(API_KEY));
    assert!(
        stdout.contains("initiation failed: N8N refused the API key (HTTP 403)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_recorded() {
    let (odoo, n8n, config) = setup(&[("initiation", "attempts = 3")]).await;
    n8n.set_default(Reply::Status(
        503,
        "<html>Service Unavailable</html>".into(),
    ));
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(n8n.received().len(), 3, "three attempts");
    assert_eq!(status(&odoo, id), "initiation_failed");
    assert_eq!(
        error_details(&odoo, id),
        "N8N answered HTTP 503: <html>Service Unavailable</html> (after 3 attempts)"
    );
}

#[tokio::test]
async fn a_server_error_then_success_is_sent() {
    let (odoo, n8n, config) = setup(&[("initiation", "attempts = 3")]).await;
    n8n.script([Reply::Status(429, "slow down".into())]);
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("after 2 attempts"), "{stdout}");
    assert_eq!(n8n.received().len(), 2);
    assert_eq!(status(&odoo, id), "processing");
}

#[tokio::test]
async fn a_long_error_body_is_trimmed() {
    let (odoo, n8n, config) = setup(&[("initiation", "attempts = 1")]).await;
    n8n.script([Reply::Status(400, "x".repeat(5000))]);
    let id = request(&odoo);
    initiate(&config, &[&id.to_string()]).await;
    let details = error_details(&odoo, id);
    assert!(
        details.starts_with("N8N answered HTTP 400: xxx"),
        "{details}"
    );
    assert!(details.chars().count() < 340, "{}", details.len());
}

#[tokio::test]
async fn a_refused_connection_is_recorded() {
    let (odoo, _n8n, config) = setup(&[("initiation", "attempts = 2")]).await;
    let port = closed_port();
    let config = TestConfig {
        webhook_url: Some(format!("http://127.0.0.1:{port}/webhook/x")),
        ..config
    };
    let id = request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(status(&odoo, id), "initiation_failed");
    assert_eq!(
        error_details(&odoo, id),
        format!("cannot connect to N8N at 127.0.0.1:{port}: connection refused (after 2 attempts)")
    );
}

#[tokio::test]
async fn a_missing_webhook_url_or_api_key_fails_at_once() {
    let (odoo, n8n, config) = setup(&[]).await;
    let id = request(&odoo);
    let no_url = TestConfig {
        webhook_url: None,
        ..config.clone()
    };
    let (output, stdout) = initiate(&no_url, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(status(&odoo, id), "initiation_failed");
    let details = error_details(&odoo, id);
    assert!(
        details.starts_with("Not sent to N8N: no N8N webhook URL is configured (n8n.webhook_url"),
        "{details}"
    );
    assert!(
        details.contains("influence_gen.n8n_webhook_url"),
        "{details}"
    );

    let id = request(&odoo);
    let no_key = TestConfig {
        api_key: None,
        ..config
    };
    let (output, _) = initiate(&no_key, &[&id.to_string()]).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(status(&odoo, id), "initiation_failed");
    let details = error_details(&odoo, id);
    assert!(
        details.contains("no N8N API key is configured (n8n.api_key"),
        "{details}"
    );
    assert!(n8n.received().is_empty());
}

#[tokio::test]
async fn only_queued_requests_are_sent() {
    let (odoo, n8n, config) = setup(&[]).await;
    let id = request(&odoo);
    for state in ["processing", "completed", "failed", "initiation_failed"] {
        odoo.update(REQUESTS, id, json!({ "status": state }));
        let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
        assert_eq!(output.status.code(), Some(3), "{stdout}");
        assert_eq!(
            stdout.trim(),
            format!("request {id}: skipped: its status is {state}, not queued; nothing sent")
        );
        assert_eq!(status(&odoo, id), state);
    }
    let (output, stdout) = initiate(&config, &["424242"]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(stdout.contains("request 424242: not found"), "{stdout}");
    let (output, stdout) = initiate(&config, &["no-such-uuid"]).await;
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stdout.contains("no request has the id or uuid \"no-such-uuid\""),
        "{stdout}"
    );
    assert!(n8n.received().is_empty());
}

#[tokio::test]
async fn all_queued_sends_each_queued_request_once_and_sums_up() {
    let (odoo, n8n, config) = setup(&[]).await;
    // More than one batch of 50.
    let queued: Vec<i64> = (0..51).map(|_| request(&odoo)).collect();
    let done = request(&odoo);
    odoo.update(REQUESTS, done, json!({ "status": "completed" }));
    let (output, stdout) = initiate(&config, &["--all-queued"]).await;
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 52, "{stdout}");
    for id in &queued {
        assert!(
            lines.contains(
                &format!("request {id}: sent to N8N (HTTP 202); status processing").as_str()
            ),
            "{stdout}"
        );
        assert_eq!(status(&odoo, *id), "processing");
    }
    assert_eq!(lines[51], "51 sent, 0 failed, 0 not sent");
    assert_eq!(n8n.received().len(), 51);

    let (output, stdout) = initiate(&config, &["--all-queued"]).await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout.trim(), "no queued requests");
}

#[tokio::test]
async fn all_queued_exits_1_when_one_failed() {
    let (odoo, n8n, config) = setup(&[("initiation", "attempts = 1")]).await;
    let first = request(&odoo);
    let second = request(&odoo);
    n8n.script([Reply::Status(500, "boom".into())]);
    let (output, stdout) = initiate(&config, &["--all-queued"]).await;
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("1 sent, 1 failed, 0 not sent"), "{stdout}");
    let statuses = [status(&odoo, first), status(&odoo, second)];
    assert!(
        statuses.contains(&"initiation_failed".to_owned()),
        "{statuses:?}"
    );
    assert!(statuses.contains(&"processing".to_owned()), "{statuses:?}");
}

#[tokio::test]
async fn the_command_explains_itself() {
    let (_odoo, _n8n, config) = setup(&[]).await;
    let (output, stdout) = initiate(&config, &["--help"]).await;
    assert!(output.status.success());
    for text in ["ID_OR_UUID", "--all-queued", "Exits 0 when sent"] {
        assert!(stdout.contains(text), "{text} missing:\n{stdout}");
    }
    let (output, _) = initiate(&config, &[]).await;
    assert_eq!(
        output.status.code(),
        Some(2),
        "a request or --all-queued is required"
    );
}
