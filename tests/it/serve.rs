//! `serve` as a child process: it listens, answers health checks, routes
//! unknown paths and methods correctly, logs as JSON without secrets, and
//! stops cleanly on SIGTERM.

use std::time::Duration;

use crate::support::bridge::BridgeProcess;
use crate::support::config::assert_no_secret;
use crate::support::odoo;

fn client() -> reqwest::Client {
    influence_gen_bridge::tls::install_crypto_provider();
    reqwest::Client::new()
}

#[tokio::test]
async fn healthz_answers_and_routes_are_strict() {
    let (_odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config).await;
    let http = client();

    let response = http.get(bridge.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );

    let response = http.post(bridge.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, HEAD");

    let response = http.get(bridge.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error");
}

#[tokio::test]
async fn logs_in_at_start_and_stops_on_sigterm_without_leaking_secrets() {
    let (odoo, config) = odoo().await;
    let mut bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("logged in to Odoo", Duration::from_secs(10))
        .await;
    assert!(crate::support::logins(&odoo) > 0, "no login reached Odoo");

    bridge.signal("TERM");
    let status = bridge
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the bridge did not stop on SIGTERM");
    assert!(status.success(), "exit status {status}");

    let text = bridge.log_text();
    assert!(text.contains("influence-gen-bridge stopped"), "{text}");
    for line in bridge.logs() {
        assert!(
            serde_json::from_str::<serde_json::Value>(&line).is_ok(),
            "not a JSON log line: {line}"
        );
    }
    assert_no_secret(&text, &config.secrets(), "serve logs");
}

#[tokio::test]
async fn keeps_serving_and_retries_while_odoo_refuses_the_login() {
    let (_odoo, config) = odoo().await;
    let config = crate::support::config::TestConfig {
        password: "test-wrong-password-3f9a".into(),
        ..config
    };
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("Odoo login failed; retrying", Duration::from_secs(10))
        .await;
    let response = client().get(bridge.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_no_secret(&bridge.log_text(), &config.secrets(), "serve logs");
}

/// Text logs written to a pipe (a file, a supervisor without a TTY) carry
/// no ANSI escape codes: colour is for terminals only.
#[tokio::test]
async fn text_logs_to_a_pipe_carry_no_colour_codes() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let (_odoo, config) = odoo().await;
    let file = crate::support::bridge::ConfigFile::write(&config);
    let mut child = Command::new(crate::support::bridge::BIN)
        .arg("--config")
        .arg(&file.path)
        .args(["--log-format", "text", "serve"])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the bridge");
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let done = line.contains("logged in to Odoo");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let lines = reader.join().unwrap();
    let text = lines.join("\n");
    assert!(text.contains("listening"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "ANSI escape codes in logs written to a pipe:\n{text:?}"
    );
}
