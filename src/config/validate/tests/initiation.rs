//! `[initiation]`: each key's default, an override, and an invalid value
//! named by its key; the trigger secret by every source.

use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::{MINIMAL, load, load_env, ok, refused, with};
use crate::config::{Config, Environment, SendIdAs};

const SECRET: &str = "trigger-secret-0123456789abcdef";

#[test]
fn defaults() {
    let config = load(MINIMAL).unwrap().initiation;
    assert_eq!(config.send_id_as, SendIdAs::Id);
    assert!(config.trigger_secret.is_none());
    assert_eq!(config.trigger_visibility_timeout, Duration::from_secs(30));
    assert_eq!(config.max_pending_triggers, 256);
    assert_eq!(config.sweep_interval, Some(Duration::from_secs(60)));
    assert_eq!(config.sweep_grace, Duration::from_secs(30));
    assert_eq!(config.sweep_batch, 50);
    assert_eq!(config.max_concurrent, 4);
    assert_eq!(config.attempts, 3);
    assert_eq!(config.backoff.initial, Duration::from_secs(1));
    assert_eq!(config.backoff.max, Duration::from_secs(10));
    assert_eq!(config.parameter_cache_ttl, Duration::from_secs(60));
    assert_eq!(config.result_timeout, Duration::from_secs(3600));
}

#[test]
fn send_id_as() {
    assert_eq!(
        ok("initiation", "send_id_as = \"uuid\"")
            .initiation
            .send_id_as,
        SendIdAs::Uuid
    );
    assert_eq!(
        ok("initiation", "send_id_as = \"id\"")
            .initiation
            .send_id_as,
        SendIdAs::Id
    );
    refused(
        "initiation",
        "send_id_as = \"name\"",
        "initiation.send_id_as",
    );
}

#[test]
fn send_id_as_must_be_what_the_callback_lookup_accepts() {
    let text = with("initiation", "send_id_as = \"uuid\"").replace(
        "password = \"odoo-pw\"",
        "password = \"odoo-pw\"\nlookup = \"id\"",
    );
    let error = load(&text).unwrap_err().to_string();
    assert!(error.contains("initiation.send_id_as"), "{error}");
    assert!(error.contains("odoo.lookup"), "{error}");

    let text = with("initiation", "send_id_as = \"id\"").replace(
        "password = \"odoo-pw\"",
        "password = \"odoo-pw\"\nlookup = \"uuid\"",
    );
    let error = load(&text).unwrap_err().to_string();
    assert!(error.contains("initiation.send_id_as"), "{error}");
    assert!(error.contains("odoo.lookup"), "{error}");

    // Unset, it follows the lookup.
    let config = ok("odoo", "lookup = \"uuid\"");
    assert_eq!(config.initiation.send_id_as, SendIdAs::Uuid);
    let config = ok("odoo", "lookup = \"id\"");
    assert_eq!(config.initiation.send_id_as, SendIdAs::Id);
}

fn trigger_secret(config: &Config) -> Option<String> {
    config
        .initiation
        .trigger_secret
        .as_ref()
        .map(|s| s.expose_secret().to_owned())
}

