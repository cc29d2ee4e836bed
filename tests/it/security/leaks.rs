//! One daemon with every secret configured, logging at trace level, driven
//! through every scenario of this suite: good and bad tokens (in the header
//! and in the body), good, bad and copied signatures, a blocked download,
//! an endless body, a shutdown. Afterwards its output
//! holds each secret's fingerprint and none of the secrets.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::{
    CALLBACK, SIGNING_KEY_NEW, SIGNING_KEY_OLD, failure_body, now, signature_headers, signed_mode,
    start, token_header, url_body,
};
use crate::support::config::{API_KEY, CALLBACK_TOKEN, ODOO_PASSWORD, OUTBOUND_TOKEN};

#[tokio::test]
async fn no_secret_reaches_the_log_in_any_scenario() {
    let mut setup = start(|config| signed_mode(config, "either")).await;

    // Tokens: right and wrong, in the header and in the body.
    let request = setup.request();
    assert_eq!(
        setup
            .post(&failure_body(request), &[token_header()])
            .await
            .status,
        200
    );
    let wrong = ("x-n8n-webhook-token", format!("{CALLBACK_TOKEN}-wrong"));
    assert_eq!(
        setup.post(&failure_body(request), &[wrong]).await.status,
        401
    );
    let in_body = json!({
        "ai_generation_request_id": setup.request().to_string(),
        "security_token": CALLBACK_TOKEN,
        "result_payload": { "status": "failure", "error_data": { "message": "m" } }
    });
    assert_eq!(
        setup.post(in_body.to_string().as_bytes(), &[]).await.status,
        200
    );

    // Signatures: right, copied, wrong secret, old.
    let request = setup.request();
    let body = failure_body(request);
    let signed = signature_headers(SIGNING_KEY_OLD, "msg_leak", now(), &body);
    assert_eq!(setup.post(&body, &signed).await.status, 200);
    assert_eq!(setup.post(&body, &signed).await.status, 200);
    let stranger = signature_headers(
        "whsec_dW5rbm93bi1zaWduaW5nLWtleS1ub3QtY29uZmlndXJlZA==",
        "msg_x",
        now(),
        &body,
    );
    assert_eq!(setup.post(&body, &stranger).await.status, 401);
    let stale = signature_headers(SIGNING_KEY_NEW, "msg_y", now() - 3600, &body);
    assert_eq!(setup.post(&body, &stale).await.status, 401);

    // A blocked download (the URL carries a token-like query too).
    let request = setup.request();
    let url = format!("http://169.254.169.254/latest/?sig={CALLBACK_TOKEN}");
    assert_eq!(
        setup
            .post(&url_body(request, &url), &[token_header()])
            .await
            .status,
        422
    );

    // A body that never ends, with the token in its headers.
    let mut slow = TcpStream::connect(setup.bridge.address).await.unwrap();
    let head = format!(
        "POST {CALLBACK} HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n\
         X-N8N-Webhook-Token: {CALLBACK_TOKEN}\r\nContent-Length: 1000\r\n\r\n{{"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(slow);

    setup.bridge.signal("TERM");
    assert!(
        setup
            .bridge
            .wait_exit(Duration::from_secs(10))
            .await
            .is_some()
    );

    let text = setup.bridge.log_text();
    for secret in [ODOO_PASSWORD, API_KEY, CALLBACK_TOKEN, OUTBOUND_TOKEN] {
        assert!(!text.contains(secret), "a secret leaked into the log");
    }
    setup.assert_no_leak();

    // Each configured secret is announced by its fingerprint.
    let fingerprint = |value: &str| {
        influence_gen_bridge::config::fingerprint::fingerprint(&SecretString::from(value))
    };
    for (key, value) in [
        ("odoo.password", ODOO_PASSWORD),
        ("n8n.api_key", API_KEY),
        ("n8n.callback_token", CALLBACK_TOKEN),
        ("n8n.outbound_token", OUTBOUND_TOKEN),
        ("auth.signing_secrets[0]", SIGNING_KEY_OLD),
        ("auth.signing_secrets[1]", SIGNING_KEY_NEW),
    ] {
        let line = setup
            .bridge
            .logs()
            .into_iter()
            .find(|line| line.contains("secret configured") && line.contains(&format!("\"{key}\"")))
            .unwrap_or_else(|| panic!("no fingerprint line for {key}"));
        assert!(line.contains(&fingerprint(value)), "{line}");
    }
}