#[test]
fn trigger_secret_by_every_source() {
    let config = ok("initiation", &format!("trigger_secret = \"{SECRET}\""));
    assert_eq!(trigger_secret(&config).as_deref(), Some(SECRET));

    let config = ok(
        "initiation",
        "trigger_secret = \"PLACEHOLDER_TRIGGER_SECRET\"",
    );
    assert_eq!(trigger_secret(&config), None);

    let env = Environment::from_pairs([(
        "INFLUENCE_GEN_BRIDGE_INITIATION_TRIGGER_SECRET",
        "from-env-0123456789abcdef",
    )]);
    let config = load_env(MINIMAL, &env).unwrap();
    assert_eq!(
        trigger_secret(&config).as_deref(),
        Some("from-env-0123456789abcdef")
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t"), format!("{SECRET}\n")).unwrap();
    let text = with("initiation", "trigger_secret_file = \"t\"");
    let config = Config::from_toml(
        &text,
        Path::new("t.toml"),
        dir.path(),
        &Environment::default(),
    )
    .unwrap();
    assert_eq!(trigger_secret(&config).as_deref(), Some(SECRET));

    std::fs::write(
        dir.path().join("initiation_trigger_secret"),
        "from-credential-0123456789",
    )
    .unwrap();
    let env = Environment::from_pairs([("CREDENTIALS_DIRECTORY", dir.path().to_str().unwrap())]);
    let config = load_env(MINIMAL, &env).unwrap();
    assert_eq!(
        trigger_secret(&config).as_deref(),
        Some("from-credential-0123456789")
    );

    refused(
        "initiation",
        "trigger_secret_file = \"/nonexistent/secret\"",
        "initiation.trigger_secret_file",
    );
}

#[test]
fn trigger_secret_must_be_long_and_url_safe_and_is_never_echoed() {
    for bad in [
        "short",
        "has/slash-0123456789abc",
        "has space 0123456789abc",
        "CHANGE-ME-SECRET",
    ] {
        let text = refused(
            "initiation",
            &format!("trigger_secret = \"{bad}\""),
            "initiation.trigger_secret",
        );
        assert!(!text.contains(bad), "the secret was echoed: {text}");
    }
    let text = refused(
        "initiation",
        "trigger_secret = \"CHANGE-ME-SECRET\"",
        "initiation.trigger_secret",
    );
    assert!(text.contains("placeholder"), "{text}");
}

#[test]
fn trigger_visibility_timeout() {
    assert_eq!(
        ok("initiation", "trigger_visibility_timeout = \"5s\"")
            .initiation
            .trigger_visibility_timeout,
        Duration::from_secs(5)
    );
    refused(
        "initiation",
        "trigger_visibility_timeout = \"0s\"",
        "initiation.trigger_visibility_timeout",
    );
}

#[test]
fn max_pending_triggers() {
    assert_eq!(
        ok("initiation", "max_pending_triggers = 8")
            .initiation
            .max_pending_triggers,
        8
    );
    refused(
        "initiation",
        "max_pending_triggers = 0",
        "initiation.max_pending_triggers",
    );
}

#[test]
fn sweep_interval() {
    assert_eq!(
        ok("initiation", "sweep_interval = \"5m\"")
            .initiation
            .sweep_interval,
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        ok("initiation", "sweep_interval = \"0s\"")
            .initiation
            .sweep_interval,
        None
    );
    refused(
        "initiation",
        "sweep_interval = \"often\"",
        "initiation.sweep_interval",
    );
    refused(
        "initiation",
        "sweep_interval = \"2days\"",
        "initiation.sweep_interval",
    );
}

#[test]
fn sweep_grace() {
    assert_eq!(
        ok("initiation", "sweep_grace = \"0s\"")
            .initiation
            .sweep_grace,
        Duration::ZERO
    );
    refused(
        "initiation",
        "sweep_grace = \"-1s\"",
        "initiation.sweep_grace",
    );
}

#[test]
fn sweep_batch() {
    assert_eq!(
        ok("initiation", "sweep_batch = 10").initiation.sweep_batch,
        10
    );
    refused("initiation", "sweep_batch = 0", "initiation.sweep_batch");
    refused("initiation", "sweep_batch = 5000", "initiation.sweep_batch");
}

#[test]
fn max_concurrent() {
    assert_eq!(
        ok("initiation", "max_concurrent = 1")
            .initiation
            .max_concurrent,
        1
    );
    refused(
        "initiation",
        "max_concurrent = 0",
        "initiation.max_concurrent",
    );
}

#[test]
fn attempts() {
    assert_eq!(ok("initiation", "attempts = 1").initiation.attempts, 1);
    refused("initiation", "attempts = 0", "initiation.attempts");
    refused("initiation", "attempts = 11", "initiation.attempts");
}

#[test]
fn retry_backoff_and_its_maximum() {
    let config = ok(
        "initiation",
        "retry_backoff = \"10ms\"\nretry_backoff_max = \"50ms\"",
    );
    assert_eq!(config.initiation.backoff.initial, Duration::from_millis(10));
    assert_eq!(config.initiation.backoff.max, Duration::from_millis(50));
    refused(
        "initiation",
        "retry_backoff = \"0s\"",
        "initiation.retry_backoff",
    );
    refused(
        "initiation",
        "retry_backoff_max = \"1h\"",
        "initiation.retry_backoff_max",
    );
    let text = refused(
        "initiation",
        "retry_backoff = \"5s\"\nretry_backoff_max = \"1s\"",
        "initiation.retry_backoff_max",
    );
    assert!(text.contains("initiation.retry_backoff "), "{text}");
}

#[test]
fn parameter_cache_ttl() {
    assert_eq!(
        ok("initiation", "parameter_cache_ttl = \"0s\"")
            .initiation
            .parameter_cache_ttl,
        Duration::ZERO
    );
    refused(
        "initiation",
        "parameter_cache_ttl = \"2h\"",
        "initiation.parameter_cache_ttl",
    );
}

#[test]
fn unknown_keys_in_initiation_are_refused() {
    refused("initiation", "sweep_intervall = \"1s\"", "sweep_intervall");
}

#[test]
fn result_timeout() {
    assert_eq!(
        ok("initiation", "result_timeout = \"15m\"")
            .initiation
            .result_timeout,
        Duration::from_secs(900)
    );
    refused(
        "initiation",
        "result_timeout = \"soon\"",
        "initiation.result_timeout",
    );
    refused(
        "initiation",
        "result_timeout = \"0s\"",
        "initiation.result_timeout",
    );
    refused(
        "initiation",
        "result_timeout = \"60days\"",
        "initiation.result_timeout",
    );
}

#[test]
fn result_timeout_must_outlast_the_longest_send() {
    // 3 attempts × 10 s (n8n.timeout) + 2 pauses × 10 s = 50 s.
    let error = load(&with("initiation", "result_timeout = \"50s\""))
        .unwrap_err()
        .to_string();
    assert!(error.contains("initiation.result_timeout"), "{error}");
    assert!(error.contains("longest send to N8N (50s"), "{error}");
    assert_eq!(
        ok("initiation", "result_timeout = \"51s\"")
            .initiation
            .result_timeout,
        Duration::from_secs(51)
    );
}
